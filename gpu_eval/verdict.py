"""The verdict's arithmetic in the evaluator process, out of the candidate's
reach: output descriptions checked, timing statistics and the speedup
interval. (Outputs themselves are compared by the trusted reference process,
tensors.compare.)"""
from __future__ import annotations

import math
import random
import statistics


def check_metas(cand: list[dict], ref: list[dict], device: str) -> str | None:
    """A one-line reason the candidate's outputs cannot match, or None."""
    if len(cand) != len(ref):
        return f"candidate returned {len(cand)} outputs, reference {len(ref)}"
    for i, (c, r) in enumerate(zip(cand, ref)):
        if list(c["shape"]) != list(r["shape"]):
            return f"output {i} shape {tuple(c['shape'])} != reference {tuple(r['shape'])}"
        if c["dtype"] != r["dtype"]:
            return f"output {i} dtype {c['dtype']} != reference {r['dtype']}"
        if device.startswith("cuda") and not str(c.get("device", "")).startswith("cuda"):
            return f"output {i} is on {c.get('device')}, expected {device}"
        if int(c["nbytes"]) != int(r["nbytes"]):
            return f"output {i} has {c['nbytes']} bytes, reference {r['nbytes']}"
    return None


HOST_BOUND_SHARE = 0.5


def host_bound(event_ms: list[float], enqueue_ms: list[float]) -> bool | None:
    """Whether a model's GPU time follows the host: when handing its work to
    the GPU (the Python call returning) takes more than half of the time
    the GPU spends on it, the GPU waits for the host's launches, and the
    time moves with the host core's speed. None without enqueue times."""
    if not event_ms or not enqueue_ms:
        return None
    ev, enq = statistics.median(event_ms), statistics.median(enqueue_ms)
    return ev > 0 and enq > HOST_BOUND_SHARE * ev


def stats(ms: list[float]) -> dict | None:
    if not ms:
        return None
    s = sorted(ms)
    n = len(s)
    q1, q3 = _quantile(s, 0.25), _quantile(s, 0.75)
    return {"median": statistics.median(s), "iqr": q3 - q1, "mean": statistics.fmean(s),
            "std": statistics.stdev(s) if n > 1 else 0.0, "n": n}


def _quantile(sorted_xs: list[float], q: float) -> float:
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _percentile_interval(ratios: list[float]) -> list[float]:
    """The 95% percentile interval of bootstrap replicates (NaNs when there are none)."""
    if not ratios:
        return [math.nan, math.nan]
    ratios = sorted(ratios)
    return [_quantile(ratios, 0.025), _quantile(ratios, 0.975)]


def speedup_ci(ref_ms: list[float], cand_ms: list[float], n_boot: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of median(ref) / median(cand),
    resampling each side's trial times independently."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(n_boot):
        r = statistics.median(rng.choices(ref_ms, k=len(ref_ms)))
        c = statistics.median(rng.choices(cand_ms, k=len(cand_ms)))
        if c > 0:
            ratios.append(r / c)
    return _percentile_interval(ratios)


def paired_speedup_ci(ref_blocks: list[list[float]], cand_blocks: list[list[float]], n_boot: int = 2000,
                      seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of median(ref) / median(cand) for a
    paired timing: block k of each side was taken right after the other's,
    so rounds are resampled whole, keeping each round's two sides together
    (what moved both, a drifting clock, stays out of the interval)."""
    rounds = [(r, c) for r, c in zip(ref_blocks, cand_blocks) if r and c]
    if len(rounds) < 2:
        return speedup_ci([x for r, _ in rounds for x in r], [x for _, c in rounds for x in c], n_boot, seed)
    rng = random.Random(seed)
    ratios = []
    for _ in range(n_boot):
        pick = rng.choices(rounds, k=len(rounds))
        r = statistics.median([x for blk, _ in pick for x in blk])
        c = statistics.median([x for _, blk in pick for x in blk])
        if c > 0:
            ratios.append(r / c)
    return _percentile_interval(ratios)
