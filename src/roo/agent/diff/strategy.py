"""Roo's multi search/replace strategy: apply SEARCH/REPLACE blocks to a text.

Each block is located near its `:start_line:` hint (the exact position first, then a window of
`buffer_lines` around it searched middle-out; the whole file without a hint), compared after
normalisation with Levenshtein similarity against `fuzzy_threshold`, and replaced with its
indentation re-based on the matched lines. Blocks are independent: those that match are applied,
the others are reported one by one in `fail_parts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roo.agent.diff.markers import (
    Block,
    DiffFormatError,
    add_line_numbers,
    every_line_has_line_numbers,
    parse_blocks,
    split_lines,
    strip_line_numbers,
    unescape_markers,
)
from roo.agent.diff.similarity import similarity

BUFFER_LINES = 40
_INDENT = re.compile(r"^[\t ]*")

IDENTICAL = (
    "Search and replace content are identical - no changes would be made\n\n"
    "Debug Info:\n"
    "- Search and replace must be different to make changes\n"
    "- Use read_file to verify the content you want to change"
)
EMPTY_SEARCH = (
    "Empty search content is not allowed\n\n"
    "Debug Info:\n"
    "- Search content cannot be empty\n"
    "- For insertions, provide a specific line using :start_line: and include content to "
    "search for\n"
    "- For example, match a single line to insert before/after it"
)


@dataclass(frozen=True, slots=True)
class FailedBlock:
    """A block that could not be applied: its position in the diff (0-based) and Roo's text."""

    index: int
    start_line: int
    error: str


@dataclass(frozen=True, slots=True)
class DiffResult:
    """`success`: at least one block applied (then `content` is the new text). `error`: the diff
    as a whole was unusable. `fail_parts`: the blocks that did not apply."""

    success: bool
    content: str | None = None
    error: str | None = None
    fail_parts: tuple[FailedBlock, ...] = ()
    applied: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class _Match:
    index: int
    score: float
    content: str


def _fuzzy_search(lines: list[str], chunk: str, start: int, end: int) -> _Match:
    """Middle-out from the window's midpoint, left candidate first; only a strictly better
    score replaces the best, so the candidate nearest the middle wins ties."""
    search_len = len(split_lines(chunk))
    best = _Match(-1, 0.0, "")
    left = (start + end) // 2
    right = left + 1
    while left >= start or right <= end - search_len:
        for index in (left, right):
            if (index == left and left < start) or (index == right and right > end - search_len):
                continue
            candidate = "\n".join(lines[index : index + search_len])
            score = similarity(candidate, chunk, beat=best.score)
            if score > best.score:
                best = _Match(index, score, candidate)
                if score >= 1.0:  # cannot be beaten
                    return best
        left -= 1
        right += 1
    return best


def _indent(line: str) -> str:
    match = _INDENT.match(line)
    return match.group(0) if match else ""


def _reindent(replace_lines: list[str], search_lines: list[str], matched: list[str]) -> list[str]:
    """Re-base each REPLACE line's indentation on the first matched line, keeping its indent
    relative to the first SEARCH line (tabs or spaces come from the file)."""
    matched_indent = _indent(matched[0]) if matched else ""
    base = len(_indent(search_lines[0])) if search_lines else 0
    result = []
    for line in replace_lines:
        current = _indent(line)
        relative = len(current) - base
        if relative < 0:
            indent = matched_indent[: max(0, len(matched_indent) + relative)]
        else:
            indent = matched_indent + current[base:]
        result.append(indent + line.strip())
    return result


def _no_match_error(
    lines: list[str],
    chunk: str,
    best: _Match,
    start_line: int,
    end_line: int,
    threshold: float,
    buffer_lines: int,
) -> str:
    percent = int(best.score * 100)
    needed = int(threshold * 100)
    at = f" at line: {start_line}" if start_line else ""
    search_range = f"starting at line {start_line}" if start_line else "start to end"
    best_section = add_line_numbers(best.content, best.index + 1) if best.content else "(no match)"
    first = max(0, start_line - 1 - buffer_lines)
    last = min(len(lines), end_line + buffer_lines)
    original = add_line_numbers("\n".join(lines[first:last]), max(1, start_line - buffer_lines))
    return (
        f"No sufficiently similar match found{at} ({percent}% similar, needs {needed}%)\n\n"
        "Debug Info:\n"
        f"- Similarity Score: {percent}%\n"
        f"- Required Threshold: {needed}%\n"
        f"- Search Range: {search_range}\n"
        "- Tried both standard and aggressive line number stripping\n"
        "- Tip: Use the read_file tool to get the latest content of the file before attempting "
        "to use the apply_diff tool again, as the file content may have changed\n\n"
        f"Search Content:\n{chunk}\n\nBest Match Found:\n{best_section}\n\n"
        f"Original Content:\n{original}"
    )


def _split(content: str) -> list[str]:
    return split_lines(content) if content else []


class _Applier:
    def __init__(self, original: str, threshold: float, buffer_lines: int) -> None:
        self.lines = split_lines(original)
        self.threshold = threshold
        self.buffer = buffer_lines
        self.delta = 0

    def apply(self, block: Block) -> str | None:
        """Apply one block to `self.lines`; the error text when it cannot be applied."""
        search = unescape_markers(block.search)
        replace = unescape_markers(block.replace)
        start_line = block.start_line + (self.delta if block.start_line else 0)

        numbered = every_line_has_line_numbers(search) and (
            every_line_has_line_numbers(replace) or replace.strip() == ""
        )
        if numbered:
            if start_line == 0:
                start_line = int(search.split("\n")[0].split("|")[0])
            search = strip_line_numbers(search)
            replace = strip_line_numbers(replace)
        if search == replace:
            return IDENTICAL
        search_lines = _split(search)
        replace_lines = _split(replace)
        if not search_lines:
            return EMPTY_SEARCH
        end_line = block.start_line + len(search_lines) - 1
        chunk = "\n".join(search_lines)
        lines = self.lines

        best = _Match(-1, 0.0, "")
        window = (0, len(lines))
        if start_line:
            exact_index = start_line - 1
            exact = "\n".join(lines[max(0, exact_index) : exact_index + len(search_lines)])
            score = similarity(exact, chunk)
            if score >= self.threshold:
                best = _Match(exact_index, score, exact)
            else:
                window = (
                    max(0, start_line - (self.buffer + 1)),
                    min(len(lines), start_line + len(search_lines) + self.buffer),
                )
        if best.index == -1:
            best = _fuzzy_search(lines, chunk, *window)

        if best.index == -1 or best.score < self.threshold:
            loose_search = strip_line_numbers(search, aggressive=True)
            loose_replace = strip_line_numbers(replace, aggressive=True)
            loose_lines = _split(loose_search)
            loose = _fuzzy_search(lines, "\n".join(loose_lines), *window)
            if loose.index == -1 or loose.score < self.threshold:
                return _no_match_error(
                    lines, chunk, best, start_line, end_line, self.threshold, self.buffer
                )
            best = loose
            search_lines = loose_lines
            replace_lines = _split(loose_replace)

        matched = lines[best.index : best.index + len(search_lines)]
        new_lines = _reindent(replace_lines, search_lines, matched)
        self.lines = lines[: best.index] + new_lines + lines[best.index + len(search_lines) :]
        self.delta += len(replace_lines) - len(matched)
        return None


def apply_diff(
    original: str,
    diff: str,
    *,
    fuzzy_threshold: float = 1.0,
    buffer_lines: int = BUFFER_LINES,
) -> DiffResult:
    """Apply every block of `diff` to `original` (see the module docstring)."""
    try:
        blocks = parse_blocks(diff)
    except DiffFormatError as exc:
        return DiffResult(False, error=str(exc))
    ordered = sorted(enumerate(blocks), key=lambda item: item[1].start_line)
    applier = _Applier(original, fuzzy_threshold, buffer_lines)
    failures = []
    for index, block in ordered:
        error = applier.apply(block)
        if error is not None:
            failures.append(FailedBlock(index, block.start_line, error))
    applied = len(blocks) - len(failures)
    fail_parts = tuple(failures)
    if applied == 0:
        return DiffResult(False, fail_parts=fail_parts, total=len(blocks))
    ending = "\r\n" if "\r\n" in original else "\n"
    content = ending.join(applier.lines)
    return DiffResult(True, content, None, fail_parts, applied, len(blocks))
