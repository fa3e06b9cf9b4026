"""What the processes of a deployment tell each other about the MCP servers they run (a shared
board with a bounded lifetime, `roo.mcp.board`): on PostgreSQL without Redis, one row an entry.
Never a secret: the states carry what `GET .../mcp` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from roo.db.base import Base
from roo.db.types import UTCDateTime


class McpBoardEntry(Base):
    __tablename__ = "mcp_board"
    __table_args__ = (Index("ix_mcp_board_expires_at", "expires_at"),)

    # `state` (scope: the session, name: the process), `request` (scope: the process asked,
    # name: the request), `answer` (scope: the process that asked, name: the request)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
