"""`/api/v1/auth/providers`: a user's own LLM provider credentials (API key, base URL).

They are the caller's own settings, like the profile: reading needs `profile:read`, changing
needs `profile:write` (every role has both; an API key needs the scope).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, status
from starlette.responses import Response

from roo.api.deps import DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.credentials.schemas import ProviderCredentialIn, ProviderCredentialOut
from roo.credentials.service import KEEP, PROVIDERS, CredentialNotFound, CredentialStore

router = api_router("/auth/providers", tags=["provider credentials"])


async def get_store(request: Request) -> CredentialStore:
    return get_resources(request).credentials


Store = Annotated[CredentialStore, Depends(get_store)]

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, expired or revoked credentials"}
}
UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"description": f"Unknown provider (known: {', '.join(PROVIDERS)})"}
}


@router.get(
    "",
    summary="Your provider credentials (never the keys)",
    responses=UNAUTHORIZED,
)
async def list_credentials(
    principal: Annotated[Principal, require(Permission.PROFILE_READ)], db: DbSession, store: Store
) -> list[ProviderCredentialOut]:
    return [
        ProviderCredentialOut.model_validate(view)
        for view in await store.list(db, principal.user_id)
    ]


@router.put(
    "/{provider}",
    summary="Store your API key and/or base URL for a provider (encrypted at rest)",
    responses={**UNAUTHORIZED, **UNKNOWN},
)
async def put_credential(
    provider: str,
    body: ProviderCredentialIn,
    principal: Annotated[Principal, require(Permission.PROFILE_WRITE)],
    db: DbSession,
    store: Store,
    client: Client,
) -> ProviderCredentialOut:
    sent = body.model_fields_set
    view = await store.put(
        db,
        principal.user_id,
        provider,
        api_key=body.api_key if "api_key" in sent else KEEP,
        base_url=body.base_url if "base_url" in sent else KEEP,
        client=client,
    )
    return ProviderCredentialOut.model_validate(view)


@router.delete(
    "/{provider}",
    summary="Forget your credentials for a provider",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, 404: {"description": "Unknown provider, or nothing stored"}},
)
async def delete_credential(
    provider: str,
    principal: Annotated[Principal, require(Permission.PROFILE_WRITE)],
    db: DbSession,
    store: Store,
    client: Client,
) -> Response:
    if not await store.delete(db, principal.user_id, provider, client=client):
        raise CredentialNotFound(f"You have no credentials stored for {provider!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
