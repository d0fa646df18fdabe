"""Spearman rho of surprisal or mean NLL against speedup, overall and in the top quartile."""
from __future__ import annotations

import math

import numpy as np

from ..store import Candidate


# -- surprisal / mean NLL against speedup --------------------------------
def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.empty(xs.size, dtype=bool)
    starts[0] = True
    np.not_equal(xs[1:], xs[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(first, append=xs.size)
    ranks = np.empty(x.size)
    ranks[order] = first[group] + (counts[group] + 1) / 2
    return ranks


def spearman(x, y, *, p_value: bool = True) -> tuple[float | None, float | None]:
    """Spearman rho (Pearson on average ranks) and its two-sided p-value from the t distribution, as scipy's
    spearmanr computes them; (None, None) for fewer than 3 points or no variation."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3:
        return None, None
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0:
        return None, None
    rho = max(-1.0, min(1.0, float(rx @ ry) / denom))
    if not p_value:
        return rho, None
    from scipy.stats import t as t_dist

    dof = x.size - 2
    if abs(rho) >= 1.0:
        return rho, 0.0
    t = rho * math.sqrt(dof / ((1.0 - rho) * (1.0 + rho)))
    return rho, float(2 * t_dist.sf(abs(t), dof))


def _spearman(x, y, p_value: bool = True):
    return spearman(x, y, p_value=p_value)


def _timed_correct(cands: list[Candidate], key: str) -> list[Candidate]:
    return [c for c in cands if c.outcome == "correct" and c.speedup is not None and getattr(c, key) is not None]


def expert_tail(candidates: list[Candidate], rank_by: str = "surprisal") -> set[int]:
    """Sample indices of the top quarter (rounded up) of a task's correct samples by the rank key."""
    correct = [c for c in candidates if c.outcome == "correct" and getattr(c, rank_by) is not None]
    correct.sort(key=lambda c: (-getattr(c, rank_by), c.sample_idx))
    return {c.sample_idx for c in correct[: math.ceil(len(correct) / 4)]}


def surprisal_speedup_correlation(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal",
                                  *, tail_by: str = "surprisal", p_values: bool = True) -> dict:
    """Spearman rho of `rank_by` (surprisal or mean_nll) against speedup among correct, timed samples.

    Overall: pooled over every task's samples, and the mean of per-task rhos
    (tasks with >= 3 samples and some variation; tasks differ in scale).
    Tail: the same over the top quartile (rounded up) of each task's correct
    samples by `tail_by`, the samples surprisal-top3 chooses among.
    """
    per_task, px, py, tail_tasks, tx, ty = [], [], [], [], [], []
    for cands in candidates_by_task.values():
        pts = _timed_correct(cands, rank_by)
        px += [getattr(c, rank_by) for c in pts]
        py += [c.speedup for c in pts]
        rho, _ = _spearman([getattr(c, rank_by) for c in pts], [c.speedup for c in pts], False)
        if rho is not None:
            per_task.append(rho)
        tail = expert_tail([c for c in pts if getattr(c, tail_by) is not None], tail_by)
        tpts = [c for c in pts if c.sample_idx in tail]
        tx += [getattr(c, rank_by) for c in tpts]
        ty += [c.speedup for c in tpts]
        rho, _ = _spearman([getattr(c, rank_by) for c in tpts], [c.speedup for c in tpts], False)
        if rho is not None:
            tail_tasks.append(rho)
    pooled, pooled_p = _spearman(px, py, p_values)
    tail_rho, tail_p = _spearman(tx, ty, p_values)
    return {
        "key": rank_by,
        "within_task_mean_rho": sum(per_task) / len(per_task) if per_task else None,
        "n_tasks": len(per_task),
        "pooled_rho": pooled,
        "pooled_p": pooled_p,
        "n_samples": len(px),
        "tail_by": tail_by,
        "tail_pooled_rho": tail_rho,
        "tail_pooled_p": tail_p,
        "tail_n_samples": len(tx),
        "tail_within_task_mean_rho": sum(tail_tasks) / len(tail_tasks) if tail_tasks else None,
        "tail_n_tasks": len(tail_tasks),
    }
