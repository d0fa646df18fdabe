"""What every screen shares: a title bar, the footer, palette commands, worker errors as notifications."""
from __future__ import annotations

from typing import Callable, Iterable

from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..messages import Failed

Command = tuple[str, str, Callable[[], object]]


class SgsScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Go back to the previous screen"),
    ]

    @property
    def data(self):
        return self.app.data

    @property
    def clock(self):
        return self.app.clock

    def palette_commands(self) -> Iterable[Command]:
        """(name, help, callback) for the command palette; screens add their own."""
        return []

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def fail(self, what: str, error: BaseException | str) -> None:
        """Post a failure from a worker thread (shown as a notification)."""
        self.post_message(Failed(what, error if isinstance(error, str) else _one_line(error)))

    @on(Failed)
    def _show_failure(self, message: Failed) -> None:
        self.notify(message.error, title=message.what, severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.notify(_one_line(event.worker.error), title=event.worker.name or "error", severity="error",
                        timeout=8)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
