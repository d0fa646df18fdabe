"""The run's statistics: strategy table, best-of-K per strategy, NLL against speedup, the correlation.

Every number comes from core's statistics (`core.report.run_summary`,
`core.statistics.best_of_k`, `expert_tail`): the stats screen, `sgs show` and
`sgs report` read the same figures. The plots are drawn by plotext
(tui/plots.py), with axes, ticks and a legend that reads without colour.
"""
from __future__ import annotations

import math

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Static

from .. import fmt
from ..messages import Loaded
from ..plots import BestOfKPlot, NllSpeedupScatter
from ..widgets import TitleBar, cell, join, sync_rows
from .base import SgsScreen

TAIL, OTHER = "Expert Tail", "other correct"


def curve_ks(k: int) -> list[int]:
    """Powers of two up to K, and K: the K axis is logarithmic, so these draw the whole curve."""
    return sorted({2 ** i for i in range(int(math.log2(max(k, 1))) + 1)} | {max(k, 1)})


def strategy_curves(by_task: dict, rank_by: str, k: int) -> dict[str, list[tuple[int, float]]]:
    """Best-of-K fast_1 of each strategy that has an exact formula, in the table's order (core.statistics)."""
    from sgs.core import statistics as st
    from sgs.core.selection import DEFAULT_ORDER

    ks = curve_ks(k)
    out = {}
    for name in DEFAULT_ORDER:
        if name in st.EXACT_BEST_OF_K:
            curve = st.best_of_k(by_task, name, ks, rank_by)
            out[name] = list(zip(curve.ks, curve.fast_1))
    return out


def nll_speedup_groups(by_task: dict, rank_by: str) -> dict[str, list[tuple[float, float]]]:
    """(mean NLL per token, speedup) of correct timed samples: each task's Expert Tail by `rank_by`, and the rest."""
    from sgs.core.statistics import expert_tail

    groups: dict[str, list[tuple[float, float]]] = {TAIL: [], OTHER: []}
    for cands in by_task.values():
        tail = expert_tail(cands, rank_by)
        for c in cands:
            if c.correct and c.speedup is not None and c.mean_nll is not None:
                groups[TAIL if c.sample_idx in tail else OTHER].append((c.mean_nll, c.speedup))
    return groups


def compute_summary(data, run_id: int, rank_by: str | None = None) -> tuple[dict, dict]:
    """The strategy table's numbers (core.report.run_summary), and the candidates they came from."""
    from sgs.core.report import RunData, budget_of, run_summary

    run = data.run(run_id)
    by_task = data.candidates_by_task(run_id)
    return run_summary(RunData(run_id, run, by_task, budget_of(run)), rank_by, curve=False), by_task


def compute_plots(summary: dict, by_task: dict) -> dict:
    """The plots' numbers: best-of-K per strategy and (mean NLL, speedup) by group."""
    k = summary["run"].get("k") or max((len(c) for c in by_task.values()), default=1)
    # under a surprisal budget only the top samples were evaluated: a best-of-K over all of them is not known
    curves = {} if summary["budget"] is not None or not summary["n_samples"] else \
        strategy_curves(by_task, summary["rank_by"], k)
    return {"curves": curves, "scatter": nll_speedup_groups(by_task, summary["rank_by"])}


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
        self.stats: dict | None = None   # the table's numbers
        self.plots: dict | None = None   # the plots' numbers, a moment later

    def compose(self) -> ComposeResult:
        yield TitleBar(f" run {self.run_id} · stats", id="title")
        yield DataTable(id="strategies", cursor_type="row", cell_padding=0, show_cursor=False)
        with Horizontal(id="stats-plots"):
            yield BestOfKPlot(id="best-of-k")
            yield NllSpeedupScatter(id="nll-speedup")
        yield Static("computing…", id="correlation")
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
        # the table first: the best-of-K curves of five strategies take as long again on a large run
        summary, by_task = compute_summary(self.data, self.run_id, self.rank_by)
        self.post_message(Loaded("stats", summary))
        self.post_message(Loaded("stats plots", (summary["rank_by"], compute_plots(summary, by_task))))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what == "stats plots":
            self._plots_loaded(*message.value)
            return
        if message.what != "stats":
            return
        s = self.stats = message.value
        self.rank_by = s["rank_by"]
        run = s["run"]
        self.query_one("#title", TitleBar).update(join([
            f" run {run['id']} stats", f"ranked by {self.rank_by}", fmt.plural(s["n_tasks"], "task"),
            fmt.plural(s["n_samples"], "sample"), f"{s['n_correct']} correct", run["effective_status"],
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
        self._render_correlation()

    def _plots_loaded(self, rank_by: str, plots: dict) -> None:
        if self.stats is None or rank_by != self.stats["rank_by"]:
            return   # the rank key changed meanwhile: the next load brings its own
        self.plots = plots
        plot = self.query_one("#best-of-k", BestOfKPlot)
        plot.empty_text = "best-of-K fast_1: n/a under a surprisal budget" if self.stats["budget"] is not None \
            else None
        plot.set_curves(plots["curves"])
        # the Expert Tail is each task's top quarter by the rank key (the title bar names it)
        self.query_one("#nll-speedup", NllSpeedupScatter).set_groups(plots["scatter"], "NLL/token vs speedup")

    def _render_correlation(self) -> None:
        c = self.stats["correlation"]
        key = "NLL/token" if c["key"] == "mean_nll" else "surprisal"
        within = fmt.num(c["within_task_mean_rho"], "+.2f")
        pooled = fmt.num(c["pooled_rho"], "+.2f")
        self.query_one("#correlation", Static).update(
            f"Spearman({key}, speedup) among correct: {within} within tasks (mean of {c['n_tasks']}), "
            f"{pooled} pooled over {c['n_samples']} samples · sample fast_1 {fmt.num(self.stats['sample_fast_1'], '.3f')}"
            + (f" · {self.stats['n_unscored']} unscored left out" if self.stats["n_unscored"] else ""))

    def action_rank_key(self) -> None:
        self.rank_by = "mean_nll" if self.rank_by == "surprisal" else "surprisal"
        self.load()

    def action_reload(self) -> None:
        self.load()

    def palette_commands(self):
        other = "mean NLL" if self.rank_by == "surprisal" else "surprisal"
        yield (f"Rank by {other}", "Recompute the table with the other rank key", self.action_rank_key)
        yield ("Reload stats", "Recompute from the database", self.action_reload)
