"""`/api/v1/auth/*` and `/api/v1/users/*`: routes only; the logic is in `roo.auth.service`."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import Request, status
from starlette.responses import Response

from roo.api.deps import DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import Auth, Client, CurrentPrincipal, public, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission, permission_names
from roo.auth.schemas import (
    ApiKeyCreatedOut,
    ApiKeyCreateIn,
    ApiKeyOut,
    LoginIn,
    PasswordChangeIn,
    ProfileUpdateIn,
    RefreshIn,
    RegisterIn,
    RegistrationOut,
    TokenPairOut,
    UserAdminUpdateIn,
    UserOut,
    WhoAmIOut,
)
from roo.auth.service import TokenPair
from roo.kit.inputs import Offset, PageLimit
from roo.kit.schema import Page

router = api_router("/auth", tags=["auth"])
users_router = api_router("/users", tags=["users"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, expired or revoked credentials"}
}


def pair_out(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        token=pair.access.token,
        refresh_token=pair.refresh_token,
        expires_in=max(pair.access.expires_at - int(time.time()), 0),
        refresh_expires_in=pair.refresh_expires_in,
        user=UserOut.model_validate(pair.user),
    )


@router.post(
    "/login",
    summary="Sign in with email and password",
    responses={**UNAUTHORIZED, 429: {"description": "Too many failed attempts (Retry-After)"}},
)
@public
async def login(body: LoginIn, db: DbSession, auth: Auth, client: Client) -> TokenPairOut:
    return pair_out(await auth.login(db, body.email, body.password, client))


@router.post(
    "/register",
    summary="Create an account (when self-registration is open); then sign in",
    description="Answers 202 with the same body whether the address was free (the account is "
    "created) or already registered (nothing changes), so it does not tell which. Attempts are "
    "limited per client address (ROO_REGISTER_MAX_PER_IP per ROO_REGISTER_WINDOW).",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        403: {"description": "Registration is closed"},
        429: {"description": "Too many registrations from this address (Retry-After)"},
    },
)
@public
async def register(body: RegisterIn, db: DbSession, auth: Auth, client: Client) -> RegistrationOut:
    await auth.register(db, body.email, body.password, body.display_name, client)
    return RegistrationOut()


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new token pair (one use per refresh token)",
    responses=UNAUTHORIZED,
)
@public
async def refresh(body: RefreshIn, db: DbSession, auth: Auth, client: Client) -> TokenPairOut:
    return pair_out(await auth.refresh(db, body.refresh_token, client))


@router.post(
    "/logout",
    summary="Revoke this sign-in: the refresh family and the current access token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=UNAUTHORIZED,
)
async def logout(
    principal: CurrentPrincipal, db: DbSession, auth: Auth, client: Client
) -> Response:
    await auth.logout(db, principal, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/profile", summary="The signed-in user", responses=UNAUTHORIZED)
async def get_profile(
    request: Request, principal: Annotated[Principal, require(Permission.PROFILE_READ)], auth: Auth
) -> UserOut:
    return UserOut.model_validate(
        await auth.profile(get_resources(request).reads, principal.user_id)
    )


@router.get(
    "/whoami",
    summary="Who the credential belongs to, and what it may do (from the identity cache)",
    responses=UNAUTHORIZED,
)
async def whoami(principal: Annotated[Principal, require(Permission.PROFILE_READ)]) -> WhoAmIOut:
    # Built without validation: every value comes typed from the resolved identity.
    return WhoAmIOut.model_construct(
        user_id=principal.user_id,
        email=principal.email,
        roles=list(principal.roles),
        permissions=list(permission_names(principal.permissions)),
        via=principal.via,
        api_key_id=principal.api_key_id,
    )


@router.put(
    "/profile",
    summary="Update display name and preferences (email, roles, provider are not editable here)",
    responses=UNAUTHORIZED,
)
async def update_profile(
    body: ProfileUpdateIn,
    principal: Annotated[Principal, require(Permission.PROFILE_WRITE)],
    db: DbSession,
    auth: Auth,
) -> UserOut:
    prefs = body.preferences.model_dump(by_alias=True) if body.preferences is not None else None
    user = await auth.update_profile(db, principal, body.display_name, prefs)
    return UserOut.model_validate(user)


@router.put(
    "/password",
    summary="Change the password; every sign-in of the account ends, and its API keys are "
    "revoked unless revokeApiKeys is false",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=UNAUTHORIZED,
)
async def change_password(
    body: PasswordChangeIn,
    principal: Annotated[Principal, require(Permission.PROFILE_WRITE)],
    db: DbSession,
    auth: Auth,
    client: Client,
) -> Response:
    await auth.change_password(
        db,
        principal,
        body.current_password,
        body.new_password,
        client,
        revoke_api_keys=body.revoke_api_keys,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-keys",
    summary="Create an API key; the secret is in this response only",
    status_code=status.HTTP_201_CREATED,
    responses={
        **UNAUTHORIZED,
        409: {"description": "You hold ROO_API_KEYS_MAX_PER_USER live keys already"},
    },
)
async def create_api_key(
    body: ApiKeyCreateIn,
    principal: Annotated[Principal, require(Permission.APIKEYS_MANAGE)],
    db: DbSession,
    auth: Auth,
    client: Client,
) -> ApiKeyCreatedOut:
    key, raw = await auth.api_keys.create(
        db, principal, body.name, body.scopes, body.expires_at, client
    )
    return ApiKeyCreatedOut.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": raw}
    )


@router.get("/api-keys", summary="Your API keys (never their secrets)", responses=UNAUTHORIZED)
async def list_api_keys(
    principal: Annotated[Principal, require(Permission.APIKEYS_MANAGE)], db: DbSession, auth: Auth
) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in await auth.api_keys.list(db, principal)]


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke an API key",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, 404: {"description": "No such key of yours"}},
)
async def revoke_api_key(
    key_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.APIKEYS_MANAGE)],
    db: DbSession,
    auth: Auth,
    client: Client,
) -> Response:
    await auth.api_keys.revoke(db, principal, key_id, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get("", summary="List users (admin)", responses=UNAUTHORIZED)
async def list_users(
    _: Annotated[Principal, require(Permission.USERS_ADMIN)],
    db: DbSession,
    auth: Auth,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[UserOut]:
    rows, total = await auth.list_users(db, limit, offset)
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in rows], total=total, limit=limit, offset=offset
    )


@users_router.patch(
    "/{user_id}",
    summary="Change a user's roles, disabled flag or display name (admin)",
    responses={**UNAUTHORIZED, 404: {"description": "No such user"}},
)
async def update_user(
    user_id: uuid.UUID,
    body: UserAdminUpdateIn,
    admin: Annotated[Principal, require(Permission.USERS_ADMIN)],
    db: DbSession,
    auth: Auth,
    client: Client,
) -> UserOut:
    user = await auth.admin_update_user(
        db, admin, user_id, body.roles, body.disabled, body.display_name, client
    )
    return UserOut.model_validate(user)


@users_router.delete(
    "/{user_id}/sign-in-failures",
    summary="Forget a user's failed sign-ins from every address (admin; `roo user unlock`)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, 404: {"description": "No such user"}},
)
async def clear_sign_in_failures(
    user_id: uuid.UUID,
    admin: Annotated[Principal, require(Permission.USERS_ADMIN)],
    db: DbSession,
    auth: Auth,
    client: Client,
) -> Response:
    user = await auth.get_user(db, user_id)
    await auth.clear_sign_in_failures(
        db, email=user.email, address=None, actor_id=admin.user_id, client=client, via="api"
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
