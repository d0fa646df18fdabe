"""Side-by-side line alignment of two sources (difflib), for the diff screen."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class DiffRow:
    left: int | None       # line index into the left source, None for a gap
    right: int | None
    tag: str               # equal, replace, delete (left only), insert (right only)


def align(left: list[str], right: list[str]) -> list[DiffRow]:
    """Rows pairing equal lines; changed blocks side by side, padded with gaps to line up."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [DiffRow(i1 + n, j1 + n, "equal") for n in range(i2 - i1)]
        elif tag == "delete":
            rows += [DiffRow(i, None, "delete") for i in range(i1, i2)]
        elif tag == "insert":
            rows += [DiffRow(None, j, "insert") for j in range(j1, j2)]
        else:
            for n in range(max(i2 - i1, j2 - j1)):
                li = i1 + n if i1 + n < i2 else None
                rj = j1 + n if j1 + n < j2 else None
                rows.append(DiffRow(li, rj, "replace" if li is not None and rj is not None
                                    else "delete" if rj is None else "insert"))
    return rows


def hunk_starts(rows: list[DiffRow]) -> list[int]:
    """Row numbers where a run of changed rows begins (for next/previous change)."""
    starts, previous = [], "equal"
    for n, row in enumerate(rows):
        if row.tag != "equal" and previous == "equal":
            starts.append(n)
        previous = row.tag
    return starts


def unified(left: list[str], right: list[str], left_name: str, right_name: str) -> list[str]:
    return list(difflib.unified_diff(left, right, fromfile=left_name, tofile=right_name, lineterm="", n=3))


def similarity(left: list[str], right: list[str]) -> float:
    return difflib.SequenceMatcher(a=left, b=right, autojunk=False).ratio()
