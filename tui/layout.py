"""Column layout by importance: what a table shows at 80 columns, and what it gains on a wide terminal.

Each column has a rank. When the columns do not fit, the least important
column gives way first: it shrinks if it can (its text then ends in an
ellipsis), else it is dropped; then the next. Rank 0 and `keep` columns are
never dropped, and no column shrinks unless it says how far: a pick or a
review flag is never cut. Spare width goes to the columns that can grow.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    justify: str = "left"
    rank: int = 0                 # 0: always shown; higher numbers are dropped first
    min_width: int | None = None  # shrinkable down to this many cells (with an ellipsis); None: never shrunk
    grow: bool = False            # takes spare width on wide terminals
    max_width: int | None = None  # the most a growing column takes
    keep: bool = False            # never dropped, whatever its rank (it may still shrink at its rank)


def plain(value) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def natural_widths(columns: list[Col], rows: list[dict]) -> dict[str, int]:
    """Each column's width in cells: its widest cell or label, plus the one-space gap in front."""
    out = {}
    for col in columns:
        widest = max((cell_len(plain(r.get(col.key, ""))) for r in rows), default=0)
        out[col.key] = max(widest, cell_len(col.label)) + 1
    return out


def plan(columns: list[Col], rows: list[dict], available: int) -> list[tuple[Col, int]]:
    """The columns to show, in their order, each with its width (gap included)."""
    widths = natural_widths(columns, rows)
    shown = list(columns)

    def total() -> int:
        return sum(widths[c.key] for c in shown)

    # 1. least important first: a column shrinks if it can, else it goes (rank 0 stays whole)
    for col in sorted((c for c in columns if c.rank > 0 or c.min_width is not None), key=lambda c: -c.rank):
        excess = total() - available
        if excess <= 0:
            break
        if col.min_width is not None:
            floor = max(col.min_width + 1, cell_len(col.label) + 1)
            widths[col.key] -= min(excess, max(widths[col.key] - floor, 0))
        if total() > available and col.rank > 0 and not col.keep:
            shown.remove(col)
    # 3. a wide terminal: spare width to the growing columns
    spare = available - total()
    growers = [c for c in shown if c.grow]
    for n, col in enumerate(growers):
        share = spare // (len(growers) - n)
        if col.max_width is not None:
            share = min(share, max(col.max_width + 1 - widths[col.key], 0))
        widths[col.key] += max(share, 0)
        spare -= max(share, 0)
    return [(c, widths[c.key]) for c in shown]


def fit_cell(value, width: int, justify: str = "left") -> Text:
    """The cell's text in `width` cells (gap included): a space, then the value, cut with an ellipsis if it must be."""
    text = value.copy() if isinstance(value, Text) else Text(str(value))
    room = max(width - 1, 0)
    if cell_len(text.plain) > room:
        text.truncate(room, overflow="ellipsis")
    out = Text(" ", justify="left", no_wrap=True, end="")
    pad = room - cell_len(text.plain)
    if justify == "right":
        out.append(" " * pad)
        out.append_text(text)
    else:
        out.append_text(text)
        out.append(" " * pad)
    return out


def ranked_parts(parts: list[tuple[int, str]], width: int, sep: str = " · ") -> str:
    """Join (rank, text) parts in their order, dropping the least important until the line fits `width`."""
    kept = [(r, t) for r, t in parts if t]

    def line() -> str:
        return sep.join(t for _, t in kept)

    for rank, text in sorted(kept, key=lambda p: -p[0]):
        if cell_len(line()) <= width or rank == 0:
            break
        kept.remove((rank, text))
    out = line()
    return out if cell_len(out) <= width else out[: max(width - 1, 0)] + "…"
