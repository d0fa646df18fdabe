"""Evaluation requests: defaults, validation and per-trial seeds."""
from __future__ import annotations

import hashlib
import math
import os
import secrets

KINDS = ("torch", "cuda", "triton")
MODES = {
    # mode: (correctness trials, minimum timing trials, warmup calls, timing budget s)
    "fast": (1, 5, 3, 2.0),
    "full": (5, 50, 10, 10.0),
}


class RequestError(ValueError):
    """A request that cannot be evaluated; the message is one line."""


def normalize(request: dict) -> dict:
    """A copy of `request` with every key present and checked."""
    if not isinstance(request, dict):
        raise RequestError("evaluation request must be a dict")
    r = dict(request)
    for key in ("reference_src", "candidate_src"):
        if not isinstance(r.get(key), str) or not r[key].strip():
            raise RequestError(f"request needs a non-empty {key}")
    r.setdefault("task_id", "")
    r["kind"] = r.get("kind") or "torch"
    if r["kind"] not in KINDS:
        raise RequestError(f"unknown kind {r['kind']!r}: expected one of {', '.join(KINDS)}")
    r["device"] = r.get("device") or "cpu"
    dev = r["device"]
    if not (dev in ("cpu", "cuda", "auto") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise RequestError(f"bad device {dev!r}: expected cpu, cuda, cuda:N or auto")
    r["mode"] = r.get("mode") or "fast"
    if r["mode"] not in MODES:
        raise RequestError(f"unknown mode {r['mode']!r}: expected fast or full")
    n_corr, n_time, warm, budget = MODES[r["mode"]]
    r["correctness_trials"] = int(r.get("correctness_trials") or n_corr)
    r["timing_trials"] = int(r.get("timing_trials") or n_time)
    r["warmup"] = int(r["warmup"]) if r.get("warmup") is not None else warm
    r.setdefault("timing_budget_s", budget)
    r.setdefault("robust_trials", 2)        # one signed, one rescaled input set
    r.setdefault("atol", None)
    r.setdefault("rtol", None)
    if r.get("seed") is None:
        # Not a public constant: a candidate cannot precompute the inputs.
        r["seed"] = secrets.randbits(62)
    r["seed"] = int(r["seed"])
    r["timeout_s"] = _positive(r, "timeout_s", 120.0)
    r["compile_timeout_s"] = _positive(r, "compile_timeout_s", 600.0)
    for key in ("atol", "rtol"):
        if r.get(key) is not None:
            value = _number(r, key)
            if not math.isfinite(value) or value < 0:
                raise RequestError(f"{key} must be a finite number >= 0, got {r[key]!r}")
            r[key] = value
    r.setdefault("num_threads", None)
    r.setdefault("tf32", False)
    r.setdefault("time", True)              # False: correctness only
    # paired: time the reference beside each candidate, blocks interleaved
    # (measure.py); cached: use the reference's cached timing alone (faster,
    # open to drift between the two timings)
    r["reference_timing"] = r.get("reference_timing") or "paired"
    if r["reference_timing"] not in ("paired", "cached"):
        raise RequestError(f"unknown reference_timing {r['reference_timing']!r}: expected paired or cached")
    # load_inline builds try a lighter torch/extension.h first (harness.py)
    r.setdefault("light_headers", os.environ.get("SGS_LIGHT_HEADERS", "1") not in ("0", "false", "no"))
    if r["correctness_trials"] < 1 or r["timing_trials"] < 1 or r["warmup"] < 0:
        raise RequestError("correctness_trials and timing_trials must be >= 1, warmup >= 0")
    return r


def _number(r: dict, key: str) -> float:
    try:
        return float(r[key])
    except (TypeError, ValueError):
        raise RequestError(f"{key} must be a number, got {r[key]!r}") from None


def _positive(r: dict, key: str, default: float) -> float:
    """A limit in seconds: a positive, finite number (default when absent)."""
    if r.get(key) is None:
        return default
    value = _number(r, key)
    if not math.isfinite(value) or value <= 0:
        raise RequestError(f"{key} must be a positive number of seconds, got {r[key]!r}")
    return value


def derive_seed(base: int, *parts) -> int:
    """A per-trial seed from the run's base seed (stable, not guessable
    without the base)."""
    h = hashlib.sha256(repr((base,) + parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 62) - 1)


def src_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def default_tolerance(dtype: str) -> tuple[float, float]:
    """(atol, rtol) by output precision, as in current KernelBench."""
    if dtype in ("float16", "bfloat16"):
        return 1e-2, 1e-2
    return 1e-4, 1e-4
