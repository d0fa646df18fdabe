"""Tables of a training run: one row per step, best-of-adaptation, and the
comparison with best-of-N at matched sample budgets. Pure functions over
rows, plus thin readers of a Store; the CLI, the terminal app and reports
use these and nothing else.

fast_1 of a step (sample level) = share of the step's samples that are
correct and faster than the reference, as the paper's batch TTT reports it;
task level = share of tasks with at least one such sample (the oracle at K,
which is flat at K=32). The noise-aware variant counts a sample only when
the lower end of its speedup's 95% interval exceeds 1 (none when the rewards
were injected: those outcomes have no interval). Outcomes are the ones the
rewards saw: evaluated, or injected for mechanics checks.

Best-of-adaptation (BoA) picks the step with the best sample-level fast_1
(the earliest on a tie) and reports it with its equivalent K
(`statistics.equivalent_k`): the K at which the oracle best-of-K curve of a
best-of-N run (by default the training's own step 0, K samples of the
starting weights) reaches that fast_1, interpolated in log K, "< 1" when it
is below the curve at K=1.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..store import Candidate


@dataclass
class StepRow:
    step: int
    run_id: int | None
    checkpoint: str
    status: str
    n_tasks: int
    n_samples: int
    n_correct: int
    fast_1: float | None                 # sample level
    fast_1_noise_aware: float | None     # sample level, speedup CI above 1
    fast_1_task: float | None            # task level (oracle at K)
    mean_reward: float | None
    loss: float | None                   # the update made on this step's samples
    ratio_mean: float | None
    ratio_max_dev: float | None
    rho: float | None                    # probe: Spearman(mean NLL, speedup) under this step's weights
    rho_bottom_quartile: float | None
    probe_mean_nll: float | None
    distinct_codes: int | None
    distinct_share: float | None
    mean_edit_distance: float | None
    injected: bool
    sample_s: float | None
    update_s: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _fast(correct, speedup) -> bool:
    return bool(correct) and speedup is not None and speedup > 1.0


def step_row(step: dict, samples: list[dict], task_ids: list[str]) -> StepRow:
    """One step's row from its `training_steps` row and its `training_samples` rows."""
    m = step.get("metrics") or {}
    update, probe, div = m.get("update") or {}, m.get("probe") or {}, m.get("diversity") or {}
    scored = [s for s in samples if s.get("correct") is not None]
    n = len(scored)
    injected = any(s.get("injected") for s in scored)
    fast_tasks = {s["task_id"] for s in scored if _fast(s["correct"], s["speedup"])}
    noise = None
    if n and not injected:
        noise = sum(bool(s["correct"]) and (s.get("speedup_lo") or 0.0) > 1.0 for s in scored) / n
    rewards = [s["reward"] for s in scored if s.get("reward") is not None]
    return StepRow(
        step=step["step"], run_id=step.get("run_id"), checkpoint=step["checkpoint"], status=step["status"],
        n_tasks=len(task_ids), n_samples=len(samples), n_correct=sum(bool(s["correct"]) for s in scored),
        fast_1=(sum(_fast(s["correct"], s["speedup"]) for s in scored) / n) if n else None,
        fast_1_noise_aware=noise,
        fast_1_task=(len(fast_tasks & set(task_ids)) / len(task_ids)) if n and task_ids else None,
        mean_reward=math.fsum(rewards) / len(rewards) if rewards else None,
        loss=update.get("loss"), ratio_mean=update.get("ratio_mean"), ratio_max_dev=update.get("ratio_max_dev"),
        rho=probe.get("rho"), rho_bottom_quartile=probe.get("rho_bottom_quartile"),
        probe_mean_nll=probe.get("mean_nll"),
        distinct_codes=div.get("distinct_codes"), distinct_share=div.get("distinct_share"),
        mean_edit_distance=div.get("mean_edit_distance"), injected=injected,
        sample_s=m.get("sample_s"), update_s=update.get("seconds"),
    )


def step_table(store, training_run_id: int) -> list[StepRow]:
    """The per-step table of a training run, as far as it has got."""
    run = store.get_training_run(training_run_id)
    task_ids = run["config"]["task_ids"]
    return [step_row(step, store.training_samples(training_run_id, step["step"], tokens=False), task_ids)
            for step in store.training_steps(training_run_id)]


def candidates_from_samples(samples: list[dict]) -> dict[str, list[Candidate]]:
    """Training samples as selection's Candidates, with the outcomes the rewards saw (the speedup
    interval's lower end only where the outcome was evaluated, not injected)."""
    out: dict[str, list[Candidate]] = {}
    for s in samples:
        out.setdefault(s["task_id"], []).append(Candidate(
            sample_id=s["sample_id"], sample_idx=s["sample_idx"], task_id=s["task_id"], code=s.get("code"),
            surprisal=s.get("surprisal"), mean_nll=s.get("mean_nll"), n_tokens=s.get("n_tokens"),
            outcome="correct" if s.get("correct") else "incorrect", speedup=s.get("speedup"),
            speedup_lo=None if s.get("injected") else s.get("speedup_lo")))
    return out


def oracle_curve(candidates_by_task: dict[str, list[Candidate]]) -> list[tuple[int, float]]:
    from ..statistics import best_of_k_curve

    return best_of_k_curve(candidates_by_task)


def _equivalent_k(curve: list[tuple[int, float]], value: float | None):
    from ..statistics import equivalent_k

    return None if not curve or value is None else equivalent_k(sorted(curve), value)


def best_of_adaptation(rows: list[StepRow], curve: list[tuple[int, float]] | None = None) -> dict | None:
    """The step with the best sample-level fast_1 (earliest on a tie), its fast_1 and equivalent K."""
    scored = [r for r in rows if r.fast_1 is not None]
    if not scored:
        return None
    best = max(scored, key=lambda r: (r.fast_1, -r.step))
    eq = _equivalent_k(curve, best.fast_1) if curve else None
    return {"step": best.step, "fast_1": best.fast_1, "fast_1_task": best.fast_1_task,
            "fast_1_noise_aware": best.fast_1_noise_aware, "checkpoint": best.checkpoint, "run_id": best.run_id,
            "equivalent_k": None if eq is None else eq.value, "equivalent_k_label": None if eq is None else eq.label}


def baseline_curve(store, training_run_id: int, baseline_run: int | None = None) -> list[tuple[int, float]]:
    """The best-of-K curve BoA is measured against: a best-of-N run's samples, else the training's step 0."""
    if baseline_run is not None:
        by_task: dict[str, list[Candidate]] = {}
        for c in store.candidates(baseline_run):
            by_task.setdefault(c.task_id, []).append(c)
        return oracle_curve(by_task)
    return oracle_curve(candidates_from_samples(store.training_samples(training_run_id, 0, tokens=False)))


def training_summary(store, training_run_id: int) -> dict | None:
    """BoA of a training run against its configured baseline (see `baseline_curve`)."""
    run = store.get_training_run(training_run_id)
    rows = step_table(store, training_run_id)
    boa = best_of_adaptation(rows, baseline_curve(store, training_run_id, run["config"].get("baseline_run")))
    if boa is not None:
        boa["baseline"] = ("run %d" % run["config"]["baseline_run"]) if run["config"].get("baseline_run") \
            else "step 0 samples"
    return boa


# -- matched sample budgets -----------------------------------------------------------------
@dataclass
class ComparisonRow:
    samples_per_task: int
    method: str               # "best-of-N", or a training run's method label ("ttt", "sdpo", ...)
    fast_1: float
    measure: str              # "oracle best-of-k (task level)" or "BoA over steps <= s (sample level)"
    step: int | None = None
    training_run_id: int | None = None
    equivalent_k: float | None = None
    equivalent_k_label: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def comparison_rows(bon_candidates_by_task: dict[str, list[Candidate]],
                    trainings: list[tuple[str, int | None, int, list[StepRow]]]) -> list[ComparisonRow]:
    """Best-of-N beside TTT/SDPO at matched sample budgets (the paper's Figure 1).

    `trainings`: (method label, training run id, K per step, step rows). A
    training run that has sampled steps 0..s has spent (s+1)*K samples per
    task; its row at that budget is BoA over those steps, with its equivalent
    K on the best-of-N curve. Best-of-N gives the oracle best-of-k at the same
    budgets (capped at its N) and at powers of two up to N.
    """
    curve = dict(oracle_curve(bon_candidates_by_task))
    n_max = max(curve) if curve else 0
    budgets = {k for k in curve if k & (k - 1) == 0} | ({n_max} if n_max else set())
    rows: list[ComparisonRow] = []
    for label, training_id, k, steps in trainings:
        done: list[StepRow] = []
        for r in sorted(steps, key=lambda r: r.step):
            if r.fast_1 is None:
                continue
            done.append(r)
            boa = best_of_adaptation(done, sorted(curve.items()))
            budget = (r.step + 1) * k
            budgets.add(min(budget, n_max) if n_max else budget)
            rows.append(ComparisonRow(budget, label, boa["fast_1"], "BoA over steps <= %d (sample level)" % r.step,
                                      step=boa["step"], training_run_id=training_id,
                                      equivalent_k=boa["equivalent_k"], equivalent_k_label=boa["equivalent_k_label"]))
    for b in sorted(budgets):
        if b in curve:
            rows.append(ComparisonRow(b, "best-of-N", curve[b], "oracle best-of-k (task level)",
                                      equivalent_k=float(b), equivalent_k_label=f"{b:g}"))
    rows.sort(key=lambda r: (r.samples_per_task, r.method != "best-of-N", r.method))
    return rows


def comparison_table(store, training_run_ids: list[int], bon_run_id: int) -> list[ComparisonRow]:
    """`comparison_rows` read from a Store: training runs beside one best-of-N run on the same tasks."""
    by_task: dict[str, list[Candidate]] = {}
    for c in store.candidates(bon_run_id):
        by_task.setdefault(c.task_id, []).append(c)
    trainings = []
    for tid in training_run_ids:
        run = store.get_training_run(tid)
        trainings.append((run["method"], tid, run["k"], step_table(store, tid)))
    return comparison_rows(by_task, trainings)


__all__ = ["ComparisonRow", "StepRow", "baseline_curve", "best_of_adaptation", "candidates_from_samples",
           "comparison_rows", "comparison_table", "oracle_curve", "step_row", "step_table", "training_summary"]
