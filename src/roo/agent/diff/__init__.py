"""Roo-Code's multi search/replace diff strategy (the engine of `apply_diff`). Pure: text in,
text out; no file access."""

from __future__ import annotations

from roo.agent.diff.markers import (
    Block,
    DiffFormatError,
    add_line_numbers,
    every_line_has_line_numbers,
    parse_blocks,
    strip_line_numbers,
    unescape_markers,
    validate_marker_sequencing,
)
from roo.agent.diff.similarity import levenshtein, normalize_string, similarity
from roo.agent.diff.strategy import BUFFER_LINES, DiffResult, FailedBlock, apply_diff

__all__ = [
    "BUFFER_LINES",
    "Block",
    "DiffFormatError",
    "DiffResult",
    "FailedBlock",
    "add_line_numbers",
    "apply_diff",
    "every_line_has_line_numbers",
    "levenshtein",
    "normalize_string",
    "parse_blocks",
    "similarity",
    "strip_line_numbers",
    "unescape_markers",
    "validate_marker_sequencing",
]
