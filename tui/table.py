"""The app's table: ranked columns that fit the terminal, vim keys, and `/` to filter rows.

Screens hand it every row as a dict of cells keyed by column; it decides
which columns fit (layout.plan), cuts shrunken cells with an ellipsis, keeps
the rows that match the filter, and updates cells in place when only values
changed, so the cursor and scroll position survive a live run's updates.
"""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from .layout import Col, fit_cell, plain, plan

Row = tuple[str, dict]   # (row key, {column key: str | Text})


class SgsTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "first", "First row", show=False, id="table.first"),
        Binding("G", "last", "Last row", show=False, id="table.last"),
        Binding("ctrl+d", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("ctrl+u", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("slash", "filter", "Filter", show=False, id="table.filter"),
    ]

    class FilterRequested(Message):
        def __init__(self, table: "SgsTable"):
            super().__init__()
            self.table = table

    def __init__(self, columns: Sequence[Col] = (), *, enter: str | None = "Open", **kwargs):
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("cell_padding", 0)
        super().__init__(**kwargs)
        self.specs: list[Col] = list(columns)
        self.all_rows: list[Row] = []
        self.filter_text = ""
        self.shown_columns: list[tuple[Col, int]] = []
        if enter:
            # Enter shows in the footer under the screen's own name for it
            self._bindings.key_to_bindings["enter"] = [Binding("enter", "select_cursor", enter, show=True)]

    # -- content ----------------------------------------------------------
    def available_width(self) -> int:
        width = self.size.width or self.app.size.width
        return max(width - 1, 10)  # one cell for the vertical scrollbar

    def set_columns(self, columns: Sequence[Col]) -> None:
        self.specs = list(columns)
        self.shown_columns = []
        self.render_rows()

    def set_rows(self, rows: list[Row]) -> None:
        self.all_rows = rows
        self.render_rows()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.render_rows()

    def matching(self) -> list[Row]:
        needle = self.filter_text.strip().lower()
        if not needle:
            return self.all_rows
        return [(key, cells) for key, cells in self.all_rows
                if needle in " ".join(plain(v) for v in cells.values()).lower()]

    def render_rows(self) -> None:
        rows = self.matching()
        layout = plan(self.specs, [cells for _, cells in rows] or [{}], self.available_width())
        if [(c.key, w) for c, w in layout] != [(c.key, w) for c, w in self.shown_columns]:
            cursor = self.cursor_key()
            self.clear(columns=True)
            for col, width in layout:
                self.add_column(fit_cell(Text(col.label, style="bold"), width, col.justify), key=col.key, width=width)
            self.shown_columns = layout
            self._fill(rows, cursor)
            return
        self._sync(rows)

    def _cells(self, cells: dict) -> list[Text]:
        return [fit_cell(cells.get(col.key, ""), width, col.justify) for col, width in self.shown_columns]

    def _fill(self, rows: list[Row], cursor: str | None) -> None:
        for key, cells in rows:
            self.add_row(*self._cells(cells), key=key)
        self.call_after_refresh(self._redraw)
        self._restore_cursor(cursor, [k for k, _ in rows])

    def _sync(self, rows: list[Row]) -> None:
        keys = [k for k, _ in rows]
        if keys == [rk.value for rk in self.rows]:
            columns = list(self.columns)
            for key, cells in rows:
                old = self.get_row(key)
                for col, new, before in zip(columns, self._cells(cells), old):
                    if new.plain != before.plain or new.spans != before.spans:
                        self.update_cell(key, col, new)
            return
        cursor = self.cursor_key()
        self.clear()
        self._fill(rows, cursor)

    def _restore_cursor(self, cursor: str | None, keys: list[str]) -> None:
        if cursor is not None and cursor in keys:
            try:
                self.move_cursor(row=self.get_row_index(cursor), animate=False)
            except RowDoesNotExist:
                pass

    def _redraw(self) -> None:
        # rows added before the first layout can keep the header widths cached
        clear = getattr(self, "_clear_caches", None)
        if clear is not None:
            clear()
        self.refresh()

    def cursor_key(self) -> str | None:
        if not self.row_count or self.cursor_row is None:
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            return None

    def move_to_key(self, key: str) -> bool:
        try:
            self.move_cursor(row=self.get_row_index(key), animate=False)
        except RowDoesNotExist:
            return False
        return True

    def on_resize(self) -> None:
        if self.all_rows or self.specs:
            self.render_rows()

    # -- keys -------------------------------------------------------------
    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested(self))
