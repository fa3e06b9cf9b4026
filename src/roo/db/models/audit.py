"""The audit trail of security-relevant actions (append-only, hash-chained).

A request inserts its row unsealed (`chain_seq`, `prev_hash` and `hash` empty) and takes no lock
for it; the sealer (`roo.security.audit_chain`) later gives each unsealed row, in insertion
order, the next position of the chain and the hashes that link it to the row before.
`AuditChain` is the chain's head (one row): the last position and hash sealed, and the anchor a
retention cut left (the position and hash the kept rows continue from).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from roo.db.base import Base
from roo.db.types import UTCDateTime, new_id, utcnow

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the chain's first row (SHA-256 hex digests are 64 characters)."""


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The session the action concerns, when it concerns one (filter of the read routes).
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    # The credential acted with: an API key's public prefix (none for an access token).
    credential: Mapped[str | None] = mapped_column(String(32), default=None)
    # Set once by the sealer, never by a request: the position in the chain (1, 2, ...,
    # gap-free), the previous row's hash and this row's.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, default=None, unique=True, index=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (
        # What the sealer asks for every second: the unsealed rows in insertion order. Partial,
        # so it holds only the few rows not yet sealed.
        Index(
            "ix_audit_events_unsealed",
            "at",
            "id",
            postgresql_where=chain_seq.is_(None),
            sqlite_where=chain_seq.is_(None),
        ),
    )


class AuditChain(Base):
    """The head of the chain: one row (`id` 1), updated in the sealer's transaction."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    # A retention cut deletes positions 1..anchor_seq; the kept rows continue from anchor_hash.
    anchor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
