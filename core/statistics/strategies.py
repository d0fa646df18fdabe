"""Strategy tables: each strategy's pick per task, fast_1 and its variants, pooled runs, the budget's audit."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..budget import AUDIT_FLAG, OUTSIDE_FLAG
from ..review import needs_review
from ..selection import DEFAULT_ORDER, STRATEGIES
from ..store import Candidate
from .intervals import N_BOOT, bootstrap_mean_ci, wilson_interval

INCORRECT_SPEEDUP = 1e-6   # the paper's stand-in for an incorrect pick in the Wilcoxon test


# -- budget --------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """A surprisal-budgeted run (`--time-top N`): only the N highest-ranked
    correct samples (by `rank_by`) and the most confident one were timed."""

    time_top: int
    rank_by: str = "surprisal"
    audit: int = 0


def computable(strategy: str, rank_by: str, budget: Budget | None) -> bool:
    """Whether a strategy's pick can be read off a run evaluated under `budget`."""
    if budget is None:
        return True
    s = STRATEGIES.get(strategy)
    if s.needs_top is None:
        return False
    if s.ranks and rank_by != budget.rank_by:
        return False
    return s.needs_top <= budget.time_top


# -- per-task outcome of a pick -----------------------------------------
def is_fast(cand: Candidate) -> bool:
    return cand.outcome == "correct" and cand.speedup is not None and cand.speedup > 1.0


def is_fast_noise_aware(cand: Candidate) -> bool:
    return cand.correct and cand.speedup_lo is not None and cand.speedup_lo > 1.0


@dataclass
class TaskPick:
    """One strategy's pick on one task; fractional for `random` (an expectation)."""

    unit: str
    has_pick: bool
    fast: float = 0.0
    fast_noise_aware: float = 0.0
    untimed: float = 0.0               # weight of correct picks without a timing
    speedup: float = 0.0               # expected speedup over timed picks (weights renormalised)
    log_speedup: float | None = None   # expected log speedup over timed picks
    flagged: float = 0.0
    fast_unflagged: float = 0.0
    sample_idx: int | None = None      # the pick (deterministic strategies)


def task_picks(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str = "surprisal") -> list[TaskPick]:
    chooser = STRATEGIES.get(strategy)
    out = []
    for unit, cands in candidates_by_task.items():
        # every strategy picks among correct samples: hand it those only (the stats screen's hot path)
        pick = chooser.pick([c for c in cands if c.outcome == "correct"], rank_by)
        tp = TaskPick(unit=unit, has_pick=bool(pick))
        timed_w = 0.0
        speed = logs = 0.0
        for cand, w in pick:
            flagged = needs_review(cand.flags)
            tp.fast += w * is_fast(cand)
            tp.fast_noise_aware += w * is_fast_noise_aware(cand)
            tp.flagged += w * flagged
            tp.fast_unflagged += w * (is_fast(cand) and not flagged)
            if cand.speedup is None:
                tp.untimed += w
            else:
                timed_w += w
                speed += w * cand.speedup
                logs += w * math.log(max(cand.speedup, INCORRECT_SPEEDUP))
        if timed_w > 0:
            tp.speedup = speed / timed_w
            tp.log_speedup = logs / timed_w
        if len(pick) == 1:
            tp.sample_idx = pick[0][0].sample_idx
        out.append(tp)
    return out


# -- strategy table ------------------------------------------------------
@dataclass
class StrategyRow:
    strategy: str
    fast_1: float | None
    fast_1_noise_aware: float | None
    mean_speedup: float | None
    geomean_speedup: float | None
    n_tasks: int
    n_picks: int            # tasks with a pick
    n_flagged: float        # picks held for review (expected count for random)
    fast_1_unflagged: float | None  # fast_1 with flagged picks counted as misses
    rank_by: str = "surprisal"
    fast_1_ci: tuple[float, float] | None = None
    fast_1_noise_aware_ci: tuple[float, float] | None = None
    n_untimed: float = 0.0  # correct picks without a timing: counted apart, no speedup
    n_unscored: int = 0     # samples without a surprisal, left out (ranking strategies only)
    computable: bool = True  # False: the run's surprisal budget did not evaluate what it needs


def strategy_row(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str = "surprisal", *,
                 budget: Budget | None = None, clusters: dict[str, str] | None = None, n_boot: int = N_BOOT,
                 seed: int = 0, n_unscored: int | None = None) -> StrategyRow:
    n = len(candidates_by_task)
    ranks = STRATEGIES.get(strategy).ranks
    if n_unscored is None:
        n_unscored = sum(unscored_count(c, rank_by) for c in candidates_by_task.values())
    unscored = n_unscored if ranks else 0
    if not computable(strategy, rank_by, budget):
        return StrategyRow(strategy, None, None, None, None, n, 0, 0.0, None, rank_by, n_unscored=unscored,
                           computable=False)
    picks = task_picks(candidates_by_task, strategy, rank_by)
    labels = [clusters.get(p.unit, p.unit) for p in picks] if clusters else None
    fast = [p.fast for p in picks]
    noise = [p.fast_noise_aware for p in picks]
    untimed = sum(p.untimed for p in picks)
    # mean over tasks, 0 where no correct pick; an untimed pick's share of its task stays out
    speed_num = sum(p.speedup * (1 - p.untimed) for p in picks)
    speed_den = n - untimed
    logs = [p.log_speedup for p in picks if p.log_speedup is not None]
    return StrategyRow(
        strategy=strategy,
        fast_1=sum(fast) / n if n else 0.0,
        fast_1_noise_aware=sum(noise) / n if n else 0.0,
        mean_speedup=speed_num / speed_den if speed_den > 0 else None,
        geomean_speedup=math.exp(sum(logs) / len(logs)) if logs else None,
        n_tasks=n,
        n_picks=sum(p.has_pick for p in picks),
        n_flagged=round(sum(p.flagged for p in picks), 6),
        fast_1_unflagged=sum(p.fast_unflagged for p in picks) / n if n else 0.0,
        rank_by=rank_by,
        fast_1_ci=bootstrap_mean_ci(fast, labels, n_boot=n_boot, seed=seed),
        fast_1_noise_aware_ci=bootstrap_mean_ci(noise, labels, n_boot=n_boot, seed=seed),
        n_untimed=round(untimed, 6),
        n_unscored=unscored,
    )


def strategy_table(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal",
                   strategies: list[str] | None = None, *, budget: Budget | None = None,
                   clusters: dict[str, str] | None = None, n_boot: int = N_BOOT, seed: int = 0) -> list[StrategyRow]:
    unscored = sum(unscored_count(c, rank_by) for c in candidates_by_task.values())
    # Strategies only look at correct samples: filter once, already in rank order (the later sorts are then
    # linear), instead of once per strategy. Keeps the stats screen fast on 100 tasks x 64 samples.
    sign = -1.0 if rank_by in ("surprisal", "mean_nll") else 1.0
    correct = {unit: sorted((c for c in cands if c.outcome == "correct"),
                            key=lambda c: (getattr(c, rank_by) is None,
                                           sign * (getattr(c, rank_by) or 0.0), c.sample_idx))
               for unit, cands in candidates_by_task.items()}
    return [strategy_row(correct, s, rank_by, budget=budget, clusters=clusters, n_boot=n_boot, seed=seed,
                         n_unscored=unscored) for s in (strategies or DEFAULT_ORDER)]


def unscored_count(candidates: list[Candidate], rank_by: str = "surprisal") -> int:
    """Samples of a task without a rank value: left out of the ranking strategies."""
    return sum(1 for c in candidates if getattr(c, rank_by) is None)


def sample_fast_1(candidates_by_task: dict[str, list[Candidate]]) -> float:
    """Share of all samples that are correct and faster than the reference."""
    all_cands = [c for cands in candidates_by_task.values() for c in cands]
    if not all_cands:
        return 0.0
    return sum(is_fast(c) for c in all_cands) / len(all_cands)


# -- several runs --------------------------------------------------------
def pool_runs(runs: list[dict[str, list[Candidate]]], labels: list[str] | None = None
              ) -> tuple[dict[str, list[Candidate]], dict[str, str]]:
    """Pool runs (e.g. the same tasks under 2 seeds) into task x run units.

    Returns the units' candidates (keys "LABEL:TASK") and the unit -> task map
    that the bootstrap resamples by.
    """
    labels = labels or [str(i) for i in range(len(runs))]
    units, clusters = {}, {}
    for label, by_task in zip(labels, runs):
        for task, cands in by_task.items():
            key = f"{label}:{task}"
            units[key] = cands
            clusters[key] = task
    return units, clusters


# -- what a budget left out ----------------------------------------------


def audit_summary(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal") -> dict:
    """What the random audit of a budgeted run says about the samples the budget never evaluated.

    `beats_pick`: audited samples correct and faster than their task's
    surprisal-top3 pick; scaled by the samples left out, an estimate of how
    many such samples the budget missed.
    """
    n_audited = n_correct = n_beats = n_outside = 0
    for cands in candidates_by_task.values():
        audited = [c for c in cands if AUDIT_FLAG in c.flags]
        n_outside += sum(1 for c in cands if OUTSIDE_FLAG in c.flags) + len(audited)
        if not audited:
            continue
        pick = STRATEGIES.get("surprisal-top3").pick(cands, rank_by)
        best = pick[0][0].speedup if pick and pick[0][0].speedup is not None else 0.0
        n_audited += len(audited)
        n_correct += sum(c.correct for c in audited)
        n_beats += sum(1 for c in audited if c.correct and c.speedup is not None and c.speedup > max(best, 1.0))
    share = n_beats / n_audited if n_audited else None
    return {
        "n_tasks": len(candidates_by_task), "n_not_evaluated": n_outside, "n_audited": n_audited,
        "n_correct": n_correct, "n_beats_pick": n_beats,
        "correct_share": n_correct / n_audited if n_audited else None,
        "beats_pick_share": share, "beats_pick_ci": wilson_interval(n_beats, n_audited),
        "estimated_missed": share * n_outside if share is not None else None,
    }
