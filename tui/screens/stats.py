"""The run's statistics: strategy table, best-of-K curve drawn in characters, surprisal/speedup correlation."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from .. import fmt
from ..messages import Loaded
from ..plot import column_chart, saturation_k, sparkline
from ..widgets import TitleBar, cell, join, sync_rows
from .base import SgsScreen


def compute_stats(data, run_id: int, rank_by: str | None = None) -> dict:
    """Everything the screen shows (core/report.py), computed in a worker: a full candidates read is slow-ish."""
    from sgs.core.report import RunData, budget_of, run_summary

    run = data.run(run_id)
    return run_summary(RunData(run_id, run, data.candidates_by_task(run_id), budget_of(run)), rank_by)


class StatsScreen(SgsScreen):
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("m", "rank_key", "Rank by", id="stats.rank", tooltip="Rank by surprisal or mean NLL per token"),
        Binding("g", "reload", "Reload", id="stats.reload", tooltip="Recompute from the database"),
    ]

    def __init__(self, run_id: int, rank_by: str | None = None):
        super().__init__()
        self.run_id = run_id
        self.rank_by = rank_by
        self.stats: dict | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(f" run {self.run_id} · stats", id="title")
        yield DataTable(id="strategies", cursor_type="row", cell_padding=0, show_cursor=False)
        yield Static("computing…", id="curve")
        yield Static("", id="correlation")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, justify in (("strategy", "strategy", "left"), ("fast_1", "fast_1", "right"),
                                    ("ci", "CI>1", "right"), ("mean", "mean", "right"),
                                    ("geo", "geomean", "right"), ("picks", "picks", "right"),
                                    ("flagged", "flagged", "right"), ("unflagged", "w/o flagged", "right")):
            table.add_column(cell(label, justify), key=key)
        self.load()

    @work(thread=True, exclusive=True, group="stats.load", exit_on_error=False, name="computing stats")
    def load(self) -> None:
        self.post_message(Loaded("stats", compute_stats(self.data, self.run_id, self.rank_by)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "stats":
            return
        s = self.stats = message.value
        self.rank_by = s["rank_by"]
        run = s["run"]
        self.query_one("#title", TitleBar).update(join([
            f" run {run['id']} stats", f"ranked by {self.rank_by}", f"{s['n_tasks']} tasks",
            f"{s['n_samples']} samples", f"{s['n_correct']} correct", run["effective_status"],
            run.get("name") or ""]))
        rows = []
        for r in s["rows"]:
            if not r.computable:  # the run's surprisal budget did not evaluate what this strategy needs
                rows.append((r.strategy, [cell(r.strategy)] + [cell("n/a", "right")] * 7))
                continue
            rows.append((r.strategy, [
                cell(r.strategy), cell(f"{r.fast_1:.2f}", "right"), cell(f"{r.fast_1_noise_aware:.2f}", "right"),
                cell("-" if r.mean_speedup is None else f"{r.mean_speedup:.2f}×", "right"),
                cell("-" if r.geomean_speedup is None else f"{r.geomean_speedup:.2f}×", "right"),
                cell(f"{r.n_picks}/{r.n_tasks}", "right"), cell(f"{r.n_flagged:.2f}".rstrip("0").rstrip("."), "right"),
                cell(f"{r.fast_1_unflagged:.2f}", "right"),
            ]))
        sync_rows(self.query_one(DataTable), rows)
        self._render_curve()
        self._render_correlation()

    def _render_curve(self) -> None:
        s = self.stats
        curve = s["curve"]
        widget = self.query_one("#curve", Static)
        if not curve:
            widget.update("best-of-K: n/a under a surprisal budget" if s.get("budget") else "best-of-K: no samples yet")
            return
        top = max(v for _, v in curve)
        sat = saturation_k(curve)
        head = Text.assemble(("best-of-K fast_1 ", "bold"), sparkline([v for _, v in curve], 0, max(top, 1e-9)),
                             f"  K=1…{curve[-1][0]}  ", f"{curve[0][1]:.2f} → {curve[-1][1]:.2f}",
                             f" (95% of it by K={sat})" if sat else "")
        height = 5 if self.app.size.height < 30 else 10
        width = max(min(self.app.size.width - 10, 96), 8)
        chart = column_chart(curve, height=height, width=width, lo=0.0, hi=max(top, 0.01))
        widget.update(Text("\n").join([head, *[Text(line) for line in chart]]))

    def _render_correlation(self) -> None:
        c = self.stats["correlation"]
        key = "NLL/token" if c["key"] == "mean_nll" else "surprisal"
        within = fmt.num(c["within_task_mean_rho"], "+.2f")
        pooled = fmt.num(c["pooled_rho"], "+.2f")
        self.query_one("#correlation", Static).update(
            f"Spearman({key}, speedup) among correct: {within} within tasks (mean of {c['n_tasks']}), "
            f"{pooled} pooled over {c['n_samples']} samples · sample fast_1 {fmt.num(self.stats['sample_fast_1'], '.3f')}"
            + (f" · {self.stats['n_unscored']} unscored left out" if self.stats["n_unscored"] else ""))

    def on_resize(self) -> None:
        if self.stats is not None:
            self._render_curve()

    def action_rank_key(self) -> None:
        self.rank_by = "mean_nll" if self.rank_by == "surprisal" else "surprisal"
        self.load()

    def action_reload(self) -> None:
        self.load()

    def palette_commands(self):
        other = "mean NLL" if self.rank_by == "surprisal" else "surprisal"
        yield (f"Rank by {other}", "Recompute the table with the other rank key", self.action_rank_key)
        yield ("Reload stats", "Recompute from the database", self.action_reload)
