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


# -- side by side, in step ----------------------------------------------------
MARK = {"equal": " ", "replace": "~", "delete": "-", "insert": "+"}
SEPARATOR = "│"


@dataclass
class SideStyle:
    changed: str           # style of a changed line's cells (a background, or attributes)
    keep_syntax: bool      # keep the syntax colours on changed lines


def _pieces(line, width: int, wrap: bool, offset: int, console) -> list:
    """A line as the pieces it shows in a pane `width` cells wide: wrapped, or one window from `offset`."""
    from rich.text import Text

    if line is None:
        return [None]
    if not wrap:
        return [line[offset:offset + width] if offset < len(line) else Text("")]
    if not line.plain:
        return [Text("")]
    return list(line.wrap(console, width, overflow="fold", no_wrap=False)) or [Text("")]


def pane_layout(width: int, n_left: int, n_right: int) -> tuple[int, int, int]:
    """(pane width, line-number width, code width) of each side in `width` cells."""
    pane = max((width - len(SEPARATOR)) // 2, 8)
    numbers = max(len(str(n_left)), len(str(n_right)), 1)
    return pane, numbers, max(pane - numbers - 2, 4)


def side_by_side(rows: list[DiffRow], left: list, right: list, width: int, *, styles: tuple[SideStyle, SideStyle],
                 wrap: bool = True, offset: int = 0, console=None):
    """The two sides as one text, `width` cells wide: every row's two lines share their visual lines.

    A long line wraps within its pane and the other side's line is padded to
    as many visual lines, so the rows can never fall out of step; without
    wrapping both panes show the same window of columns (from `offset`).
    Returns (text, the first visual line of each row).
    """
    from rich.console import Console
    from rich.text import Text

    console = console or Console(width=max(width, 20))
    pane, numbers, content = pane_layout(width, len(left), len(right))
    out = Text(no_wrap=True, end="")
    starts: list[int] = []
    n_lines = 0
    for row in rows:
        starts.append(n_lines)
        sides = []
        for idx, lines, style in ((row.left, left, styles[0]), (row.right, right, styles[1])):
            line = None
            if idx is not None:
                line = lines[idx] if idx < len(lines) else Text("")
                if row.tag != "equal" and not style.keep_syntax:
                    line = Text(line.plain)
            sides.append((idx, _pieces(line, content, wrap, offset, console), style))
        height = max(len(p) for _, p, _ in sides)
        for i in range(height):
            if n_lines:
                out.append("\n")
            for n, (idx, pieces, style) in enumerate(sides):
                if n:
                    out.append(SEPARATOR, style="dim")
                piece = pieces[i] if i < len(pieces) else None
                changed = row.tag != "equal" and idx is not None
                if idx is None or piece is None:  # a gap, or a line that needs fewer visual lines
                    out.append(" " * pane)
                    continue
                if i == 0:
                    out.append(f"{idx + 1:>{numbers}}", style="dim")
                    out.append((MARK[row.tag] if changed else " ") + " ", style="bold" if changed else "")
                else:  # the same line, wrapped
                    out.append(" " * (numbers - 1) + "↪  ", style="dim")
                cell = piece.copy() if piece is not None else Text("")
                cell.truncate(content, pad=True)
                if changed:
                    cell.stylize(style.changed)
                out.append_text(cell)
            n_lines += 1
    return out, starts


def longest(lines: list[str]) -> int:
    return max((len(line) for line in lines), default=0)
