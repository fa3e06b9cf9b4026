"""The modes a session's tasks can use: the built-ins, the session config's `modes`, and the
workspace's `.roomodes` (later ones win on a slug: `roo.agent.custom_modes.mode_table`).

The session config's modes were validated when the config was saved; `.roomodes` is read now
(the workspace changes under the service), through the path guard, in a thread. An invalid
`.roomodes` is reported, not skipped: `GET .../modes` shows the error, and a task cannot
start (or be created) until it is fixed, so a mode never runs without the restrictions its
author wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roo.agent.custom_modes import ModesError, mode_table, parse_definitions, read_roomodes
from roo.agent.modes import Mode
from roo.kit.errors import Unprocessable


class InvalidModes(Unprocessable):
    slug, title = "invalid-modes", "Invalid custom modes"


@dataclass(frozen=True, slots=True)
class SessionModes:
    """The table of usable modes, and the workspace file's error when it is invalid (its modes
    are then left out of `table`)."""

    table: dict[str, Mode]
    workspace_error: ModesError | None = None

    def check(self) -> None:
        """InvalidModes (422, the fields at fault in `errors`) when `.roomodes` is invalid."""
        if self.workspace_error is not None:
            raise InvalidModes(
                f"The workspace's .roomodes is invalid: {self.workspace_error}",
                errors=self.workspace_error.errors,
            )


async def session_modes(workspace: Path, config: Mapping[str, Any]) -> SessionModes:
    """The modes a task of the session with this workspace and config can use."""
    session = parse_definitions(config.get("modes") or [], "modes")
    try:
        workspace_modes = await asyncio.to_thread(read_roomodes, workspace)
    except ModesError as exc:
        return SessionModes(mode_table(session), exc)
    return SessionModes(mode_table(session, workspace_modes))
