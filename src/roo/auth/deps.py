"""Authentication and authorisation dependencies: every route declares one.

    principal: Annotated[Principal, require(Permission.SESSIONS_READ)]   # a permission
    principal: CurrentPrincipal                                          # any signed-in caller
    @public  (under the route decorator)                                 # deliberately open

The permission walk test fails on a route that declares none of these.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from roo.api.deps import get_resources, public
from roo.auth.exceptions import InvalidCredential, NotAuthenticated, PermissionDenied
from roo.auth.identity import AuthenticationFailed, Principal
from roo.auth.permissions import Permission
from roo.auth.service import AuthService
from roo.auth.tokens import API_KEY_PREFIX
from roo.kit.logs import get_logger
from roo.kit.request_context import bind_credential
from roo.security.audit import ClientInfo

log = get_logger("roo.auth")


async def get_auth(request: Request) -> AuthService:
    return get_resources(request).auth


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent"),
    )


def request_credential(request: Request) -> str | None:
    """The request's credential: its bearer token, else its `X-API-Key` (None without either;
    InvalidCredential for an `Authorization` header that is not `Bearer <token>`)."""
    # One pass over the raw header list (cheaper than building starlette's Headers per request).
    authorization: str | None = None
    api_key: str | None = None
    for name, value in request.scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise InvalidCredential("Authorization must be 'Bearer <token>'")
        return credential.strip()
    return api_key.strip() if api_key else None


PRINCIPAL_SCOPE_KEY = "roo.principal"


class Authorize:
    """Resolve the caller (access token or API key) and check one permission, or none."""

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        # Resolved once per request, however many dependencies ask (kept in the scope: reading
        # a missing attribute of `request.state` costs an exception).
        principal: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
        if principal is None:
            principal = await self._resolve(request)
            request.scope[PRINCIPAL_SCOPE_KEY] = principal
        if principal.key_prefix is not None:  # the credential field of the audit rows
            bind_credential(principal.key_prefix)
        if self.permission is not None and not principal.can(self.permission):
            raise PermissionDenied(self.permission.value)
        return principal

    async def _resolve(self, request: Request) -> Principal:
        credential = request_credential(request)
        if credential is None:
            raise NotAuthenticated()
        resolver = get_resources(request).auth.resolver
        try:
            if credential.startswith(API_KEY_PREFIX):
                return await resolver.from_api_key(credential)
            return await resolver.from_access_token(credential)
        except AuthenticationFailed as failure:
            log.info("auth.rejected", reason=failure.reason)
            raise InvalidCredential() from None


def require(permission: Permission) -> Any:
    """`Annotated[Principal, require(Permission.X)]`: the caller, holding permission X."""
    return Depends(Authorize(permission))


__all__ = ["Auth", "Authorize", "Client", "CurrentPrincipal", "public", "require"]

CurrentPrincipal = Annotated[Principal, Depends(Authorize(None))]
Auth = Annotated[AuthService, Depends(get_auth)]
Client = Annotated[ClientInfo, Depends(client_info)]
