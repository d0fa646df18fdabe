"""The sgs terminal app: browse runs, follow live ones, start new ones.

All SQLite reads and process launches happen in thread workers; results come
back as messages. Runs are separate detached processes: quitting the app
never stops one.
"""
from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding

from .clock import Clock
from .commands import ScreenCommands
from .data import DataSource
from .launch import resume_run, start_run
from .messages import Failed, RunLaunched


class SgsApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "sgs"
    COMMANDS = App.COMMANDS | {ScreenCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit"),
    ]

    def __init__(self, db_path: str | Path, *, clock: Clock | None = None, kernelbench: str | None = None,
                 poll_interval: float = 0.5, open_run: int | None = None, watch_css: bool = False):
        super().__init__(watch_css=watch_css)
        self.db_path = Path(db_path)
        self.clock = clock or Clock()
        self.kernelbench = kernelbench
        self.poll_interval = poll_interval
        self.open_run = open_run
        self.data = DataSource(self.db_path, self.clock)
        self.last_runs: list[dict] = []
        self.launched: list[int] = []

    def on_mount(self) -> None:
        from .screens.runs import RunsScreen

        self.push_screen(RunsScreen())
        if self.open_run is not None:
            from .screens.live import LiveScreen

            self.push_screen(LiveScreen(self.open_run))

    # -- launching runs (app-level: a launch outlives the screen that asked) --
    @work(thread=True, group="launch", exit_on_error=False, name="starting a run")
    def launch_run(self, request) -> None:
        try:
            run_id, pid = start_run(self.db_path, request)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(Failed("start run", str(exc).strip().splitlines()[-1] if str(exc).strip() else
                                     type(exc).__name__))
            return
        self.post_message(RunLaunched(run_id, pid, resumed=False))

    @work(thread=True, group="launch", exit_on_error=False, name="resuming a run")
    def resume_run(self, run_id: int) -> None:
        try:
            run_id, pid = resume_run(self.db_path, run_id)
        except Exception as exc:  # noqa: BLE001
            self.post_message(Failed("resume run", str(exc)))
            return
        self.post_message(RunLaunched(run_id, pid, resumed=True))

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.notify(message.error, title=message.what, severity="error", timeout=10)
        from .screens.new_run import NewRunScreen

        if isinstance(self.screen, NewRunScreen):
            self.screen.launch_failed(message.error)

    @on(RunLaunched)
    def _launched(self, message: RunLaunched) -> None:
        from .screens.live import LiveScreen

        self.launched.append(message.run_id)
        verb = "resumed" if message.resumed else "started"
        self.notify(f"run {message.run_id} {verb} in the background (pid {message.pid})")
        # the new-run form is done with: go to the live view of the run
        from .screens.new_run import NewRunScreen

        if isinstance(self.screen, NewRunScreen):
            self.pop_screen()
        if isinstance(self.screen, LiveScreen) and self.screen.run_id == message.run_id:
            self.screen.restart_feed()
        else:
            self.push_screen(LiveScreen(message.run_id))
        from .screens.runs import RunsScreen

        for screen in self.screen_stack:
            if isinstance(screen, RunsScreen):
                screen.refresh_runs()

    def on_unmount(self) -> None:
        self.data.close()


def background_runs(db_path: str | Path, clock: Clock | None = None) -> list[dict]:
    """Runs still running after the app closed (they go on without it)."""
    source = DataSource(db_path, clock)
    try:
        return source.running_runs()
    finally:
        source.close()
