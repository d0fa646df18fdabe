#!/usr/bin/env python
"""How fast each screen of the app opens on a large database (100 tasks x 64 samples, and a training run).

    python benchmarks/bench_tui.py [--db /tmp/sgs-large-training.db] [--repeat 7]

The database (scripts/make_large_db.py: three runs, the largest 100 tasks x
64 samples, and a batch TTT run of 5 tasks x K=32 x 8 steps) is made first
when missing. Each figure is the median time from the action (a screen
pushed in a running headless app at 80x24) to the screen showing its content
(its table filled, its code or diff drawn, its plots' numbers in), next to a
baseline measured in the same process: the plain store query and core
computation that screen needs, with no app. The ratio is the app's overhead
over it (workers, messages, rendering). Every screen has a budget of 300 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MS = 300.0


def ensure_db(path: Path) -> None:
    if not path.exists():
        print(f"making {path} (100 tasks x 64 samples, and a training run) ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_large_db.py"), str(path), "--runs", "3",
                        "--training"], check=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return median_ms(out)


class Target:
    """What the benchmark opens: the big run, one of its tasks and samples, the training run."""

    def __init__(self, db: Path):
        from sgs.core.selection.picks import picks_by_strategy
        from sgs.core.store import Store

        store = Store(db, readonly=True)
        self.n_runs = len(store.list_runs())
        big = max(store.list_runs(), key=lambda r: r["n_samples"])
        self.run = big
        self.run_id = big["id"]
        tasks = store.run_tasks(self.run_id)
        self.n_tasks = len(tasks)
        self.task_id = tasks[len(tasks) // 2].id
        cands = store.candidates(self.run_id, self.task_id)
        self.n_samples = len(cands)
        picks = picks_by_strategy(cands, "surprisal")
        by_idx = {c.sample_idx: c for c in cands}
        self.sample_id = by_idx[picks["surprisal-top3"]].sample_id
        trainings = store.list_training_runs()
        self.training_id = trainings[0]["id"] if trainings else None
        self.n_training = len(trainings)
        self.n_steps = len(store.training_steps(self.training_id)) if trainings else 0
        store.close()


def baselines(db: Path, t: Target, repeat: int) -> dict[str, float]:
    """The store reads and core computations each screen needs, without the app."""
    from sgs.core.report import load_run, run_summary
    from sgs.core.selection.picks import picks_by_strategy
    from sgs.core.store import Store
    from sgs.core.tasks import scan_tasks
    from sgs.core.training.tables import baseline_curve, best_of_adaptation, step_table
    from sgs.tui.screens.stats import nll_speedup_groups, strategy_curves

    store = Store(db, readonly=True)

    def stats_plots():
        data = load_run(store, t.run_id)
        summary = run_summary(data, curve=False)
        strategy_curves(data.by_task, summary["rank_by"], data.run["k"])
        nll_speedup_groups(data.by_task, summary["rank_by"])

    def training_steps():
        best_of_adaptation(step_table(store, t.training_id), baseline_curve(store, t.training_id))

    out = {
        "runs": timed(store.list_runs, repeat),
        "live": timed(lambda: (store.get_run(t.run_id), store.task_progress(t.run_id)), repeat),
        "candidates": timed(lambda: store.candidates(t.run_id, t.task_id), repeat),
        "sample": timed(lambda: (store.get_sample(t.sample_id), store.scores(t.sample_id)), repeat),
        "diff": timed(lambda: picks_by_strategy(store.candidates(t.run_id, t.task_id), "surprisal"), repeat),
        "stats": timed(lambda: run_summary(load_run(store, t.run_id), curve=False), repeat),
        "stats_plots": timed(stats_plots, repeat),
        "new_run": timed(scan_tasks, repeat),
    }
    if t.training_id is not None:
        out["training_runs"] = timed(store.list_training_runs, repeat)
        out["training_steps"] = timed(training_steps, repeat)
    store.close()
    return out


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a widget not mounted yet
            pass
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen never showed its content")
        await asyncio.sleep(0.001)


def openers(t: Target) -> list[tuple[str, str, object, object]]:
    """(key, label, make the screen, its content is shown) for every screen; the diff and the keys are
    opened from the candidates screen beneath (their `make` takes the app)."""
    from textual.widgets import DataTable

    from sgs.tui.screens.candidates import CandidatesScreen
    from sgs.tui.screens.diff import DiffScreen, open_pair
    from sgs.tui.screens.help import HelpScreen
    from sgs.tui.screens.live import LiveScreen
    from sgs.tui.screens.new_run import NewRunScreen
    from sgs.tui.screens.runs import RunsScreen
    from sgs.tui.screens.sample import SampleScreen
    from sgs.tui.screens.stats import StatsScreen
    from sgs.tui.screens.training import TrainingRunScreen, TrainingRunsScreen

    def rows(screen, table_id: str) -> int:
        return screen.query_one(table_id, DataTable).row_count

    out = [
        ("runs", "runs", RunsScreen, lambda s: rows(s, "#runs-table") == t.n_runs),
        ("live", f"live view of run {t.run_id} ({t.n_tasks} tasks)", lambda: LiveScreen(t.run_id),
         lambda s: rows(s, "#tasks") == t.n_tasks),
        ("candidates", f"candidates of {t.task_id} ({t.n_samples})",
         lambda: CandidatesScreen(t.run_id, t.task_id, live=False), lambda s: rows(s, "#cands-table") == t.n_samples),
        ("sample", "sample: code", lambda: SampleScreen(t.run_id, t.sample_id), lambda s: s.sample is not None),
        ("sample", "sample: token surprisal", lambda: SampleScreen(t.run_id, t.sample_id, tab="surprisal"),
         lambda s: s.sample is not None and s.scores),
        ("diff", "diff: top-3 pick vs oracle",
         lambda app: open_pair(app.screen, t.run_id, t.task_id, "surprisal", "oracle", "surprisal-top3"),
         lambda s: isinstance(s, DiffScreen) and s.rows),
        ("stats", f"stats of run {t.run_id}: table", lambda: StatsScreen(t.run_id),
         lambda s: s.stats is not None and rows(s, "#strategies") == 5),
        ("stats_plots", f"stats of run {t.run_id}: plots", lambda: StatsScreen(t.run_id),
         lambda s: s.plots is not None and rows(s, "#strategies") == 5),
        ("new_run", "new run: task picker", NewRunScreen, lambda s: s.tasks and s.shown),
        ("new_run", "new run: the whole form", NewRunScreen, lambda s: s.tasks and s.shown and s.fields_ready),
        ("help", "keys (?) of the candidates screen", lambda app: app.push_screen(HelpScreen(app.screen)),
         lambda s: isinstance(s, HelpScreen) and s.is_mounted),
    ]
    if t.training_id is not None:
        out += [("training_runs", "training runs", TrainingRunsScreen,
                 lambda s: rows(s, "#training-table") == t.n_training),
                ("training_steps", f"training run {t.training_id} ({t.n_steps} steps)",
                 lambda: TrainingRunScreen(t.training_id), lambda s: rows(s, "#steps-table") == t.n_steps)]
    return out


async def measure_app(db: Path, t: Target, repeat: int) -> tuple[float, list[tuple[str, str, float]]]:
    from textual.widgets import DataTable

    from sgs.tui.app import SgsApp
    from sgs.tui.screens.candidates import CandidatesScreen
    from sgs.tui.screens.runs import RunsScreen

    cold = time.perf_counter()
    app = SgsApp(db)
    results = []
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, RunsScreen)
                    and app.screen.query_one(DataTable).row_count == t.n_runs)
        startup = time.perf_counter() - cold
        # the diff and the keys open from a candidates screen, as a user opens them
        base = CandidatesScreen(t.run_id, t.task_id, live=False)
        app.push_screen(base)
        await until(lambda: base.query_one("#cands-table", DataTable).row_count == t.n_samples)
        for key, label, make, ready in openers(t):
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                if key in ("diff", "help"):
                    make(app)
                    await until(lambda: ready(app.screen))
                else:
                    screen = make()
                    app.push_screen(screen)
                    await until(lambda: screen.is_mounted and ready(screen))
                samples.append(time.perf_counter() - start)
                app.pop_screen()
                await pilot.pause()
            results.append((key, label, median_ms(samples)))
    return startup * 1000, results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="/tmp/sgs-large-training.db")
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    db = Path(args.db)
    ensure_db(db)
    target = Target(db)
    base = baselines(db, target, args.repeat)
    startup, app = asyncio.run(measure_app(db, target, args.repeat))
    r = target.run
    print(f"database: {db} ({target.n_runs} runs; the largest {r['n_tasks']} tasks x {r['k']}, "
          f"{r['n_samples']} samples; {target.n_training} training run{'' if target.n_training == 1 else 's'}); "
          f"80x24; median of {args.repeat}")
    print(f"{'screen':<40}{'app ms':>9}{'baseline ms':>13}{'ratio':>8}  budget")
    ok = True
    for key, label, ms in app:
        within = ms <= BUDGET_MS
        ok &= within
        baseline = base.get(key)
        ratio = f"{ms / baseline:>8.1f}" if baseline else f"{'-':>8}"
        print(f"{label:<40}{ms:>9.1f}{(f'{baseline:.1f}' if baseline else '-'):>13}{ratio}  "
              f"{'ok' if within else 'OVER'} (< {BUDGET_MS:.0f} ms)")
    if target.training_id is None:
        print("(no training run in this database: make one with scripts/make_large_db.py --training)")
    print(f"{'app start to runs table (cold)':<40}{startup:>9.1f}{'':>13}{'':>8}  (imports, first render)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
