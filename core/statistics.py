"""Strategy tables, best-of-K curves and surprisal/speedup correlation.

fast_1 of a strategy = share of tasks whose pick is correct and faster than
the reference (speedup > 1); a task without a correct sample counts 0. The
noise-aware variant requires the lower end of the speedup's 95% interval to
exceed 1. Mean speedup is arithmetic over tasks (0 where there is no pick);
the geometric mean is over picks only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .review import needs_review
from .selection import DEFAULT_ORDER, STRATEGIES, correct_groups
from .selection.base import Pick
from .store import Candidate


@dataclass
class StrategyRow:
    strategy: str
    fast_1: float
    fast_1_noise_aware: float
    mean_speedup: float
    geomean_speedup: float | None
    n_tasks: int
    n_picks: int            # tasks with a pick
    n_flagged: int          # picks held for review (expected count for random)
    fast_1_unflagged: float  # fast_1 with flagged picks counted as misses


def _is_fast(group_speedup: float | None) -> bool:
    return group_speedup is not None and group_speedup > 1.0


def _noise_aware_fast(cand: Candidate) -> bool:
    return cand.speedup_lo is not None and cand.speedup_lo > 1.0


def picks_by_task(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str) -> dict[str, Pick]:
    chooser = STRATEGIES.get(strategy)
    return {task: chooser.pick(correct_groups(cands), rank_by) for task, cands in candidates_by_task.items()}


def strategy_row(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str = "surprisal") -> StrategyRow:
    picks = picks_by_task(candidates_by_task, strategy, rank_by)
    n = len(picks)
    fast = noise_fast = speed_sum = flagged = fast_unflagged = 0.0
    log_sum, n_picks = 0.0, 0
    for pick in picks.values():
        if not pick:
            continue
        n_picks += 1
        task_log = 0.0
        for group, weight in pick:
            rep = group.representative
            fast += weight * _is_fast(rep.speedup)
            noise_fast += weight * _noise_aware_fast(rep)
            speed_sum += weight * (rep.speedup or 0.0)
            is_flagged = needs_review(rep.flags)
            flagged += weight * is_flagged
            fast_unflagged += weight * (_is_fast(rep.speedup) and not is_flagged)
            task_log += weight * math.log(max(rep.speedup or 0.0, 1e-12))
        log_sum += task_log
    return StrategyRow(
        strategy=strategy,
        fast_1=fast / n if n else 0.0,
        fast_1_noise_aware=noise_fast / n if n else 0.0,
        mean_speedup=speed_sum / n if n else 0.0,
        geomean_speedup=math.exp(log_sum / n_picks) if n_picks else None,
        n_tasks=n,
        n_picks=n_picks,
        n_flagged=round(flagged, 6),
        fast_1_unflagged=fast_unflagged / n if n else 0.0,
    )


def strategy_table(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal",
                   strategies: list[str] | None = None) -> list[StrategyRow]:
    return [strategy_row(candidates_by_task, s, rank_by) for s in (strategies or DEFAULT_ORDER)]


def sample_fast_1(candidates_by_task: dict[str, list[Candidate]]) -> float:
    """Share of all samples that are correct and faster than the reference."""
    all_cands = [c for cands in candidates_by_task.values() for c in cands]
    if not all_cands:
        return 0.0
    return sum(c.correct and _is_fast(c.speedup) for c in all_cands) / len(all_cands)


def best_of_k_curve(candidates_by_task: dict[str, list[Candidate]], ks: list[int] | None = None) -> list[tuple[int, float]]:
    """Expected oracle fast_1 when only k of a task's K samples are drawn (exact, without replacement)."""
    if not candidates_by_task:
        return []
    max_k = max(len(c) for c in candidates_by_task.values())
    ks = ks or list(range(1, max_k + 1))
    curve = []
    for k in ks:
        total = 0.0
        for cands in candidates_by_task.values():
            n = len(cands)
            fast = sum(c.correct and _is_fast(c.speedup) for c in cands)
            if n == 0 or fast == 0:
                continue
            draw = min(k, n)
            total += 1.0 - math.comb(n - fast, draw) / math.comb(n, draw)
        curve.append((k, total / len(candidates_by_task)))
    return curve


def surprisal_speedup_correlation(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal") -> dict:
    """Spearman correlation between rank key and speedup among correct samples, within tasks and pooled.

    Within-task: the mean of per-task Spearman rhos (tasks with >= 3 correct
    samples and some variation), since tasks differ in scale.
    """
    from scipy.stats import spearmanr

    per_task, pooled_x, pooled_y = [], [], []
    for cands in candidates_by_task.values():
        pts = [(getattr(c, rank_by), c.speedup) for c in cands
               if c.correct and c.speedup is not None and getattr(c, rank_by) is not None]
        pooled_x += [p[0] for p in pts]
        pooled_y += [p[1] for p in pts]
        if len(pts) >= 3 and len({p[0] for p in pts}) > 1 and len({p[1] for p in pts}) > 1:
            rho = spearmanr([p[0] for p in pts], [p[1] for p in pts]).statistic
            if not math.isnan(rho):
                per_task.append(float(rho))
    pooled = None
    if len(pooled_x) >= 3 and len(set(pooled_x)) > 1 and len(set(pooled_y)) > 1:
        pooled = float(spearmanr(pooled_x, pooled_y).statistic)
    return {
        "key": rank_by,
        "within_task_mean_rho": sum(per_task) / len(per_task) if per_task else None,
        "n_tasks": len(per_task),
        "pooled_rho": pooled,
        "n_samples": len(pooled_x),
    }


def expert_tail(candidates: list[Candidate], rank_by: str = "surprisal") -> set[int]:
    """Sample indices of the top quarter (rounded up) of a task's correct samples by surprisal."""
    correct = [c for c in candidates if c.correct and getattr(c, rank_by) is not None]
    correct.sort(key=lambda c: (-getattr(c, rank_by), c.sample_idx))
    return {c.sample_idx for c in correct[: math.ceil(len(correct) / 4)]}
