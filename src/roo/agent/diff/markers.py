"""The wire format: marker-order validation (Roo's error texts), block parsing, escapes, and the
`N | ` line-number prefixes models copy from read_file output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

SEARCH = "<<<<<<< SEARCH"
SEP = "======="
REPLACE = ">>>>>>> REPLACE"
SEARCH_PREFIX = "<<<<<<<"
REPLACE_PREFIX = ">>>>>>>"
_SEARCH_MARKER = re.compile(r"<<<<<<< SEARCH>?")  # an extra '>' is tolerated

# Roo's block expression: optional :start_line:/:end_line: and '-------' lines, then SEARCH
# content, '=======', REPLACE content, '>>>>>>> REPLACE'. Escaped markers (a leading
# backslash) never delimit a block.
_BLOCK = re.compile(
    r"(?:^|\n)(?<!\\)<<<<<<< SEARCH>?\s*\n"
    r"((?::start_line:\s*([0-9]+)\s*\n))?"
    r"((?::end_line:\s*([0-9]+)\s*\n))?"
    r"((?<!\\)-------\s*\n)?"
    r"([\s\S]*?)(?:\n)?"
    r"(?:(?<=\n)(?<!\\)=======\s*\n)"
    r"([\s\S]*?)(?:\n)?"
    r"(?:(?<=\n)(?<!\\)>>>>>>> REPLACE)(?=\n|\Z)"
)
_ESCAPED = re.compile(r"^\\(<<<<<<<|=======|>>>>>>>|-------|:end_line:|:start_line:)", re.M)
_NUMBERED = re.compile(r"^\s*[0-9]+\s+\|(?!\|)")
_NUMBER_PREFIX = re.compile(r"^\s*[0-9]+\s+\|(?!\|)\s?(.*)$", re.S)
_LOOSE_PREFIX = re.compile(r"^\s*(?:[0-9]+\s)?\|\s(.*)$", re.S)
_LINE_BREAK = re.compile(r"\r?\n")

MISSING_SECTIONS = (
    "Invalid diff format - missing required sections\n\n"
    "Debug Info:\n"
    "- Expected Format: <<<<<<< SEARCH\\n:start_line: start line\\n-------\\n[search content]"
    "\\n=======\\n[replace content]\\n>>>>>>> REPLACE\n"
    "- Tip: Make sure to include start_line/SEARCH/=======/REPLACE sections with correct "
    "markers on new lines"
)


@dataclass(frozen=True, slots=True)
class Block:
    """One SEARCH/REPLACE block as written (markers still escaped); start_line 0 = no hint."""

    start_line: int
    search: str
    replace: str


class DiffFormatError(ValueError):
    """The diff as a whole is unusable; `str(exc)` is Roo's text for the model."""


def split_lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def unescape_markers(content: str) -> str:
    """Drop the backslash in front of markers that belong to the file content."""
    return _ESCAPED.sub(r"\1", content)


def every_line_has_line_numbers(content: str) -> bool:
    return all(_NUMBERED.match(line) for line in split_lines(content))


def strip_line_numbers(content: str, *, aggressive: bool = False) -> str:
    """Remove `N | ` prefixes (aggressive: also a lone `| `), keeping the content's line ends."""
    pattern = _LOOSE_PREFIX if aggressive else _NUMBER_PREFIX
    stripped = []
    for line in split_lines(content):
        match = pattern.match(line)
        stripped.append(match.group(1) if match else line)
    ending = "\r\n" if "\r\n" in content else "\n"
    result = ending.join(stripped)
    if content.endswith("\n") and not result.endswith(ending):
        result += ending
    return result


def add_line_numbers(content: str, start: int = 1) -> str:
    """`N | line` rows, numbers padded to equal width (Roo's `addLineNumbers`)."""
    if content == "":
        return "" if start == 1 else f"{start} | \n"
    lines = content.split("\n")
    if lines[-1] == "":
        lines.pop()
    width = len(str(start + len(lines) - 1))
    return (
        "\n".join(f"{str(start + i).rjust(width)} | {line}" for i, line in enumerate(lines)) + "\n"
    )


def parse_blocks(diff: str) -> list[Block]:
    """Validate the marker order, then cut the diff into blocks (raises DiffFormatError)."""
    diff = diff.replace("\r\n", "\n")
    validate_marker_sequencing(diff)
    blocks = [
        Block(int(match.group(2) or 0), match.group(6), match.group(7))
        for match in _BLOCK.finditer(diff)
    ]
    if not blocks:
        raise DiffFormatError(MISSING_SECTIONS)
    return blocks


class _State(Enum):
    START = 0
    AFTER_SEARCH = 1
    AFTER_SEPARATOR = 2


def _merge_conflict_error(found: str, line: int) -> DiffFormatError:
    return DiffFormatError(
        f"ERROR: Special marker '{found}' found in your diff content at line {line}:\n"
        "\n"
        f"When removing merge conflict markers like '{found}' from files, you MUST escape them\n"
        "in your SEARCH section by prepending a backslash (\\) at the beginning of the line:\n"
        "\n"
        "CORRECT FORMAT:\n\n"
        "<<<<<<< SEARCH\n"
        "content before\n"
        f"\\{found}    <-- Note the backslash here in this example\n"
        "content after\n"
        "=======\n"
        "replacement content\n"
        ">>>>>>> REPLACE\n"
        "\n"
        "Without escaping, the system confuses your content with diff syntax markers.\n"
        "You may use multiple diff blocks in a single diff request, but ANY of ONLY the "
        "following separators that occur within SEARCH or REPLACE content must be escaped, "
        "as follows:\n"
        f"\\{SEARCH}\n"
        f"\\{SEP}\n"
        f"\\{REPLACE}\n"
    )


def _malformed_error(found: str, expected: str, line: int) -> DiffFormatError:
    return DiffFormatError(
        f"ERROR: Diff block is malformed: marker '{found}' found in your diff content at line "
        f"{line}. Expected: {expected}\n"
        "\n"
        "CORRECT FORMAT:\n\n"
        "<<<<<<< SEARCH\n"
        ":start_line: (optional) The line number where search starts\n"
        "-------\n"
        "[exact content to find including whitespace]\n"
        "=======\n"
        "[new content to replace with]\n"
        ">>>>>>> REPLACE\n"
    )


def _line_marker_error(marker: str, line: int) -> DiffFormatError:
    return DiffFormatError(
        f"ERROR: Invalid line marker '{marker}' found in REPLACE section at line {line}\n"
        "\n"
        "Line markers (:start_line: and :end_line:) are only allowed in SEARCH sections.\n"
        "\n"
        "CORRECT FORMAT:\n"
        "<<<<<<< SEARCH\n"
        ":start_line:5\n"
        "content to find\n"
        "=======\n"
        "replacement content\n"
        ">>>>>>> REPLACE\n"
        "\n"
        "INCORRECT FORMAT:\n"
        "<<<<<<< SEARCH\n"
        "content to find\n"
        "=======\n"
        ":start_line:5    <-- Invalid location\n"
        "replacement content\n"
        ">>>>>>> REPLACE\n"
    )


def validate_marker_sequencing(diff: str) -> None:
    """Roo's state machine over the trimmed lines; raises DiffFormatError with Roo's text.

    When the marker counts add up, a stray marker is probably file content (merge-conflict
    advice); otherwise the block structure itself is broken (malformed-block advice).
    """
    lines = diff.split("\n")
    trimmed = [line.strip() for line in lines]
    searches = sum(1 for m in trimmed if _SEARCH_MARKER.fullmatch(m))
    separators = trimmed.count(SEP)
    replaces = trimmed.count(REPLACE)
    bad_structure = searches != replaces or separators < searches

    state = _State.START
    for number, marker in enumerate(trimmed, 1):
        is_search = _SEARCH_MARKER.fullmatch(marker) is not None
        if state is _State.AFTER_SEPARATOR:
            for line_marker in (":start_line:", ":end_line:"):
                if marker.startswith(line_marker):
                    raise _line_marker_error(line_marker, number)
        if state is _State.START:
            if marker == SEP:
                raise (
                    _malformed_error(SEP, SEARCH, number)
                    if bad_structure
                    else _merge_conflict_error(SEP, number)
                )
            if marker == REPLACE:
                raise _malformed_error(REPLACE, SEARCH, number)
            if marker.startswith(REPLACE_PREFIX):
                raise _merge_conflict_error(marker, number)
            if is_search:
                state = _State.AFTER_SEARCH
            elif marker.startswith(SEARCH_PREFIX):
                raise _merge_conflict_error(marker, number)
        elif state is _State.AFTER_SEARCH:
            if is_search:
                raise _malformed_error(SEARCH, SEP, number)
            if marker.startswith(SEARCH_PREFIX):
                raise _merge_conflict_error(marker, number)
            if marker == REPLACE:
                raise _malformed_error(REPLACE, SEP, number)
            if marker.startswith(REPLACE_PREFIX):
                raise _merge_conflict_error(marker, number)
            if marker == SEP:
                state = _State.AFTER_SEPARATOR
        else:
            if is_search:
                raise _malformed_error(SEARCH, REPLACE, number)
            if marker.startswith(SEARCH_PREFIX):
                raise _merge_conflict_error(marker, number)
            if marker == SEP:
                raise (
                    _malformed_error(SEP, REPLACE, number)
                    if bad_structure
                    else _merge_conflict_error(SEP, number)
                )
            if marker == REPLACE:
                state = _State.START
            elif marker.startswith(REPLACE_PREFIX):
                raise _merge_conflict_error(marker, number)
    if state is not _State.START:
        expected = SEP if state is _State.AFTER_SEARCH else REPLACE
        raise DiffFormatError(
            f"ERROR: Unexpected end of sequence: Expected '{expected}' was not found."
        )
