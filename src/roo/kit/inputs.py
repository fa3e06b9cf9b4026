"""Input types with bounds, shared by every request schema and query parameter.

What a client sends is held to what the service can store and compute with, in the schema
itself (so the bounds show in the OpenAPI document) and never later in a database driver:

- `Offset`, `PageLimit`, `Seq`: integers within what every backend can bind (an offset past
  2^63 made SQLite and asyncpg raise OverflowError, a 500);
- `UtcDateTime`: an ISO 8601 date-time with its offset, between `EARLIEST` and `LATEST`,
  converted to UTC (a naive value made comparisons raise TypeError; `9999-12-31T23:59:59-23:59`
  overflowed on the way to UTC);
- `SafeText`: free text without NUL and without lone surrogates (PostgreSQL refuses NUL in text
  and JSON, no driver can encode a lone surrogate);
- `SafeName`: a one-line label (names, identifiers, emails): no control characters at all, and
  no bidirectional controls, which make a name display as something else
  (`invoice\u202egnp.exe` shows as `invoiceexe.png`).

`tests/security/test_bad_input.py` walks the OpenAPI document: every integer input has a
minimum and a maximum, every string input refuses NUL; a new route that forgets fails it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# Paging: an offset past a million rows is a full scan of them; filter instead.
MAX_OFFSET = 1_000_000
MAX_PAGE_LIMIT = 200
# Sequence numbers: the largest integer a JSON client holds exactly (2^53 - 1), well within the
# 64-bit integers of the database.
MAX_SEQ = 2**53 - 1

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Refuse:
    """Refuse strings containing any character `chars` matches, with `message`; document the
    rule in the JSON schema as `pattern` (an ECMA-262 character class)."""

    chars: re.Pattern[str]
    pattern: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema

    def _check(self, value: str) -> str:
        if self.chars.search(value):
            raise ValueError(self.message)
        return value


# Lone surrogates cannot be written as a JSON schema pattern (a UTF-16 pattern would also refuse
# every valid surrogate pair): they are refused, not documented.
_SURROGATES = "\ud800-\udfff"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_LINE_BREAKS = "\u2028\u2029"

NO_NUL = Refuse(
    re.compile(f"[\x00{_SURROGATES}]"),
    r"^[^\u0000]*$",
    "must not contain NUL characters or unpaired surrogates",
)
NO_CONTROLS = Refuse(
    re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_LINE_BREAKS}{_SURROGATES}]"),
    r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]*$",
    "must not contain control characters, line breaks or bidirectional controls",
)

SafeText = Annotated[str, NO_NUL]
"""Free text (may span lines): no NUL, no lone surrogates. With constraints, put the marker
last so it checks the stripped value: `Annotated[str, StringConstraints(...), NO_NUL]`."""

SafeName = Annotated[str, NO_CONTROLS]
"""A one-line label: no control characters, line separators or bidirectional controls. With
constraints: `Annotated[str, StringConstraints(...), NO_CONTROLS]`."""


def _to_utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}"
        ) from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value


@dataclass(frozen=True, slots=True)
class _UtcBounds:
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_to_utc, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["formatMinimum"] = EARLIEST.isoformat().replace("+00:00", "Z")
        json_schema["formatMaximum"] = LATEST.isoformat().replace("+00:00", "Z")
        return json_schema


UtcDateTime = Annotated[AwareDatetime, _UtcBounds()]
"""An ISO 8601 date-time with an offset (`Z` or `+02:00`), within [EARLIEST, LATEST], in UTC."""

Offset = Annotated[
    int, Field(ge=0, le=MAX_OFFSET, description=f"Items to skip (at most {MAX_OFFSET})")
]
PageLimit = Annotated[
    int, Field(ge=1, le=MAX_PAGE_LIMIT, description=f"Items to return (at most {MAX_PAGE_LIMIT})")
]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
"""A sequence number (events): 0 to 2^53 - 1."""
