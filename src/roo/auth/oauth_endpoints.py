"""`/api/v1/auth/oauth/*`: sign-in with Google, GitHub or an OpenID Connect issuer.

Routes only; the protocol and the account rules are in `roo.auth.oauth`, set up in docs/oauth.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from roo.api.deps import DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, public
from roo.auth.endpoints import pair_out
from roo.auth.oauth import (
    MAX_NEXT_LENGTH,
    OAuthConfig,
    OAuthService,
    binding_cookie_name,
    fragment_redirect,
)
from roo.auth.schemas import OAuthProviderOut, OAuthProvidersOut, TokenPairOut
from roo.kit.inputs import SafeName

router = api_router("/auth/oauth", tags=["auth"])

# The query parameters of an authorization response that the callback reads (RFC 6749 4.1.2,
# RFC 9207 for `iss`); anything else a provider appends is ignored.
CALLBACK_PARAMS = ("code", "state", "error", "error_description", "iss")
MAX_PARAM_LENGTH = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown provider, or one this server has not configured"}
}


async def get_oauth(request: Request) -> OAuthService:
    """The app's OAuth service, built on first use from the settings (or from
    `app.state.oauth_config` when a test or an embedding application put one there)."""
    resources = get_resources(request)
    service: OAuthService | None = getattr(request.app.state, "oauth", None)
    # A new lifespan (tests start one app several times) brings new clients: build anew.
    if service is None or service.http is not resources.http:
        config: OAuthConfig | None = getattr(request.app.state, "oauth_config", None)
        service = OAuthService(
            config or OAuthConfig.from_settings(resources.settings),
            resources.http,
            resources.cache,
            resources.auth,
        )
        request.app.state.oauth = service
    return service


OAuth = Annotated[OAuthService, Depends(get_oauth)]


@router.get(
    "/providers",
    summary="The sign-in providers this server has configured (none: password sign-in only)",
)
@public
async def providers(oauth: OAuth) -> OAuthProvidersOut:
    return OAuthProvidersOut(
        providers=[
            OAuthProviderOut(name=spec.name, display_name=spec.display_name)
            for spec in sorted(oauth.config.providers().values(), key=lambda spec: spec.name)
        ]
    )


@router.get(
    "/{provider}/authorize",
    summary="Start signing in with a provider (redirects the browser to it)",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the provider's sign-in page; sets the browser-binding cookie"},
        400: {"description": "`next` is not a path on this site"},
        **_NOT_FOUND,
        502: {"description": "The provider's discovery document could not be read"},
    },
)
@public
async def authorize(
    provider: SafeName,
    oauth: OAuth,
    response: Annotated[
        Literal["redirect", "json"],
        Query(description="`json`: the callback answers with the token pair as JSON"),
    ] = "redirect",
    next_path: Annotated[
        SafeName | None,
        Query(
            alias="next",
            max_length=MAX_NEXT_LENGTH,
            description="A path on this site for the front end to open after signing in",
        ),
    ] = None,
) -> Response:
    start = await oauth.begin(provider, response=response, next_path=next_path)
    redirect = RedirectResponse(start.url, status_code=302, headers=NO_STORE)
    redirect.set_cookie(
        start.cookie_name,
        start.cookie_value,
        max_age=start.cookie_max_age,
        path=start.cookie_path,
        secure=start.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return redirect


@router.get(
    "/{provider}/callback",
    summary="Where the provider sends the browser back: signs in and issues a token pair",
    response_model=TokenPairOut,
    responses={
        200: {"description": "The token pair, as `POST /auth/login` answers"},
        302: {
            "description": "With ROO_OAUTH_FRONTEND_REDIRECT: to the front end, the tokens in "
            "the URL fragment (`#token=...&refreshToken=...&expiresIn=...`)"
        },
        400: {
            "description": "The provider's error, or an unknown, expired, replayed or foreign "
            "state, or a refused code or ID token"
        },
        403: {"description": "No verified email, registration closed, or account disabled"},
        **_NOT_FOUND,
        409: {"description": "An account with this email exists: sign in to it first"},
        502: {"description": "The provider could not be reached or answered nonsense"},
    },
)
@public
async def callback(
    provider: SafeName, request: Request, db: DbSession, oauth: OAuth, client: Client
) -> Response:
    params = {
        key: value[:MAX_PARAM_LENGTH]
        for key in CALLBACK_PARAMS
        if (value := request.query_params.get(key)) is not None
    }
    login = await oauth.finish(db, provider, params=params, cookies=request.cookies, client=client)
    body = pair_out(login.pair)
    frontend = oauth.config.oauth_frontend_redirect
    reply: Response
    if frontend and login.response == "redirect":
        url = fragment_redirect(frontend, login, body.expires_in)
        reply = RedirectResponse(url, status_code=302, headers=NO_STORE)
    else:
        reply = JSONResponse(body.model_dump(mode="json"), headers=NO_STORE)
    reply.delete_cookie(
        binding_cookie_name(params["state"]),
        path=oauth.config.cookie_path(provider),
        secure=oauth.config.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return reply
