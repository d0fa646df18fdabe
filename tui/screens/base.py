"""What every screen shares: a title bar, the footer, `?` help, `/` filters, palette commands, errors as notifications."""
from __future__ import annotations

from typing import Callable, Iterable

from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from ..messages import Failed
from ..table import SgsTable

Command = tuple[str, str, Callable[[], object]]


class FilterBar(Input):
    """The `/` filter of a table: rows update as you type; Enter keeps the filter, Esc clears it."""

    DEFAULT_CSS = """
    FilterBar { height: 1; border: none; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "clear", "Clear filter", id="filter.clear"),
        Binding("enter,down", "done", "Keep filter", id="filter.done"),
    ]

    def __init__(self, table: SgsTable):
        super().__init__(value=table.filter_text, placeholder="filter rows: type text, enter keeps it, esc clears",
                         compact=True, id="filter-bar")
        self.table = table

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)

    def action_done(self) -> None:
        self.table.focus()
        if not self.value.strip():
            self.remove()

    def action_clear(self) -> None:
        self.table.set_filter("")
        self.table.focus()
        self.remove()


class SgsScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Close the filter, or go back to the previous screen"),
        Binding("question_mark", "app.help", "Keys", id="help", tooltip="Every key of this screen"),
    ]
    # a run the screen shows: when another client deletes it, the screen closes (app.watch_deleted_runs)
    run_id: int | None = None

    @property
    def data(self):
        return self.app.data

    @property
    def clock(self):
        return self.app.clock

    @property
    def colour_mode(self) -> str:
        return self.app.colour_mode

    def palette_commands(self) -> Iterable[Command]:
        """(name, help, callback) for the command palette; screens add their own."""
        return []

    def action_back(self) -> None:
        bars = self.query(FilterBar)
        if bars:
            bars.first().action_clear()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    # -- `/` filters ------------------------------------------------------
    @on(SgsTable.FilterRequested)
    def open_filter(self, message: SgsTable.FilterRequested) -> None:
        bars = self.query(FilterBar)
        if bars:
            bars.first().focus()
            return
        bar = FilterBar(message.table)
        message.table.parent.mount(bar, after=message.table)  # right under the table it filters
        bar.focus()

    # -- errors -----------------------------------------------------------
    def fail(self, what: str, error: BaseException | str) -> None:
        """Post a failure from a worker thread (shown as a notification)."""
        self.post_message(Failed(what, error if isinstance(error, str) else one_line(error)))

    @on(Failed)
    def _show_failure(self, message: Failed) -> None:
        self.notify(message.error, title=message.what, severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(one_line(event.worker.error), title=event.worker.name or "error", severity="error",
                        timeout=8)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
