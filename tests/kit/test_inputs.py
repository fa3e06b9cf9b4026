"""The shared input types: properties over generated values (hypothesis)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from roo.kit.inputs import EARLIEST, LATEST, SafeName, SafeText, UtcDateTime

TEXT = TypeAdapter(SafeText)
NAME = TypeAdapter(SafeName)
WHEN = TypeAdapter(UtcDateTime)

BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Every code point, lone surrogates included (what a JSON string or a decoded query can hold).
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=20)


def accepted(adapter: TypeAdapter[object], value: object) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@given(ANY_TEXT)
@example("a\x00b")
@example("\ud800")
def test_text_refuses_exactly_nul_and_lone_surrogates(value: str) -> None:
    bad = any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value)
    assert accepted(TEXT, value) is not bad


@given(ANY_TEXT)
@example("invoice\u202egnp.exe")
@example("tab\there")
@example("line\u2028break")
@example("caf\u00e9 \u6587\u5b57 \U0001f600")
def test_names_refuse_controls_line_breaks_and_bidi_controls(value: str) -> None:
    bad = any(
        unicodedata.category(c) in ("Cc", "Cs") or c in BIDI_CONTROLS or c in "\u2028\u2029"
        for c in value
    )
    assert accepted(NAME, value) is not bad


OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(lambda d: timezone(timedelta(minutes=round(d.total_seconds() / 60))))


@given(st.datetimes(), OFFSETS)
@example(datetime(9999, 12, 31, 23, 59, 59), timezone(-timedelta(hours=23, minutes=59)))
@example(datetime(1, 1, 1), timezone(timedelta(hours=14)))
def test_datetimes_are_utc_within_the_range_or_refused(local: datetime, offset: timezone) -> None:
    value = local.replace(tzinfo=offset)
    try:
        parsed = WHEN.validate_python(value.isoformat())
    except ValidationError:
        try:
            inside = EARLIEST <= value.astimezone(UTC) <= LATEST
        except OverflowError:
            inside = False
        assert not inside
        return
    assert parsed.tzinfo is UTC
    assert parsed == value
    assert EARLIEST <= parsed <= LATEST


@pytest.mark.parametrize("value", ["2030-01-01T00:00:00", datetime(2030, 1, 1)])
def test_naive_datetimes_are_refused(value: object) -> None:
    assert not accepted(WHEN, value)
