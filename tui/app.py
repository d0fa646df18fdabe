"""The sgs terminal app: browse runs, follow live ones, start new ones.

All SQLite reads and process launches happen in thread workers; results come
back as messages. Runs are separate detached processes started through
`sgs.core.launch`: quitting the app never stops one. The app follows runs
through the store alone, never through the engine's events, so a run
started elsewhere (another SSH session, `sgs run --detach`) shows the same.
"""
from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding

from . import colours
from .clock import Clock
from .commands import JumpCommands, ScreenCommands
from .data import DataSource
from .messages import Failed, Loaded, RunLaunched

DELETED_CHECK_S = 1.0


class SgsApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "sgs"
    COMMANDS = App.COMMANDS | {ScreenCommands, JumpCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit"),
        Binding("f1", "help", "Keys", show=False, id="app.help"),
    ]

    def __init__(self, db_path: str | Path, *, clock: Clock | None = None, kernelbench: str | None = None,
                 poll_interval: float = 0.5, open_run: int | None = None, watch_css: bool = False,
                 colour_mode: str | None = None):
        super().__init__(watch_css=watch_css)
        self.db_path = Path(db_path)
        self.clock = clock or Clock()
        self.kernelbench = kernelbench
        self.poll_interval = poll_interval
        self.open_run = open_run
        self.data = DataSource(self.db_path, self.clock)
        self.last_runs: list[dict] = []
        self.launched: list[int] = []
        self.colour_mode = colour_mode or colours.detect(self)
        self._known_runs: set[int] = set()

    def on_mount(self) -> None:
        from .screens.runs import RunsScreen

        self.push_screen(RunsScreen())
        if self.open_run is not None:
            from .screens.live import LiveScreen

            self.push_screen(LiveScreen(self.open_run))
        self.watch_deleted_runs()
        self.set_interval(DELETED_CHECK_S, self.watch_deleted_runs)

    # -- help and the palette ---------------------------------------------
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen):
        for command in super().get_system_commands(screen):
            if command.title == "Keys":  # Textual's side panel: replaced by the `?` screen
                continue
            yield command
        yield SystemCommand("Keys", "Every key of this screen (? or F1)", self.action_help)

    def goto_run(self, run_id: int) -> None:
        """Go to the run's live view, from anywhere (the runs list stays underneath)."""
        from .screens.live import LiveScreen

        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.push_screen(LiveScreen(run_id))

    def goto_task(self, run_id: int, task_id: str) -> None:
        from .screens.candidates import CandidatesScreen

        self.goto_run(run_id)
        self.push_screen(CandidatesScreen(run_id, task_id))

    # -- runs deleted by another client -------------------------------------
    @work(thread=True, exclusive=True, group="app.deleted", exit_on_error=False, name="checking runs")
    def watch_deleted_runs(self) -> None:
        self.post_message(Loaded("run-ids", self.data.run_ids()))

    @on(Loaded)
    def _run_ids(self, message: Loaded) -> None:
        if message.what != "run-ids":
            return
        ids: set[int] = message.value
        gone = self._known_runs - ids
        self._known_runs = ids
        if gone:
            self.close_deleted(gone)

    def close_deleted(self, run_ids: set[int]) -> None:
        """Close the screens of runs deleted by another client, and every screen opened from them."""
        self._known_runs -= run_ids
        shown = [s for s in self.screen_stack[1:] if getattr(s, "run_id", None) in run_ids]
        if not shown:
            return
        first = min(self.screen_stack.index(s) for s in shown)
        while len(self.screen_stack) > max(first, 2):
            self.pop_screen()
        for run_id in sorted({s.run_id for s in shown}):
            self.notify(f"run {run_id} was deleted (by another client)", severity="warning", timeout=8)

    # -- launching runs (app-level: a launch outlives the screen that asked) --
    @work(thread=True, group="launch", exit_on_error=False, name="starting a run")
    def launch_run(self, config, replaces: int | None = None) -> None:
        from sgs.core.launch import start_run

        try:
            launched = start_run(self.db_path, config)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            text = str(exc).strip().splitlines()
            self.post_message(Failed("start run", text[-1] if text else type(exc).__name__))
            return
        self.post_message(RunLaunched(launched.run_id, launched.pid, resumed=False, replaces=replaces))

    @work(thread=True, group="launch", exit_on_error=False, name="resuming a run")
    def resume_run(self, run_id: int) -> None:
        from sgs.core.launch import resume_run

        try:
            launched = resume_run(self.db_path, run_id)
        except Exception as exc:  # noqa: BLE001
            self.post_message(Failed("resume run", str(exc)))
            return
        self.post_message(RunLaunched(launched.run_id, launched.pid, resumed=True))

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.notify(message.error, title=message.what, severity="error", timeout=10)
        from .screens.new_run import NewRunScreen

        if isinstance(self.screen, NewRunScreen):
            self.screen.launch_failed(message.error)

    @on(RunLaunched)
    def _launched(self, message: RunLaunched) -> None:
        from .screens.live import LiveScreen
        from .screens.new_run import NewRunScreen
        from .screens.runs import RunsScreen

        self.launched.append(message.run_id)
        verb = "resumed" if message.resumed else "started"
        note = f"; it replaces run {message.replaces}" if message.replaces else ""
        self.notify(f"run {message.run_id} {verb} in the background (pid {message.pid}){note}")
        self._known_runs.add(message.run_id)
        if message.replaces is not None:
            self.drop_failed_run(message.replaces)
        if isinstance(self.screen, NewRunScreen):
            self.pop_screen()  # the form is done with: go to the live view of the run
        if isinstance(self.screen, LiveScreen) and self.screen.run_id == message.run_id:
            self.screen.restart_feed()
        else:
            while isinstance(self.screen, LiveScreen) and self.screen.run_id == message.replaces:
                self.pop_screen()
            self.push_screen(LiveScreen(message.run_id))
        for screen in self.screen_stack:
            if isinstance(screen, RunsScreen):
                screen.refresh_runs()

    @work(thread=True, group="launch", exit_on_error=False, name="removing the failed run")
    def drop_failed_run(self, run_id: int) -> None:
        """A run that failed to start, retried with edited settings, goes (it holds no sample)."""
        try:
            if self.data.run(run_id)["start_failure"] is None:
                return
            if any(p["n_samples"] for p in self.data.task_progress(run_id)):
                return
            self._known_runs.discard(run_id)
            self.data.delete_run(run_id)
        except LookupError:
            pass

    # -- screenshots ------------------------------------------------------
    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        """The SVG of the screen, with each word placed on its own (see svg.py)."""
        from .svg import place_words

        return place_words(super().export_screenshot(title=title, simplify=simplify))

    def on_unmount(self) -> None:
        self.data.close()


def background_runs(db_path: str | Path, clock: Clock | None = None) -> list[dict]:
    """Runs still running after the app closed (they go on without it)."""
    source = DataSource(db_path, clock)
    try:
        return source.running_runs()
    finally:
        source.close()
