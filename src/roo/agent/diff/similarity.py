"""Roo's text normalisation and Levenshtein similarity (`getSimilarity`).

Similarity = 1 - levenshtein(a, b) / max(len(a), len(b)) on normalised strings; strings equal after
normalisation score 1.0 and an empty search scores 0. `similarity(..., beat=x)` may stop early and
return a value <= x when the exact score cannot beat `x` (what the middle-out search needs).
"""

from __future__ import annotations

import re
from functools import lru_cache

_REPLACEMENTS = {
    "\u201c": '"',  # smart double quotes
    "\u201d": '"',
    "\u2018": "'",  # smart single quotes
    "\u2019": "'",
    "\u2026": "...",  # ellipsis
    "\u2014": "-",  # em dash
    "\u2013": "-",  # en dash
    "\u00a0": " ",  # non-breaking space
}
_TRANSLATION = str.maketrans(_REPLACEMENTS)
_WHITESPACE = re.compile(r"\s+")


def normalize_string(text: str) -> str:
    """Smart quotes and typographic characters made plain, whitespace runs collapsed, trimmed."""
    return _WHITESPACE.sub(" ", text.translate(_TRANSLATION)).strip()


@lru_cache(maxsize=64)
def _positions(pattern: str) -> dict[str, int]:
    """For each character of `pattern`, the bit mask of where it occurs."""
    masks: dict[str, int] = {}
    for index, char in enumerate(pattern):
        masks[char] = masks.get(char, 0) | (1 << index)
    return masks


def _myers(pattern: str, text: str) -> int:
    """Edit distance by Myers' bit-parallel algorithm (Hyyrö's formulation); `pattern` non-empty."""
    masks = _positions(pattern)
    full = (1 << len(pattern)) - 1
    top = 1 << (len(pattern) - 1)
    plus, minus, score = full, 0, len(pattern)
    for char in text:
        eq = masks.get(char, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        hp = minus | (~(xh | plus) & full)
        hm = plus & xh
        if hp & top:
            score += 1
        elif hm & top:
            score -= 1
        hp = ((hp << 1) | 1) & full
        hm = (hm << 1) & full
        plus = hm | (~(xv | hp) & full)
        minus = hp & xv
    return score


def levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Edit distance between `a` and `b`; with `limit`, any result above it is `limit + 1`."""
    cap = max(len(a), len(b)) if limit is None else limit
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    if not a or not b:
        return min(len(a) or len(b), cap + 1)
    # The longer string is the bit pattern; the search side is usually it and is cached.
    pattern, text = (a, b) if len(a) >= len(b) else (b, a)
    return min(_myers(pattern, text), cap + 1)


def similarity(original: str, search: str, *, beat: float | None = None) -> float:
    """Roo's similarity of `original` to `search` (0..1); see the module docstring for `beat`."""
    if search == "":
        return 0.0
    left = normalize_string(original)
    right = normalize_string(search)
    if left == right:
        return 1.0
    longest = max(len(left), len(right))
    limit = None
    if beat is not None:
        # Any distance above this limit scores below `beat` (one character of slack).
        limit = int(max(0.0, 1.0 - beat) * longest) + 1
    distance = levenshtein(left, right, limit)
    return 1.0 - distance / longest
