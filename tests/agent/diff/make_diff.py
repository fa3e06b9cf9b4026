"""`make_diff(old, new)`: SEARCH/REPLACE blocks (from difflib opcodes) that turn old into new.

Every block carries `:start_line:` (a line of `old`; the strategy shifts it by earlier blocks)
and `N | ` line-number prefixes, which Roo strips. The prefixes keep blank first lines, which
Roo's block expression would otherwise swallow, and lines that look like markers intact.
Roo refuses an empty SEARCH (so insertions are anchored on a neighbouring line) and reads a
SEARCH or REPLACE of one blank line as empty (so such blocks are widened by a line).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

Opcode = tuple[str, int, int, int, int]


@dataclass
class _Range:
    start: int
    end: int
    ops: list[Opcode]


def _own_range(op: Opcode) -> tuple[int, int]:
    _, i1, i2, _, _ = op
    if i1 < i2:
        return i1, i2
    return (i1 - 1, i1) if i1 > 0 else (0, 1)


def _replacement(
    rng: _Range, opcodes: Sequence[Opcode], old: list[str], new: list[str]
) -> list[str]:
    result: list[str] = []
    for op in opcodes:
        tag, i1, i2, j1, j2 = op
        if tag == "equal":
            result.extend(old[max(i1, rng.start) : min(i2, rng.end)])
        elif op in rng.ops:
            result.extend(new[j1:j2])
    return result


def _merge(ranges: list[_Range]) -> list[_Range]:
    merged: list[_Range] = []
    for rng in sorted(ranges, key=lambda r: r.start):
        if merged and rng.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = _Range(last.start, max(last.end, rng.end), [*last.ops, *rng.ops])
        else:
            merged.append(rng)
    return merged


def _numbered(lines: list[str], first: int) -> str:
    return "\n".join(f"{first + i} | {line}" for i, line in enumerate(lines))


def make_diff(old: str, new: str) -> str:
    old_lines = re.split(r"\r?\n", old)
    new_lines = re.split(r"\r?\n", new)
    if old_lines == [""]:
        raise ValueError("an empty file cannot be edited with search/replace blocks")
    opcodes = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes()
    ranges = [_Range(*_own_range(op), [op]) for op in opcodes if op[0] != "equal"]
    changed = True
    while changed:
        changed = False
        ranges = _merge(ranges)
        for rng in ranges:
            replacement = _replacement(rng, opcodes, old_lines, new_lines)
            if old_lines[rng.start : rng.end] != [""] and replacement != [""]:
                continue
            if rng.end < len(old_lines):
                rng.end += 1
            elif rng.start > 0:
                rng.start -= 1
            else:  # the whole file becomes empty: an empty REPLACE does that
                continue
            changed = True
    blocks = []
    for rng in ranges:
        replacement = _replacement(rng, opcodes, old_lines, new_lines)
        search = _numbered(old_lines[rng.start : rng.end], rng.start + 1)
        replace = _numbered(replacement, rng.start + 1)
        blocks.append(
            f"<<<<<<< SEARCH\n:start_line:{rng.start + 1}\n-------\n{search}\n=======\n"
            + (f"{replace}\n" if replacement else "")
            + ">>>>>>> REPLACE"
        )
    return "\n\n".join(blocks)
