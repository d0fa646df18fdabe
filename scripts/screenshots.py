#!/usr/bin/env python
"""SVG screenshots of every screen of `sgs tui`, taken headless from a real database.

    sgs demo --db /tmp/demo.db
    python scripts/screenshots.py /tmp/demo.db screenshots/ [--size 80x24]

Shows the run with the most correct samples: its live view, the candidates
of its task with the most correct samples, the surprisal pick's sample (its
code, where the model was unsure of it, its evaluation), a diff of two
samples marked in the table, the top-3 pick against the oracle's, and the
stats; plus the runs screen, the keys of a screen and the new-run form, and,
when the database holds a training run (`sgs ttt ... --db` the same file),
the training runs and the newest one's steps.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


# README.md from this marker on is written by other scripts (the report's figures) and kept
KEPT_FROM = "<!-- report_"


async def until(pilot, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                break
        except Exception:  # noqa: BLE001 - not mounted yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the screen never filled ({predicate})")
        await pilot.pause(0.05)
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


def pick_subjects(db: Path):
    from sgs.core.selection.picks import picks_by_strategy
    from sgs.core.store import Store

    store = Store(db, readonly=True)
    runs = store.list_runs()
    if not runs:
        raise SystemExit(f"screenshots: no runs in {db}; run `sgs demo --db {db}` first")
    run = max(runs, key=lambda r: (r["n_correct"], r["id"]))
    progress = store.task_progress(run["id"])
    task = max(progress, key=lambda p: (p["n_correct"] or 0, -p["position"]))["task_id"]
    cands = store.candidates(run["id"], task)
    picks = picks_by_strategy(cands, run.get("rank_by") or "surprisal")
    by_idx = {c.sample_idx: c for c in cands}
    sample = by_idx[picks["surprisal"]] if "surprisal" in picks else cands[0]
    store.close()
    return run, task, sample


async def shoot(db: Path, out: Path, size: tuple[int, int]) -> list[tuple[str, str]]:
    from textual.widgets import DataTable, Input

    from sgs.tui.app import SgsApp
    from sgs.tui.screens.candidates import CandidatesScreen
    from sgs.tui.screens.diff import DiffScreen, open_pair
    from sgs.tui.screens.help import HelpScreen
    from sgs.tui.screens.live import LiveScreen
    from sgs.tui.screens.new_run import NewRunScreen
    from sgs.tui.screens.runs import RunsScreen
    from sgs.tui.screens.sample import SampleScreen
    from sgs.tui.screens.stats import StatsScreen
    from sgs.tui.screens.training import TrainingRunScreen, TrainingRunsScreen

    run, task, sample = pick_subjects(db)
    rank_by = run.get("rank_by") or "surprisal"
    shots: list[tuple[str, str]] = []
    app = SgsApp(db, colour_mode="full")

    def save(name: str, caption: str) -> None:
        app.save_screenshot(f"{name}.svg", path=str(out))
        shots.append((name, caption))

    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(DataTable).row_count)
        save("runs", "Runs: every run in the database with status, progress, oracle fast_1 and elapsed time")

        app.push_screen(LiveScreen(run["id"]))
        await until(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run is not None
                    and app.screen.query_one("#tasks", DataTable).row_count)
        save("live", f"Live run {run['id']}: progress and surprisal-top3 pick per task, throughput, the sample stream")

        app.push_screen(CandidatesScreen(run["id"], task, rank_by=rank_by))
        await until(pilot, lambda: isinstance(app.screen, CandidatesScreen)
                    and app.screen.query_one(DataTable).row_count)
        save("candidates", f"Candidates of {task}: ranked by surprisal, Expert Tail (▌), picks, review flags (!)")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        save("keys", "Keys (? or F1): the screen's own keys first, then the table's and the app's")
        await pilot.press("escape")

        # two samples marked with space, then d
        table = app.screen.query_one(DataTable)
        second = min(2, table.row_count - 1)
        await pilot.press("g", "space", *["j"] * second, "space", "d")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        save("diff_two_samples", f"Diff of two samples of {task} marked with space: sides in step, long lines wrap")
        await pilot.press("escape")

        open_pair(app.screen, run["id"], task, rank_by, "oracle", "surprisal-top3")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and (app.screen.rows or app.screen.left is None))
        save("diff", f"Diff of {task}: the oracle's pick against the surprisal-top3 pick (t)")
        await pilot.press("escape")

        app.push_screen(SampleScreen(run["id"], sample.sample_id, rank_by=rank_by))
        await until(pilot, lambda: isinstance(app.screen, SampleScreen) and app.screen.sample is not None)
        save("sample", f"Sample #{sample.sample_idx} of {task}: highlighted source (tabs: reply, evaluation, surprisal)")
        await pilot.press("4")
        await pilot.pause(0.3)
        save("sample_surprisal", "The same sample's tokens shaded by −log p: where the model was unsure")
        await pilot.press("3")
        await pilot.pause(0.3)
        save("sample_evaluation", "The same sample's evaluation: outcome, speedup with its interval, timings, errors")

        app.push_screen(StatsScreen(run["id"]))
        await until(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.plots is not None)
        save("stats", f"Stats of run {run['id']}: strategy table, best-of-K curve, surprisal/speedup correlation")

        app.push_screen(NewRunScreen())
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen) and app.screen.tasks
                    and app.screen.fields_ready)
        app.screen.query_one("#filter", Input).value = "builtin"
        await until(pilot, lambda: app.screen.shown)
        save("new_run", "New run: task picker with filters, and the options of `sgs run` in groups that open and close (enter)")
        await pilot.press("escape")

        app.push_screen(TrainingRunsScreen())
        await until(pilot, lambda: isinstance(app.screen, TrainingRunsScreen) and app.screen.is_mounted)
        await pilot.pause(1.2)   # the list is read once a second
        if app.screen.runs:
            save("training_runs", "Training runs (t on the runs screen): batch TTT and SDPO, with their progress")
            training = app.screen.runs[0]
            app.push_screen(TrainingRunScreen(training["id"]))
            await until(pilot, lambda: isinstance(app.screen, TrainingRunScreen) and app.screen.view is not None)
            save("training_steps", f"Training run {training['id']} ({training['method']}): per step fast_1, reward, "
                 "loss, probe rho and diversity; ★ marks best-of-adaptation")
    return shots


def write_readme(readme: Path, lines: list[str]) -> None:
    """The screenshots' README; entries other scripts wrote into it (scripts/report_ttt.py) stay."""
    old = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if KEPT_FROM in old:
        lines = [*lines, old[old.index(KEPT_FROM):].rstrip("\n"), ""]
    readme.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db", help="a database with at least one run (sgs demo makes one)")
    p.add_argument("out", nargs="?", default="screenshots", help="folder for the SVGs (default screenshots/)")
    p.add_argument("--size", default="80x24", help="terminal size WIDTHxHEIGHT (default 80x24)")
    p.add_argument("--about", default="a database made by `sgs demo` (the embedded model run and the shipped "
                   "candidate pool on the built-in tasks)", help="where the database came from, for README.md")
    args = p.parse_args(argv)
    db, out = Path(args.db), Path(args.out)
    if not db.exists():
        print(f"screenshots: no database at {db}", file=sys.stderr)
        return 2
    width, height = (int(n) for n in args.size.lower().split("x"))
    out.mkdir(parents=True, exist_ok=True)
    shots = asyncio.run(shoot(db, out, (width, height)))
    lines = ["# Screenshots of `sgs tui`", "",
             f"Taken headless at {width}×{height} by `scripts/screenshots.py` from {args.about}.", "",
             "Regenerate: `sgs demo --db /tmp/demo.db && python scripts/screenshots.py /tmp/demo.db screenshots`.", ""]
    for name, caption in shots:
        lines += [f"## {caption.split(':')[0]}", "", caption + ".", "", f"![{name}]({name}.svg)", ""]
    write_readme(out / "README.md", lines)
    print(f"wrote {len(shots)} screenshots and README.md to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
