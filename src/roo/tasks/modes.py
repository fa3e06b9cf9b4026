"""What a task takes from its workspace when it starts: the modes it can use (built-ins, the
session's, `.roomodes`) and the rules files of its mode (`roo.agent.rules`).

Both are read before the task is marked running, with no database connection held, so that
`task.started` can list the rules files (paths and sizes). A task whose workspace `.roomodes`
is invalid, or whose mode no longer exists, fails at once with a message naming the problem:
running it without the modes its author wrote could drop a file restriction.
"""

from __future__ import annotations

from dataclasses import dataclass

from roo.agent.rules import Rules, RulesLoader
from roo.sessions.modes import SessionModes
from roo.tasks.states import End


@dataclass(frozen=True, slots=True)
class WorkspaceSetup:
    modes: SessionModes
    loader: RulesLoader
    rules: dict[str, Rules]  # those read already: the task's mode's

    def problem(self, mode: str) -> End | None:
        """The failed end of a task in `mode` that cannot run here, or None."""
        error = self.modes.workspace_error
        if error is not None:
            return End(
                "failed",
                reason="invalid_modes",
                message=f"The workspace's .roomodes is invalid: {error}",
            )
        if mode not in self.modes.table:
            return End(
                "failed",
                reason="unknown_mode",
                message=f"Unknown mode {mode!r}; modes: {', '.join(self.modes.table)}",
            )
        return None
