"""A tool call's streamed output, as events: at most a budget of bytes per call, the rest counted.

The sandbox streams every chunk a command writes (and stops a runaway only at 50x its output
cap), while the model gets at most `maxOutputBytes`. Events are stored, so the stream that
becomes events is bounded here: once a call's budget is spent, further output is counted, not
emitted; the call's `end` event carries the counts (`outputBytes`, `outputDropped`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# What one stored event costs beyond its text (row, envelope, numbering), charged against the
# budget per event: many tiny writes cannot turn a small budget into thousands of rows.
EVENT_COST = 128


class BoundedOutput:
    """Forwards output chunks to `emit` until `budget` bytes (UTF-8, plus EVENT_COST for each
    event) are spent; None forwards everything."""

    def __init__(self, emit: Callable[[str], Awaitable[None]], budget: int | None) -> None:
        self._emit = emit
        self._budget = budget
        self._spent = 0
        self.total = 0
        """Bytes of output the call produced."""
        self.dropped = 0
        """Bytes of it that no event carries."""

    async def __call__(self, chunk: str) -> None:
        data = chunk.encode()
        self.total += len(data)
        if self._budget is not None:
            room = self._budget - self._spent - EVENT_COST
            if room < len(data):
                # Cut at a character boundary; what does not fit is only counted.
                chunk = data[: max(room, 0)].decode("utf-8", errors="ignore")
                kept = len(chunk.encode())
                self.dropped += len(data) - kept
                data = data[:kept]
            if not data:
                return
            self._spent += len(data) + EVENT_COST
        await self._emit(chunk)

    def counts(self) -> dict[str, Any]:
        """For the call's `end` event: empty when the call streamed nothing."""
        if not self.total:
            return {}
        return {"outputBytes": self.total, "outputDropped": self.dropped}
