"""The headless consumer of engine events: a progress bar per task, one line per evaluated sample."""
from __future__ import annotations

import sys
import threading

from sgs.core import events as ev
from sgs.core.store import Store

from .common import fmt, table

BAR = 20


def bar(done: int, total: int, width: int = BAR) -> str:
    filled = int(width * done / total) if total else width
    return "█" * filled + "░" * (width - filled)


class Printer:
    def __init__(self, store: Store, run_id: int, *, quiet: bool = False, out=None):
        self.store = store
        self.run_id = run_id
        self.quiet = quiet
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.k = store.get_run(run_id)["k"]
        self.sampled: dict[str, int] = {}
        self.evaluated: dict[str, int] = {}
        self._status_shown = False
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\x1b[K")
            self._status_shown = False
        self.out.write(line + "\n")
        self.out.flush()

    def _status(self, task_id: str) -> None:
        line = (f"{task_id:<24} {bar(self.evaluated.get(task_id, 0), self.k)} "
                f"sampled {self.sampled.get(task_id, 0)}/{self.k}  evaluated {self.evaluated.get(task_id, 0)}/{self.k}")
        if self.tty:
            self.out.write("\r\x1b[K" + line)
            self.out.flush()
            self._status_shown = True

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, ev.RunStarted):
                self._write(f"run {event.run_id}: {len(event.task_ids)} tasks x K={event.k}")
                for row in self.store.task_progress(event.run_id):
                    self.sampled[row["task_id"]] = row["n_samples"]
                    self.evaluated[row["task_id"]] = row["n_evaluated"]
            elif isinstance(event, ev.SampleGenerated):
                self.sampled[event.task_id] = self.sampled.get(event.task_id, 0) + 1
                self._status(event.task_id)
            elif isinstance(event, ev.EvalFinished):
                self.evaluated[event.task_id] = self.evaluated.get(event.task_id, 0) + 1
                if not self.quiet:
                    speed = f"{event.speedup:.2f}x" if event.speedup is not None else ""
                    err = (event.error or "").splitlines()[0][:60] if event.outcome != "correct" and event.error else ""
                    self._write(f"  {event.task_id:<22} #{event.sample_idx:<3} S={fmt(event.surprisal, '8.1f')}  "
                                f"{event.outcome:<14} {speed:>8}  {err}".rstrip())
                self._status(event.task_id)
            elif isinstance(event, ev.TaskFinished):
                self._write(f"{event.task_id:<24} {bar(self.evaluated.get(event.task_id, 0), self.k)} "
                            f"{event.n_samples} samples, {event.n_correct} correct")
            elif isinstance(event, ev.RunFinished):
                self._write(f"run {event.run_id} {event.status}" + (f": {event.error}" if event.error else ""))

    def close(self) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\x1b[K")
            self.out.flush()


def candidates_by_task(store: Store, run_id: int) -> dict:
    from sgs.core.report import group_by_task

    return group_by_task([t.id for t in store.run_tasks(run_id)], store.candidates(run_id))


def _summary(store: Store, run_id: int, rank_by: str | None) -> dict:
    from sgs.core.report import load_run, run_summary

    return run_summary(load_run(store, run_id), rank_by, curve=False)


def strategy_rows(store: Store, run_id: int, rank_by: str | None = None) -> list[dict]:
    return [{**row.__dict__} for row in _summary(store, run_id, rank_by)["rows"]]


def _num(value, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def print_strategy_table(store: Store, run_id: int, rank_by: str | None = None, out=None) -> None:
    """The strategy table, with a line for unscored samples left out and n/a where a budget cannot compute."""
    from sgs.core.report import summary_notes

    out = out or sys.stdout
    run = store.get_run(run_id)
    summary = _summary(store, run_id, rank_by)
    rows = summary["rows"]
    title = f"run {run_id}" + (f" ({run['name']})" if run.get("name") else "")
    sample_fast = _num(summary["sample_fast_1"], ".3f")
    print(f"{title}: {summary['n_tasks']} tasks, {summary['n_samples']} samples, {summary['n_correct']} correct, "
          f"sample fast_1 {sample_fast}, ranked by {summary['rank_by']}", file=out)
    body = [[r.strategy, _num(r.fast_1, ".3f"), _num(r.fast_1_noise_aware, ".3f"), _num(r.mean_speedup, ".2f", "x"),
             "n/a" if not r.computable else _num(r.geomean_speedup, ".2f", "x").replace("n/a", "-"),
             f"{r.n_picks}/{r.n_tasks}" if r.computable else "n/a", f"{r.n_untimed:g}" if r.computable else "n/a",
             f"{r.n_flagged:g}" if r.computable else "n/a"] for r in rows]
    print(table(body, ["strategy", "fast_1", "fast_1 (CI>1)", "mean speedup", "geomean", "picks", "untimed",
                       "flagged"], "lrrrrrrr"), file=out)
    for note in summary_notes(summary):
        print(f"  {note}", file=out)
