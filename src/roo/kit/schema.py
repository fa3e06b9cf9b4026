"""Base classes for API schemas: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Response and shared models: camelCase JSON, built from attributes (ORM rows) too."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        serialize_by_alias=True,
    )


class ApiInput(ApiModel):
    """Request bodies: unknown fields are an error (422), never silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    """One page of a list: `items`, the `total` matching, and the window asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int
