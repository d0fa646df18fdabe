"""The verdict, computed in the evaluator process, out of the candidate's reach:
output comparison, timing statistics and the speedup interval."""
from __future__ import annotations

import math
import random
import statistics

from .request import default_tolerance

_DTYPES = None


def _torch_dtype(name: str):
    global _DTYPES
    import torch
    if _DTYPES is None:
        _DTYPES = {str(v).replace("torch.", ""): v for v in vars(torch).values() if isinstance(v, torch.dtype)}
    dt = _DTYPES.get(name)
    if dt is None:
        raise ValueError(f"unknown dtype {name!r}")
    return dt


def to_tensors(metas: list[dict], payload: bytearray) -> list:
    """Rebuild CPU tensors from raw bytes (never unpickled)."""
    import torch
    out, off = [], 0
    for m in metas:
        dt = _torch_dtype(m["dtype"])
        n = int(m["nbytes"])
        buf = payload[off:off + n]
        off += n
        if n == 0:
            t = torch.empty(m["shape"], dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=torch.uint8).view(dt).reshape(m["shape"])
        out.append(t)
    return out


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


def tolerance(ref_dtype: str, atol, rtol) -> tuple[float, float]:
    da, dr = default_tolerance(ref_dtype)
    return (da if atol is None else float(atol)), (dr if rtol is None else float(rtol))


def compare(cand: list, ref: list, atol, rtol, atol_scale: float = 1.0) -> tuple[bool, float, str | None]:
    """(passed, max_abs_diff, reason). NaN and Inf never pass. `atol_scale`
    multiplies the absolute tolerance (inputs rescaled by that factor)."""
    import torch
    worst = 0.0
    for i, (c, r) in enumerate(zip(cand, ref)):
        a, rt = tolerance(str(r.dtype).replace("torch.", ""), atol, rtol)
        a *= atol_scale
        if not (r.is_floating_point() or r.is_complex()):
            if not torch.equal(c, r):
                diff = (c.to(torch.float64) - r.to(torch.float64)).abs().max().item() if c.numel() else 0.0
                return False, max(worst, diff), f"output {i} differs (exact match required for {r.dtype})"
            continue
        wide = torch.float64 if r.dtype == torch.float64 else torch.float32
        c64, r64 = c.to(wide), r.to(wide)
        if not torch.isfinite(c64).all():
            return False, math.inf, f"output {i} contains NaN or Inf"
        if not torch.isfinite(r64).all():
            return False, math.inf, f"reference output {i} contains NaN or Inf"
        if c64.numel() == 0:
            continue
        diff = (c64 - r64).abs()
        md = diff.max().item()
        worst = max(worst, md)
        if not bool((diff <= a + rt * r64.abs()).all()):
            bad = int((diff > a + rt * r64.abs()).sum().item())
            return False, worst, (f"output {i} mismatch: max abs diff {md:.3g} "
                                  f"(atol={a:g}, rtol={rt:g}, {bad}/{diff.numel()} elements off)")
    return True, worst, None


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


def zero_would_pass(ref: list, atol, rtol) -> bool:
    """True when an all-zero output would pass: the tolerance says nothing."""
    import torch
    for r in ref:
        if not r.is_floating_point() or r.numel() == 0:
            return False
        a, rt = tolerance(str(r.dtype).replace("torch.", ""), atol, rtol)
        r32 = r.to(torch.float32).abs()
        if not bool((r32 <= a + rt * r32).all()):
            return False
    return True


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
    if not ratios:
        return [math.nan, math.nan]
    ratios.sort()
    return [_quantile(ratios, 0.025), _quantile(ratios, 0.975)]
