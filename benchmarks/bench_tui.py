#!/usr/bin/env python
"""How fast the app opens its runs screen, a task's candidate table and a run's stats on a large database.

    python benchmarks/bench_tui.py [--db /tmp/sgs-large.db] [--repeat 7]

The database (100 tasks x 64 samples, see scripts/make_large_db.py) is made
first when missing. Each figure is the median time from the action (a screen
pushed in a running headless app) to its table populated, next to a baseline
measured in the same process: the plain store query that screen needs (for
the stats screen: the query plus core/report.py's run_summary, the whole
computation). The ratio is the app's overhead over it (workers, messages,
rendering).
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
        print(f"making {path} (100 tasks x 64 samples) ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_large_db.py"), str(path), "--runs", "3"],
                       check=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def baselines(db: Path, run_id: int, task_id: str, repeat: int) -> dict[str, float]:
    from sgs.core.store import Store

    from sgs.core.report import load_run, run_summary

    store = Store(db, readonly=True)
    runs, cands, stats = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        run_summary(load_run(store, run_id))
        stats.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.list_runs()
        runs.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.candidates(run_id, task_id)
        cands.append(time.perf_counter() - t)
    store.close()
    return {"runs": median_ms(runs), "candidates": median_ms(cands), "stats": median_ms(stats)}


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the table never filled")
        await asyncio.sleep(0.001)


async def measure_app(db: Path, run_id: int, task_id: str, n_runs: int, n_samples: int, repeat: int) -> dict:
    from textual.widgets import DataTable

    from sgs.tui.app import SgsApp
    from sgs.tui.screens.candidates import CandidatesScreen
    from sgs.tui.screens.runs import RunsScreen
    from sgs.tui.screens.stats import StatsScreen

    cold = time.perf_counter()
    app = SgsApp(db)
    out: dict[str, list[float]] = {"startup": [], "runs": [], "candidates": [], "stats": []}
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, RunsScreen)
                    and app.screen.query_one(DataTable).row_count == n_runs)
        out["startup"].append(time.perf_counter() - cold)
        for _ in range(repeat):
            t = time.perf_counter()
            screen = RunsScreen()
            app.push_screen(screen)
            await until(lambda: screen.is_mounted and screen.query_one(DataTable).row_count == n_runs)
            out["runs"].append(time.perf_counter() - t)
            app.pop_screen()
            await pilot.pause()
            t = time.perf_counter()
            cands = CandidatesScreen(run_id, task_id, live=False)
            app.push_screen(cands)
            await until(lambda: cands.is_mounted and cands.query_one(DataTable).row_count == n_samples)
            out["candidates"].append(time.perf_counter() - t)
            app.pop_screen()
            await pilot.pause()
            t = time.perf_counter()
            stats = StatsScreen(run_id)
            app.push_screen(stats)
            await until(lambda: stats.is_mounted and stats.stats is not None
                        and stats.query_one("#strategies", DataTable).row_count == 5)
            out["stats"].append(time.perf_counter() - t)
            app.pop_screen()
            await pilot.pause()
    return {k: median_ms(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="/tmp/sgs-large.db")
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    db = Path(args.db)
    ensure_db(db)
    from sgs.core.store import Store

    store = Store(db, readonly=True)
    runs = store.list_runs()
    big = max(runs, key=lambda r: r["n_samples"])
    task_id = store.run_tasks(big["id"])[len(store.run_tasks(big["id"])) // 2].id
    n_samples = store.sample_count(big["id"], task_id)
    store.close()
    base = baselines(db, big["id"], task_id, args.repeat)
    app = asyncio.run(measure_app(db, big["id"], task_id, len(runs), n_samples, args.repeat))
    print(f"database: {db} ({len(runs)} runs; the largest {big['n_tasks']} tasks x {big['k']}, "
          f"{big['n_samples']} samples); median of {args.repeat}")
    print(f"{'measure':<34}{'app ms':>9}{'baseline ms':>13}{'ratio':>8}  budget")
    rows = [("open the runs screen", app["runs"], base["runs"]),
            (f"open candidates of {task_id} ({n_samples})", app["candidates"], base["candidates"]),
            (f"open stats of run {big['id']}", app["stats"], base["stats"])]
    ok = True
    for name, ms, baseline in rows:
        within = ms <= BUDGET_MS
        ok &= within
        print(f"{name:<34}{ms:>9.1f}{baseline:>13.1f}{ms / baseline:>8.1f}  {'ok' if within else 'OVER'} "
              f"(< {BUDGET_MS:.0f} ms)")
    print(f"{'app start to runs table (cold)':<34}{app['startup']:>9.1f}{'':>13}{'':>8}  (imports, first render)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
