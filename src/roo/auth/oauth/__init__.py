"""Sign-in with OAuth 2 / OpenID Connect providers: Google, GitHub and one generic OIDC issuer.

The protocol work is Authlib's (`AsyncOAuth2Client`: authorization URL with PKCE S256, the code
exchange, bearer-authenticated API calls); ID tokens are verified with joserfc against the
issuer's JWKS. What is ours:

* the pending login: `state` (random, single use, 10 minutes), the PKCE verifier and the OIDC
  `nonce` are kept server-side in the app cache under `oauth:state:<sha256(state)>`, and bound to
  the browser that started the flow by an HttpOnly, SameSite=Lax cookie whose SHA-256 the entry
  holds: a callback from another browser, an unknown, expired or replayed state is refused;
* ID token checks: signature (asymmetric algorithms only, key looked up by `kid` in the
  discovered JWKS), `iss`, `aud` (and `azp`), `exp`, `iat`, `nonce`;
* account linking: the account key is (provider, subject) in `user_identities`; a first sign-in
  links to an existing account with the same email only when the provider vouches for that email
  (see `ExternalIdentity.can_link`), and never takes over an account otherwise.

Discovery documents and JWKS are fetched on first use (never at import or start-up) with the
app's shared HTTP client and kept in process memory for an hour; an unknown `kid` refetches the
JWKS at most once a minute (key rotation).

The package: `config` (settings, provider specs), `steps` (the pending login, the identity, the
completed sign-in), `oidc` (discovery, JWKS, ID token checks), `accounts` (find, link or create
the user), `service` (`OAuthService`, the two steps), `errors`.
"""

from __future__ import annotations

from roo.auth.oauth.config import API_BASE, MAX_NEXT_LENGTH, OAuthConfig, ProviderSpec
from roo.auth.oauth.errors import (
    AccountDisabled,
    AccountExists,
    EmailNotVerified,
    OAuthFailed,
    ProviderDenied,
    ProviderNotFound,
    ProviderUnavailable,
)
from roo.auth.oauth.oidc import OIDCClient
from roo.auth.oauth.service import OAuthService, fragment_redirect
from roo.auth.oauth.steps import (
    Authorization,
    ExternalIdentity,
    OAuthLogin,
    PendingLogin,
    binding_cookie_name,
    check_next,
    state_key,
)

__all__ = [
    "API_BASE",
    "MAX_NEXT_LENGTH",
    "AccountDisabled",
    "AccountExists",
    "Authorization",
    "EmailNotVerified",
    "ExternalIdentity",
    "OAuthConfig",
    "OAuthFailed",
    "OAuthLogin",
    "OAuthService",
    "OIDCClient",
    "PendingLogin",
    "ProviderDenied",
    "ProviderNotFound",
    "ProviderSpec",
    "ProviderUnavailable",
    "binding_cookie_name",
    "check_next",
    "fragment_redirect",
    "state_key",
]
