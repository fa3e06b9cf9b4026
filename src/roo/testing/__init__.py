"""Test helpers shipped with roo, usable in your own client tests.

`roo.testing.fake_llm` is a scripted fake LLM server speaking the Anthropic Messages and OpenAI
Chat Completions protocols on loopback. Its names are re-exported here (imported on first use, so
`python -m roo.testing.fake_llm` does not import the module twice).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roo.testing.fake_llm import (
        Disconnect,
        Failure,
        FakeLLM,
        Hang,
        RecordedRequest,
        Reply,
        ScriptItem,
        ToolCall,
        Usage,
        item_from_json,
        item_to_json,
    )

__all__ = [
    "Disconnect",
    "Failure",
    "FakeLLM",
    "Hang",
    "RecordedRequest",
    "Reply",
    "ScriptItem",
    "ToolCall",
    "Usage",
    "item_from_json",
    "item_to_json",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("roo.testing.fake_llm"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
