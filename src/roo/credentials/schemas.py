"""Request and response bodies of `/api/v1/auth/providers`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from roo.credentials.service import (
    MAX_API_KEY_LENGTH,
    MAX_BASE_URL_LENGTH,
    check_api_key,
    check_base_url,
)
from roo.kit.schema import ApiInput, ApiModel

ProviderApiKey = Annotated[
    str,
    Field(
        description="Your API key for this provider: 1 to 500 printable ASCII characters, no "
        "whitespace. Stored encrypted, never shown again.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_API_KEY_LENGTH, "writeOnly": True},
    ),
    AfterValidator(check_api_key),
]
BaseUrl = Annotated[
    str,
    Field(
        description="An http(s) URL to call instead of the provider's own (a proxy, a compatible "
        "server); no user:password@, query or fragment.",
        json_schema_extra={"maxLength": MAX_BASE_URL_LENGTH, "format": "uri"},
    ),
    AfterValidator(check_base_url),
]


class ProviderCredentialIn(ApiInput):
    """Send at least one field. A field left out keeps its stored value; `null` clears it."""

    api_key: ProviderApiKey | None = None
    base_url: BaseUrl | None = None

    @model_validator(mode="after")
    def _something_to_store(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send apiKey, baseUrl or both")
        return self


class ProviderCredentialOut(ApiModel):
    """Your stored credentials for one provider: never the key itself."""

    provider: str
    base_url: str | None
    has_api_key: bool
    key_hint: str | None = Field(description="The key's last four characters, e.g. `…abcd`")
    created_at: datetime
    updated_at: datetime
