"""Small widgets and helpers shared by the screens."""
from __future__ import annotations

from typing import Iterable, Sequence

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widgets import DataTable, SelectionList, Static
from textual.widgets._toggle_button import ToggleButton
from textual.widgets.data_table import RowDoesNotExist
from textual.widgets.option_list import OptionDoesNotExist


class TitleBar(Static):
    """One line at the top naming what the screen shows."""

    DEFAULT_CSS = """
    TitleBar { dock: top; height: 1; width: 100%; background: $primary-background; color: $text; text-style: bold;
               text-wrap: nowrap; text-overflow: ellipsis; }
    """


def cell(value, justify: str = "left", style: str = "") -> Text:
    """A table cell with one space in front: columns are separated without DataTable padding."""
    text = value if isinstance(value, Text) else Text(str(value), style=style)
    out = Text(" ", justify=justify)
    out.append_text(text)
    out.no_wrap = True
    return out


def fit(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence]], *, keep_cursor: bool = True) -> None:
    """Make the table show `rows` (key, cells) in order, updating cells in place when the keys match.

    In-place updates keep the cursor and scroll position while a run goes on;
    a changed set or order of keys rebuilds the table and puts the cursor
    back on the row it was on.
    """
    keys = [k for k, _ in rows]
    current = [rk.value for rk in table.rows]
    if keys == current:
        columns = list(table.columns)
        for key, cells in rows:
            old = table.get_row(key)
            for col, new, before in zip(columns, cells, old):
                if str(new) != str(before) or getattr(new, "style", None) != getattr(before, "style", None):
                    table.update_cell(key, col, new)
        return
    cursor_key = None
    if keep_cursor and table.row_count and table.cursor_row is not None:
        try:
            cursor_key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            cursor_key = None
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    # Rows added before the table's first layout can stay rendered at the header widths
    # (the line cache outlives the column-width update): drop the cache once laid out.
    table.call_after_refresh(_redraw, table)
    if cursor_key is not None and cursor_key in keys:
        try:
            table.move_cursor(row=table.get_row_index(cursor_key), animate=False)
        except RowDoesNotExist:
            pass


def _redraw(table: DataTable) -> None:
    clear = getattr(table, "_clear_caches", None)
    if clear is not None:
        clear()
    table.refresh()


def join(parts: Iterable[str], sep: str = " · ") -> str:
    return sep.join(p for p in parts if p)


class TaskList(SelectionList):
    """A selection list whose check box reads without colour: ✓ for chosen, blank otherwise."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        mark = "✓" if selection.value in self._selected else " "
        segments[1] = Segment(mark, segments[1].style, segments[1].control)
        return Strip(segments, strip.cell_length)
