"""A user's own credentials for an LLM provider: an API key (encrypted) and/or a base URL."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from roo.db.base import Base
from roo.db.types import UTCDateTime, new_id, utcnow


class ProviderCredential(Base):
    """One (user, provider) pair. The key is stored only as a Fernet token (roo.security.
    secrets_box); `key_hint` keeps its last characters so the user can tell keys apart."""

    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(50))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    base_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    key_hint: Mapped[str | None] = mapped_column(String(12), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
