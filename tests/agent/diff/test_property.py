"""Property: a diff made from any (old, new) pair, applied to old, yields new."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from roo.agent.diff import apply_diff, levenshtein
from tests.agent.diff.make_diff import make_diff

# Indents form a prefix chain (tabs and spaces), as Roo re-bases indentation relative to the
# first SEARCH line; lines never end in whitespace after text (Roo trims REPLACE lines).
INDENTS = ["", "\t", "\t ", "\t  "]
WORDS = ["", "a", "b", "foo()", "x = 1", "}", "é ü", "中文", "=======", "return 'q'"]
LINE = st.builds(
    lambda indent, word: indent + word, st.sampled_from(INDENTS), st.sampled_from(WORDS)
)
LINES = st.lists(LINE, min_size=0, max_size=12)


def _text(lines: list[str], ending: str = "\n") -> str:
    return ending.join(lines)


@settings(max_examples=200, deadline=None)
@given(old=LINES.filter(lambda lines: _text(lines) != ""), new=LINES)
def test_applying_make_diff_to_old_yields_new(old: list[str], new: list[str]) -> None:
    old_text, new_text = _text(old), _text(new)
    if old_text == new_text:
        return
    result = apply_diff(old_text, make_diff(old_text, new_text))
    assert result.fail_parts == ()
    assert result.content == new_text


@settings(max_examples=100, deadline=None)
@given(old=st.lists(LINE, min_size=2, max_size=10), new=st.lists(LINE, min_size=2, max_size=10))
def test_crlf_files_keep_crlf(old: list[str], new: list[str]) -> None:
    old_text, new_text = _text(old, "\r\n"), _text(new, "\r\n")
    if old_text == new_text:
        return
    result = apply_diff(old_text, make_diff(old_text, new_text))
    assert result.content == new_text


@settings(max_examples=50, deadline=None)
@given(old=LINES.filter(lambda lines: _text(lines) != ""), new=LINES)
def test_trailing_newline_variants(old: list[str], new: list[str]) -> None:
    old_text, new_text = _text(old) + "\n", _text(new)
    result = apply_diff(old_text, make_diff(old_text, new_text))
    if old_text != new_text:
        assert result.content == new_text


def _reference_levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j - 1] + (char_a != char_b), current[j - 1] + 1, previous[j] + 1)
            )
        previous = current
    return previous[-1]


TEXT = st.text(alphabet="ab c\u00e9\t", max_size=80)


@settings(max_examples=200, deadline=None)
@given(a=TEXT, b=TEXT, limit=st.none() | st.integers(min_value=0, max_value=30))
def test_levenshtein_matches_reference(a: str, b: str, limit: int | None) -> None:
    expected = _reference_levenshtein(a, b)
    if limit is not None:
        expected = min(expected, limit + 1)
    assert levenshtein(a, b, limit) == expected
