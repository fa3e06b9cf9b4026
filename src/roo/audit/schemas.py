"""What the audit routes answer: rows as recorded (no secret is ever recorded: the writers keep
secrets and file contents out of `detail`) and the chain's verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from roo.kit.schema import ApiModel


class AuditEventOut(ApiModel):
    id: uuid.UUID
    at: datetime
    action: str = Field(description="What was done, e.g. `auth.login`, `files.write`")
    actor_id: uuid.UUID | None = Field(description="The user who acted (none: anonymous)")
    target: str | None = Field(description="What it was done to, `kind:id`")
    outcome: str = Field(description="`success`, `failure`, `denied`...")
    session_id: uuid.UUID | None = Field(description="The session it concerns, if any")
    ip: str | None = Field(description="The client's address")
    credential: str | None = Field(
        None, description="The API key acted with: its public prefix (none: an access token)"
    )
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any] = Field(description="Action-specific facts; never a secret")
    chain_seq: int | None = Field(
        description="Its position in the hash chain (none: not sealed yet, within a second)"
    )
    hash: str | None = Field(description="SHA-256 of the row and the previous row's hash")


class ChainVerifyOut(ApiModel):
    ok: bool = Field(description="Every position from the anchor to the head holds")
    checked: int = Field(description="Rows checked")
    first_seq: int = Field(description="The first position kept (after a retention cut: > 1)")
    last_seq: int = Field(description="The chain head's last position")
    last_hash: str = Field(description="The chain head's hash")
    unsealed: int = Field(description="Rows written but not sealed yet")
    bad_seq: int | None = Field(None, description="The first position that does not hold")
    problem: str | None = Field(None, description="What is wrong there")
