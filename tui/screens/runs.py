"""The runs screen: every run in the database, refreshed every second."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from .. import colours, fmt
from ..layout import Col
from ..messages import Loaded, RunLaunched
from ..table import SgsTable
from ..widgets import TitleBar
from .base import SgsScreen
from .confirm import Confirm

STATUS_MARK = {"running": "▶", "finished": "■", "interrupted": "‖", "failed": "✗", "created": "·",
               "failed to start": "✗"}
REFRESH_S = 1.0
COLUMNS = [
    Col("id", "id", "right"),
    Col("name", "name", rank=2, keep=True, min_width=8, grow=True, max_width=48),
    Col("model", "model", rank=6, min_width=8, grow=True, max_width=40),
    Col("size", "tasks×K", "right", rank=5),
    Col("status", "status"),
    Col("progress", "done", "right", rank=1),
    # the best any strategy could do: the oracle's fast_1, labelled so
    Col("fast", "oracle fast_1", "right", rank=3),
    Col("started", "started", rank=7),
    Col("elapsed", "elapsed", "right", rank=4),
]


class RunsScreen(SgsScreen):
    help_title = "runs"
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", show=False),  # the first screen: nothing to go back to
        Binding("n", "new_run", "New run", id="runs.new", tooltip="Choose tasks and a model, start a run"),
        Binding("s", "stats", "Stats", id="runs.stats", tooltip="Strategy table and best-of-K curve"),
        Binding("r", "resume", "Resume", id="runs.resume", tooltip="Continue an interrupted run in the background"),
        Binding("e", "retry", "Retry", id="runs.retry",
                tooltip="A run that failed to start: edit its settings and start it again"),
        Binding("t", "training", "Training", id="runs.training", show=False,  # the title says so when there are any
                tooltip="Training runs (batch TTT, SDPO): per-step fast_1, reward, loss, probe, diversity"),
        Binding("delete,D", "delete", "Delete", id="runs.delete", tooltip="Delete the run (asks first)"),
        Binding("q", "app.quit", "Quit", id="quit", tooltip="Quit; runs go on in the background"),
    ]

    def __init__(self):
        super().__init__()
        self.runs: list[dict] = []
        self.n_training = 0   # training runs in the same database (t lists them)

    def compose(self) -> ComposeResult:
        yield TitleBar(f" sgs ─ runs in {self.data.path.name}", id="title")
        yield SgsTable(COLUMNS, id="runs-table", enter="Open")
        yield Static("", id="runs-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_runs()
        self.set_interval(REFRESH_S, self.refresh_runs)

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    @work(thread=True, exclusive=True, group="runs.load", exit_on_error=False, name="loading runs")
    def refresh_runs(self) -> None:
        from ..training_data import training_run_count

        self.n_training = training_run_count(self.data)
        self.post_message(Loaded("runs", self.data.runs()))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "runs":
            return
        self.runs = message.value
        self.app.last_runs = self.runs
        running = sum(r["effective_status"] == "running" for r in self.runs)
        self.query_one("#title", TitleBar).update(
            f" sgs ─ {fmt.plural(len(self.runs), 'run')} in {self.data.path.name}"
            + (f" · {running} running" if running else "")
            + (f" · {fmt.plural(self.n_training, 'training run')}: t" if self.n_training else ""))
        self._render_rows()
        self.refresh_bindings()

    def _render_rows(self) -> None:
        rows = []
        for r in self.runs:
            status = r["display_status"]
            status_text = f"{STATUS_MARK.get(status, '?')} {r['status_label']}"
            # share of the run's samples evaluated; the live screen has the counts
            progress = f"{min(r['n_evaluated'] / r['n_expected'], 1):.0%}" if r["n_expected"] else "-"
            model = r["model"] or "-"
            if r["backend"] and r["backend"] not in ("hf",) and r["kind"] == "search":
                model = f"{r['backend']}/{model}" if "/" not in model else model
            rows.append((str(r["id"]), {
                "id": str(r["id"]),
                "name": r["name"] or f"{r['kind']} run",
                "model": _short_model(model),
                "size": f"{r['n_tasks']}×{r['k']}",
                "status": Text(status_text, style=colours.status(self.colour_mode, status)),
                "progress": progress,
                "fast": fmt.num(r["oracle_fast_1"], ".2f"),
                "started": fmt.started(r["started_at"] or r["created_at"], self.clock),
                "elapsed": fmt.elapsed({**r, "status": r["status"]}, self.clock, r["earlier_s"]),
            }))
        self.query_one(SgsTable).set_rows(rows)
        empty = self.query_one("#runs-empty", Static)
        empty.display = not rows
        empty.update(" No runs yet. Press n to start one, or run `sgs run ... --detach` / `sgs demo`.")

    def selected_run(self) -> dict | None:
        key = self.query_one(SgsTable).cursor_key()
        return next((r for r in self.runs if str(r["id"]) == key), None)

    # -- actions ----------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "retry":
            run = self.selected_run() if self.is_mounted else None
            return bool(run and run["start_failure"])  # shown only for a run that failed to start
        return True

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.selected_run()
        if run is not None:
            from .live import LiveScreen

            self.app.push_screen(LiveScreen(run["id"]))

    def action_stats(self) -> None:
        run = self.selected_run()
        if run is not None:
            from .stats import StatsScreen

            self.app.push_screen(StatsScreen(run["id"]))

    def action_training(self) -> None:
        from .training import TrainingRunsScreen

        self.app.push_screen(TrainingRunsScreen())

    def action_new_run(self) -> None:
        from .new_run import NewRunScreen

        self.app.push_screen(NewRunScreen())

    def action_retry(self) -> None:
        run = self.selected_run()
        if run is not None and run["start_failure"]:
            from .new_run import NewRunScreen

            self.app.push_screen(NewRunScreen(retry=run))

    def action_resume(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if run["start_failure"]:
            self.notify(f"run {run['id']} failed to start: e edits its settings and starts it again",
                        severity="warning")
            return
        if run["effective_status"] != "interrupted":
            self.notify(f"run {run['id']} is {run['effective_status']}; only an interrupted run can be resumed",
                        severity="warning")
            return
        self.app.resume_run(run["id"])

    def action_delete(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        if run["effective_status"] == "running":
            self.notify(f"run {run['id']} is running; it cannot be deleted while it runs", severity="warning")
            return
        label = f"run {run['id']}" + (f" ({run['name']})" if run["name"] else "")
        question = (f"Delete {label}?\n{fmt.plural(run['n_samples'], 'sample')} and "
                    f"{fmt.plural(run['n_evaluated'], 'evaluation')} go with it. This cannot be undone.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_run(run["id"])

        self.app.push_screen(Confirm(question, yes="Delete"), answered)

    @work(thread=True, group="runs.delete", exit_on_error=False, name="deleting a run")
    def delete_run(self, run_id: int) -> None:
        try:
            self.data.delete_run(run_id)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.fail("delete", exc)
            return
        self.post_message(Loaded("deleted", run_id))
        self.post_message(Loaded("runs", self.data.runs()))

    @on(Loaded)
    def _deleted(self, message: Loaded) -> None:
        if message.what == "deleted":
            self.notify(f"run {message.value} deleted")

    @on(RunLaunched)
    def _launched(self, message: RunLaunched) -> None:
        self.refresh_runs()

    def palette_commands(self):
        run = self.selected_run()
        yield ("New run", "Choose tasks and a model, start a run in the background", self.action_new_run)
        if run is not None:
            yield (f"Open run {run['id']}", "Follow or browse it", self.action_open)
            yield (f"Stats of run {run['id']}", "Strategy table, best-of-K curve, correlation", self.action_stats)
            if run["start_failure"]:
                yield (f"Retry run {run['id']}", "Edit its settings and start it again", self.action_retry)
            elif run["effective_status"] == "interrupted":
                yield (f"Resume run {run['id']}", "Continue it in the background", self.action_resume)
            if run["effective_status"] != "running":
                yield (f"Delete run {run['id']}", "Delete it (asks first)", self.action_delete)
        yield ("Training runs", "Batch TTT and SDPO runs, step by step", self.action_training)
        yield ("Refresh", "Reload the runs now", self.refresh_runs)


def _short_model(model: str) -> str:
    """A model path shows by its file name (scripted replies, GGUF files)."""
    if "/" in model and (model.startswith("/") or model.startswith(".")):
        return model.rsplit("/", 1)[-1]
    return model
