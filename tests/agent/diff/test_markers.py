"""Marker-order validation, block parsing, escapes and line-number helpers."""

from __future__ import annotations

import pytest

from roo.agent.diff import (
    DiffFormatError,
    add_line_numbers,
    apply_diff,
    every_line_has_line_numbers,
    parse_blocks,
    strip_line_numbers,
    unescape_markers,
    validate_marker_sequencing,
)


def _error(diff: str) -> str:
    with pytest.raises(DiffFormatError) as info:
        validate_marker_sequencing(diff)
    return str(info.value)


@pytest.mark.parametrize(
    "diff",
    [
        "<<<<<<< SEARCH\nsome content\n=======\nnew content\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH>\nsome content\n=======\nnew content\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH>  \nsome content\n=======\nnew content\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH>\n:start_line:10\n-------\ncontent1\n=======\nnew1\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH\ncontent1\n=======\nnew1\n>>>>>>> REPLACE\n\n"
        "<<<<<<< SEARCH\ncontent2\n=======\nnew2\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH\n:start_line:[10]\n-------\ncontent1\n=======\nnew1\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH\na\n\\=======\nb\n=======\nc\n\\:start_line:3\n>>>>>>> REPLACE",
    ],
)
def test_valid_marker_sequences(diff: str) -> None:
    validate_marker_sequencing(diff)


@pytest.mark.parametrize(
    "diff",
    [
        "<<<<<<< SEARCH>>\nsome content\n=======\nnew content\n>>>>>>> REPLACE",
        "<<<<<<< SEARCH  >\nsome content\n=======\nnew content\n>>>>>>> REPLACE",
    ],
)
def test_search_marker_variants_that_are_refused(diff: str) -> None:
    assert "Special marker" in _error(diff)


def test_separator_before_search_is_malformed() -> None:
    error = _error("=======\ncontent\n>>>>>>> REPLACE")
    assert error.startswith(
        "ERROR: Diff block is malformed: marker '=======' found in your diff content at line 1. "
        "Expected: <<<<<<< SEARCH\n"
    )
    assert "CORRECT FORMAT:" in error


def test_missing_separator_is_malformed() -> None:
    error = _error("<<<<<<< SEARCH\ncontent\n>>>>>>> REPLACE")
    assert "marker '>>>>>>> REPLACE' found in your diff content at line 3" in error
    assert "Expected: =======" in error


def test_two_separators_look_like_merge_conflict_content() -> None:
    error = _error("<<<<<<< SEARCH\ncontent\n=======\n=======\n>>>>>>> REPLACE")
    assert error.startswith("ERROR: Special marker '=======' found in your diff content at line 4:")
    assert "When removing merge conflict markers" in error
    assert "\\=======    <-- Note the backslash here in this example" in error


def test_bare_replace_prefix_is_merge_conflict() -> None:
    error = _error("<<<<<<< SEARCH\ncontent\n>>>>>>>")
    assert "'>>>>>>>' found in your diff content" in error
    assert "When removing merge conflict markers" in error


def test_replace_before_any_search_is_malformed() -> None:
    assert "Expected: <<<<<<< SEARCH" in _error(">>>>>>> REPLACE")


def test_search_inside_search_is_malformed() -> None:
    error = _error("<<<<<<< SEARCH\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE")
    assert (
        "marker '<<<<<<< SEARCH' found in your diff content at line 2. Expected: =======" in error
    )


def test_search_inside_replace_is_malformed() -> None:
    error = _error("<<<<<<< SEARCH\na\n=======\n<<<<<<< SEARCH\n>>>>>>> REPLACE")
    assert "Expected: >>>>>>> REPLACE" in error


def test_conflict_marker_inside_search_needs_escape() -> None:
    error = _error("<<<<<<< SEARCH\n<<<<<<< HEAD\n=======\nx\n>>>>>>> REPLACE")
    assert "Special marker '<<<<<<< HEAD' found in your diff content at line 2:" in error


def test_start_line_in_replace_section() -> None:
    error = _error("<<<<<<< SEARCH\na\n=======\n:start_line:5\nb\n>>>>>>> REPLACE")
    assert error.startswith(
        "ERROR: Invalid line marker ':start_line:' found in REPLACE section at line 4"
    )
    assert "INCORRECT FORMAT:" in error


def test_end_line_in_replace_section() -> None:
    error = _error("<<<<<<< SEARCH\na\n=======\n:end_line:5\nb\n>>>>>>> REPLACE")
    assert "Invalid line marker ':end_line:'" in error


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        ("<<<<<<< SEARCH\ncontent", "======="),
        ("<<<<<<< SEARCH\ncontent\n=======\nnew content", ">>>>>>> REPLACE"),
    ],
)
def test_unexpected_end_of_sequence(diff: str, expected: str) -> None:
    assert (
        _error(diff) == f"ERROR: Unexpected end of sequence: Expected '{expected}' was not found."
    )


def test_no_block_at_all_is_missing_sections() -> None:
    result = apply_diff("a\n", "test.ts\nInvalid diff format")
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("Invalid diff format - missing required sections\n\nDebug Info:")


def test_parse_reads_hints_and_ignores_end_line() -> None:
    blocks = parse_blocks(
        "junk before\n<<<<<<< SEARCH\n:start_line:7\n:end_line:9\n-------\nold\n=======\nnew\n"
        ">>>>>>> REPLACE\n<<<<<<< SEARCH\nx\n=======\n>>>>>>> REPLACE"
    )
    assert [(b.start_line, b.search, b.replace) for b in blocks] == [
        (7, "old", "new"),
        (0, "x", ""),
    ]


def test_parse_accepts_crlf_diffs() -> None:
    blocks = parse_blocks("<<<<<<< SEARCH\r\nold\r\n=======\r\nnew\r\n>>>>>>> REPLACE\r\n")
    assert [(b.search, b.replace) for b in blocks] == [("old", "new")]


def test_unescape_markers() -> None:
    text = (
        "\\<<<<<<< HEAD\n\\=======\n\\>>>>>>> x\n\\-------\n\\:start_line:1\n\\:end_line:2\n"
        " a\\======="
    )
    assert unescape_markers(text) == (
        "<<<<<<< HEAD\n=======\n>>>>>>> x\n-------\n:start_line:1\n:end_line:2\n a\\======="
    )


def test_line_number_helpers() -> None:
    assert every_line_has_line_numbers("1 | a\n 12 | b")
    assert not every_line_has_line_numbers("1 | a\nb")
    assert not every_line_has_line_numbers("1 || a")
    assert strip_line_numbers("1 | a\n2 |   b\n") == "a\n  b\n"
    assert strip_line_numbers("| a\n3 | b", aggressive=True) == "a\nb"
    assert add_line_numbers("a\nb\n", 9) == " 9 | a\n10 | b\n"
    assert add_line_numbers("") == ""
