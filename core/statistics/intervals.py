"""Intervals: bootstrap over tasks, the paired block bootstrap of a speedup, coverage, Wilson."""
from __future__ import annotations

import math

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


# -- bootstrap -----------------------------------------------------------
def bootstrap_mean_ci(values, clusters=None, *, n_boot: int = N_BOOT, level: float = LEVEL,
                      seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a mean.

    With `clusters` (one label per value) whole clusters are resampled (e.g.
    a task with all its seeds), and each replicate's mean is over the values
    its clusters hold. None for no values.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0 or n_boot <= 0:
        return None
    if clusters is None:
        sums, counts = x, np.ones_like(x)
    else:
        labels = {}
        idx = np.array([labels.setdefault(c, len(labels)) for c in clusters])
        sums = np.bincount(idx, weights=x)
        counts = np.bincount(idx).astype(float)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, sums.size, size=(n_boot, sums.size))
    reps = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(lo), float(hi)


def paired_block_bootstrap_ci(reference_blocks, candidate_blocks, *, n_boot: int = N_BOOT, level: float = LEVEL,
                              seed: int = 0) -> tuple[float, float] | None:
    """Interval of the speedup median(reference) / median(candidate) from paired, interleaved timing blocks.

    Block i of the candidate and block i of the reference were timed one
    after the other (gpu_eval/measure.py), so a drift of the machine moves
    both alike. A replicate draws block *indices* with replacement and takes
    both sides' blocks at those indices: the pairing and the correlation
    inside a block are kept, which resampling each side's single calls
    independently throws away. Percentile interval; None without two pairs.
    """
    pairs = [(np.asarray(r, float), np.asarray(c, float)) for r, c in zip(reference_blocks, candidate_blocks)
             if len(r) and len(c)]
    if len(pairs) < 2 or n_boot <= 0:
        return None
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(pairs), [1 / len(pairs)] * len(pairs), size=n_boot)   # (n_boot, blocks)
    ref = _weighted_medians([p[0] for p in pairs], counts)
    cand = _weighted_medians([p[1] for p in pairs], counts)
    ok = cand > 0
    if not ok.any():
        return None
    ratios = ref[ok] / cand[ok]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _weighted_medians(blocks: list[np.ndarray], counts: np.ndarray) -> np.ndarray:
    """Median of each replicate's concatenation, block b repeated counts[r, b] times (as statistics.median)."""
    values = np.concatenate(blocks)
    block_of = np.concatenate([np.full(len(b), i) for i, b in enumerate(blocks)])
    order = np.argsort(values, kind="stable")
    values, block_of = values[order], block_of[order]
    weights = counts[:, block_of]                    # (n_boot, calls)
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    lower = np.argmax(cum >= ((total + 1) // 2)[:, None], axis=1)   # 1-based position ceil(T/2)
    upper = np.argmax(cum >= (total // 2 + 1)[:, None], axis=1)     # 1-based position T/2 + 1
    return (values[lower] + values[upper]) / 2


def speedup_interval(result: dict, *, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float] | None:
    """The paired block-bootstrap interval of a stored evaluation result, recomputed from its trial times.

    The evaluator keeps the times of a paired timing in the order taken
    (`reference_trials_ms`, `candidate_trials_ms`) and the size of each block
    (`timing_blocks`: {"reference": [n, ...], "candidate": [n, ...]}); None
    for a result without them (not timed, or timed against a cached reference).
    """
    sizes = result.get("timing_blocks") or {}
    ref = _cut(result.get("reference_trials_ms"), sizes.get("reference"))
    cand = _cut(result.get("candidate_trials_ms"), sizes.get("candidate"))
    if ref is None or cand is None or len(ref) != len(cand):
        return None
    return paired_block_bootstrap_ci(ref, cand, n_boot=n_boot, seed=seed)


def _cut(ms, sizes) -> list[list[float]] | None:
    if not ms or not sizes or sum(sizes) != len(ms):
        return None
    out, i = [], 0
    for n in sizes:
        out.append(ms[i:i + n])
        i += n
    return out


def interval_coverage(intervals, truth: float) -> float | None:
    """Share of intervals [lo, hi] that hold `truth` (a coverage check over repeated evaluations)."""
    held = [lo <= truth <= hi for lo, hi in intervals if lo is not None and hi is not None]
    return sum(held) / len(held) if held else None


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    from scipy.stats import norm

    if n == 0:
        return None
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
