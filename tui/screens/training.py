"""Training runs (batch TTT, SDPO): the list, and one run's steps as they come in.

The steps screen follows a run in progress from the store alone (refreshed
every second), so a second SSH session sees what the training process writes:
per step, sample-level fast_1 (and its noise-aware variant), task-level fast_1,
mean reward, the update's loss, the over-sharpening probe's Spearman rho (all
and bottom quartile), sample diversity, and which step best-of-adaptation
picks (★). Enter opens a step's samples in the candidates screen.
"""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from .. import colours, fmt
from ..layout import Col, ranked_parts
from ..messages import Loaded
from ..table import SgsTable
from ..training_data import STEP_DONE, training_runs, training_view
from ..widgets import TitleBar
from .base import SgsScreen

REFRESH_S = 1.0
BOA_MARK = "★"
STATUS_MARK = {"running": "▶", "finished": "■", "interrupted": "‖", "failed": "✗", "created": "·"}

RUN_COLUMNS = [
    Col("id", "id", "right"),
    Col("name", "name", rank=3, min_width=8, grow=True, max_width=40),
    Col("method", "method", keep=True),
    Col("model", "model", rank=5, min_width=8, grow=True, max_width=40),
    Col("size", "K×steps", "right", rank=4),
    Col("status", "status"),
    Col("steps", "steps", "right", rank=1),
    Col("started", "started", rank=6),
    Col("elapsed", "elapsed", "right", rank=2),
]

STEP_COLUMNS = [
    Col("step", "step", "right"),
    Col("status", "status", rank=4),
    Col("correct", "correct", "right", rank=3),
    Col("fast_1", "fast_1", "right"),
    Col("noise", "CI>1", "right", rank=6),
    Col("task", "task f1", "right", rank=5),
    Col("reward", "reward", "right", rank=1),
    Col("loss", "loss", "right", rank=1),
    Col("rho", "ρ", "right", rank=2),
    Col("rho_q1", "ρ q1", "right", rank=5),
    Col("distinct", "distinct", "right", rank=3),
    Col("edit", "edit", "right", rank=7),
    Col("time", "time", "right", rank=8),
]


class TrainingRunsScreen(SgsScreen):
    help_title = "training runs"
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
    ]

    def __init__(self):
        super().__init__()
        self.runs: list[dict] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(" training runs", id="title")
        yield SgsTable(RUN_COLUMNS, id="training-table", enter="Steps")
        yield Static("", id="training-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_runs()
        self.set_interval(REFRESH_S, self.refresh_runs)

    @work(thread=True, exclusive=True, group="training.list", exit_on_error=False, name="loading training runs")
    def refresh_runs(self) -> None:
        self.post_message(Loaded("training runs", training_runs(self.data)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "training runs":
            return
        self.runs = message.value
        running = sum(r["effective_status"] == "running" for r in self.runs)
        self.query_one("#title", TitleBar).update(
            f" training runs · {fmt.plural(len(self.runs), 'run')} in {self.data.path.name}"
            + (f" · {running} running" if running else ""))
        rows = []
        for r in self.runs:
            status = r["effective_status"]
            rows.append((str(r["id"]), {
                "id": str(r["id"]), "name": r["name"] or "-", "method": r["method"], "model": r["model"] or "-",
                "size": f"{r['k']}×{r['steps']}",
                "status": Text(f"{STATUS_MARK.get(status, '?')} {status}",
                               style=colours.status(self.colour_mode, status)),
                # evaluated steps of steps 0..N
                "steps": f"{r['n_steps_evaluated']}/{r['n_evaluations']}",
                "started": fmt.started(r["started_at"] or r["created_at"], self.clock),
                "elapsed": fmt.elapsed(r, self.clock),
            }))
        self.query_one(SgsTable).set_rows(rows)
        empty = self.query_one("#training-empty", Static)
        empty.display = not rows
        empty.update(" No training runs in this database. `sgs ttt ...` starts one (batch TTT or SDPO).")

    def selected(self) -> dict | None:
        key = self.query_one(SgsTable).cursor_key()
        return next((r for r in self.runs if str(r["id"]) == key), None)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.selected()
        if run is not None:
            self.app.push_screen(TrainingRunScreen(run["id"]))

    def palette_commands(self):
        for run in self.runs:
            yield (f"Training run {run['id']}" + (f" ({run['name']})" if run["name"] else ""),
                   f"{run['method']}: its steps", lambda rid=run["id"]: self.app.push_screen(TrainingRunScreen(rid)))


class TrainingRunScreen(SgsScreen):
    help_title = "training run"
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("o", "open_run", "Step's run", id="training.run",
                tooltip="The step's samples as a run: its tasks, picks and progress"),
        Binding("s", "stats", "Stats", id="training.stats", tooltip="The step's strategy table and best-of-K"),
    ]

    def __init__(self, training_run_id: int):
        super().__init__()
        self.training_run_id = training_run_id
        self.view: dict | None = None
        self._timer = None

    def compose(self) -> ComposeResult:
        yield TitleBar(f" training run {self.training_run_id}", id="title")
        yield SgsTable(STEP_COLUMNS, id="steps-table", enter="Samples")
        yield Static("loading…", id="training-summary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()
        self._timer = self.set_interval(REFRESH_S, self.load)

    @work(thread=True, exclusive=True, group="training.steps", exit_on_error=False, name="loading steps")
    def load(self) -> None:
        try:
            view = training_view(self.data, self.training_run_id)
        except LookupError as exc:   # deleted by another client
            self.fail("training run", exc)
            return
        self.post_message(Loaded("training view", view))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "training view":
            return
        view = self.view = message.value
        run, boa = view["run"], view["boa"]
        status = run["effective_status"]
        done = sum(s.status in STEP_DONE for s in view["steps"])
        self.query_one("#title", TitleBar).update(ranked_parts([
            (0, f" training run {run['id']}"), (0, run["method"]), (1, f"{STATUS_MARK.get(status, '?')} {status}"),
            (0, f"{done}/{(run['steps'] or 0) + 1} steps evaluated"),
            (2, f"{len(view['task_ids'])} tasks × K={run['k']}"), (3, run["model"] or ""), (4, run["name"] or "")],
            self.app.size.width))
        best = boa["step"] if boa else None
        rows = []
        for s in view["steps"]:
            rows.append((str(s.step), {
                "step": f"{BOA_MARK if s.step == best else ' '} {s.step}",
                "status": s.status,
                "correct": f"{s.n_correct}/{s.n_samples}",
                "fast_1": fmt.num(s.fast_1, ".3f"),
                "noise": fmt.num(s.fast_1_noise_aware, ".3f"),
                "task": fmt.num(s.fast_1_task, ".2f"),
                "reward": fmt.num(s.mean_reward, ".3f"),
                "loss": fmt.num(s.loss, "+.4f"),
                "rho": fmt.num(s.rho, "+.3f"),
                "rho_q1": fmt.num(s.rho_bottom_quartile, "+.3f"),
                "distinct": "-" if s.distinct_codes is None else f"{s.distinct_codes}",
                "edit": fmt.num(s.mean_edit_distance, ".0f"),
                "time": fmt.duration(None if s.sample_s is None else s.sample_s + (s.update_s or 0.0)),
            }))
        self.query_one(SgsTable).set_rows(rows)
        self.query_one("#training-summary", Static).update(self._summary(view))
        if status in ("finished", "failed") and self._timer is not None:
            self._timer.stop()   # nothing more will come (an interrupted run may be resumed)
            self._timer = None

    def _summary(self, view: dict) -> str:
        """One line (dropping the least important parts to fit): BoA's step, fast_1 and equivalent K."""
        boa, steps = view["boa"], view["steps"]
        if boa is None:
            return " best-of-adaptation: no step evaluated yet"
        parts = [(0, f" {BOA_MARK} best-of-adaptation: step {boa['step']}"),
                 (0, f"sample fast_1 {boa['fast_1']:.3f}"),
                 (3, f"noise-aware {fmt.num(boa['fast_1_noise_aware'], '.3f')}"),
                 (1, f"equivalent K {boa.get('equivalent_k_label') or '-'}"),
                 (2, f"on the best-of-K curve of {boa['baseline']}")]
        if any(s.injected for s in steps):
            parts.append((0, "rewards injected: a mechanics check"))
        return ranked_parts(parts, max(self.app.size.width - 1, 20))

    def selected_step(self):
        key = self.query_one(SgsTable).cursor_key()
        if self.view is None or key is None:
            return None
        return next((s for s in self.view["steps"] if str(s.step) == key), None)

    def _step_run(self) -> int | None:
        step = self.selected_step()
        if step is None:
            return None
        if step.run_id is None:
            self.notify(f"step {step.step} has no samples yet", severity="warning")
            return None
        return step.run_id

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_samples()

    def action_samples(self) -> None:
        run_id = self._step_run()
        if run_id is not None and self.view["task_ids"]:
            from .candidates import CandidatesScreen

            # [ and ] move between the step's tasks there
            live = self.view["run"]["effective_status"] == "running"
            self.app.push_screen(CandidatesScreen(run_id, self.view["task_ids"][0], live=live))

    def action_open_run(self) -> None:
        run_id = self._step_run()
        if run_id is not None:
            from .live import LiveScreen

            self.app.push_screen(LiveScreen(run_id))

    def action_stats(self) -> None:
        run_id = self._step_run()
        if run_id is not None:
            from .stats import StatsScreen

            self.app.push_screen(StatsScreen(run_id))

    def palette_commands(self):
        step = self.selected_step()
        if step is not None and step.run_id is not None:
            yield (f"Samples of step {step.step}", "Its candidates, ranked, task by task", self.action_samples)
            yield (f"Run of step {step.step}", "Its tasks, picks and progress", self.action_open_run)
            yield (f"Stats of step {step.step}", "Strategy table and best-of-K of its samples", self.action_stats)
        yield ("Reload steps", "Read the steps again now", self.load)
