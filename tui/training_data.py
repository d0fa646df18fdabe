"""Training runs (batch TTT, SDPO) as the app shows them, read from the store: plain data, no textual.

A training run lives in the same database as search runs: its steps are
ordinary runs (one per step), and its per-step table, best-of-adaptation and
baseline come from `core.training.tables`, the same code as `sgs ttt` and
`sgs report`. Blocking reads: called from thread workers, under the data
source's lock.
"""
from __future__ import annotations

from sgs.core.engine import effective_status

# a step's status as the loop writes it: sampling, then evaluated (rewards in), then updated
STEP_DONE = ("evaluated", "updated")


def training_runs(data) -> list[dict]:
    """Every training run, newest first, with its effective status (a dead process reads as interrupted)."""
    with data._lock:
        rows = data.store.list_training_runs()
    now_ts = data.clock.timestamp()
    for row in rows:
        row["effective_status"] = effective_status(row, now_ts)
        # step 0 is an evaluation with no update: a run of N steps evaluates N + 1 times
        row["n_evaluations"] = (row["steps"] or 0) + 1
    return rows


def training_run_count(data) -> int:
    with data._lock:
        return len(data.store.list_training_runs())


def training_view(data, training_run_id: int) -> dict:
    """One training run: its row, the per-step table, best-of-adaptation against its baseline curve."""
    from sgs.core.training.tables import baseline_curve, best_of_adaptation, step_table

    with data._lock:
        run = data.store.get_training_run(training_run_id)
        steps = step_table(data.store, training_run_id)
        curve = baseline_curve(data.store, training_run_id, run["config"].get("baseline_run")) if steps else []
    run["effective_status"] = effective_status(run, data.clock.timestamp())
    boa = best_of_adaptation(steps, curve)
    if boa is not None:
        baseline = run["config"].get("baseline_run")
        boa["baseline"] = f"run {baseline}" if baseline else "step 0 samples"
    return {"run": run, "steps": steps, "boa": boa, "task_ids": list(run["config"].get("task_ids") or [])}


__all__ = ["STEP_DONE", "training_run_count", "training_runs", "training_view"]
