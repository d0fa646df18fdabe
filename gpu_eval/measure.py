"""Drives timings from the parent: blocks of timed calls, interleaved.

Each timing child holds its model and input sets and runs the number of
timed calls the parent asks for ("block"). With two children (the trusted
reference and the candidate) the parent alternates their blocks inside one
exclusive hold of the device, so both are measured under the same
conditions: on a machine whose speed drifts (a virtual machine's host
cores, GPU clocks) the drift then moves both sides alike and the speedup,
a ratio, stays put, where timing the candidate now against a reference
timed minutes earlier carried the drift into the speedup.
"""
from __future__ import annotations

import math
import statistics
import time

from . import protocol

BLOCK_S = 0.01          # aim for blocks of about this long, so the sides interleave finely
MAX_BLOCK = 256
GPU_MIN_TIMING_S = 0.1  # measure at least this long (after warm-up): a few calls of a short kernel are noise


def timing_method(is_cuda: bool) -> str:
    """How a timing was taken; part of every reference-cache key."""
    return "cuda_event+l2_flush+rotated_inputs" if is_cuda else "perf_counter+rotated_inputs"


class TimingFailed(Exception):
    """A timing child answered something other than its times."""

    def __init__(self, side: int, header: dict):
        super().__init__(str(header.get("error") or header))
        self.side, self.header = side, header


MIN_ROUNDS_PAIRED = 5   # rounds of blocks before the paired ratio may stop the timing
PAIRED_RSE = 0.005      # relative standard error of the per-round ratio that is tight enough


def enough(sides: list[dict], min_n: int, max_n: int, budget_s: float, elapsed_s: float,
           min_s: float) -> bool:
    """Stop rule over all sides: each has min_n trials and the minimum time
    has passed; then stop when every side's relative standard error is
    under 1% (or, paired, the ratio of the two sides over the rounds of
    blocks is known to within 0.5%), the budget is spent, or a side reached
    max_n trials."""
    ns = [len(s["ms"]) for s in sides]
    if min(ns) < min_n:
        return False
    if max(ns) >= max_n or elapsed_s > budget_s:
        return True
    if elapsed_s < min(min_s, budget_s):
        return False
    if all(_rse(s["ms"]) < 0.01 for s in sides):
        return True
    if len(sides) == 2:
        ratios = round_ratios(sides[1], sides[0])
        return len(ratios) >= MIN_ROUNDS_PAIRED and _rse(ratios) < PAIRED_RSE
    return False


def round_ratios(ref: dict, cand: dict) -> list[float]:
    """Per round of blocks: the reference's median over the candidate's."""
    out = []
    for r_block, c_block in zip(blocks_of(ref), blocks_of(cand)):
        c = statistics.median(c_block)
        if c > 0:
            out.append(statistics.median(r_block) / c)
    return out


def blocks_of(side: dict) -> list[list[float]]:
    """A side's trial times cut into the blocks they were taken in."""
    out, i = [], 0
    for n in side.get("blocks") or [len(side["ms"])]:
        out.append(side["ms"][i:i + n])
        i += n
    return [b for b in out if b]


def _rse(ms: list[float]) -> float:
    n = len(ms)
    mean = sum(ms) / n
    if mean <= 0 or n < 2:
        return 0.0 if mean <= 0 else math.inf
    var = sum((t - mean) ** 2 for t in ms) / (n - 1)
    return math.sqrt(var / n) / mean


def run(socks: list, req: dict, deadline_fn, is_cuda: bool, max_n: int = 1000,
        end: bool | list = True) -> list[dict]:
    """Alternate blocks over the children behind `socks` (each already sent
    "timer_ready") until `enough`; then tell each to end (`end`: all, none,
    or a flag per side; a child not told stays ready for more). Returns per side
    {"ms": [...], "host_ms": [...], "enqueue_ms": [...], "patched": [...],
    "blocks": [trials of each block]}; with two sides, block k of one was
    taken right after block k of the other."""
    sides = [{"ms": [], "host_ms": [], "enqueue_ms": [], "patched": [], "blocks": []} for _ in socks]
    block = [1] * len(socks)
    min_n, budget = int(req["timing_trials"]), float(req["timing_budget_s"])
    max_n = max(min_n, max_n)
    min_s = GPU_MIN_TIMING_S if is_cuda else 0.0
    t0 = None
    while True:
        for i, sock in enumerate(socks):
            protocol.send(sock, {"type": "block", "n": block[i]})
            h, plen = protocol.recv_header(sock, deadline_fn())
            if plen:
                protocol.recv_payload(sock, plen, deadline_fn())
            if h.get("type") != "block_times":
                raise TimingFailed(i, h)
            sides[i]["ms"].extend(h["ms"])
            sides[i]["blocks"].append(len(h["ms"]))
            sides[i]["host_ms"].extend(h["host_ms"])
            sides[i]["enqueue_ms"].extend(h.get("enqueue_ms") or [])
            sides[i]["patched"] = h.get("patched") or []
            if sides[i]["patched"]:
                return sides
            per_call_s = max(1e-6, statistics.median(h["ms"]) / 1e3)
            block[i] = max(1, min(MAX_BLOCK, int(BLOCK_S / per_call_s)))
        if t0 is None:
            t0 = time.monotonic()           # after the first blocks, which include the warm-ups
            continue
        if enough(sides, min_n, max_n, budget, time.monotonic() - t0, min_s):
            break
    ends = end if isinstance(end, list) else [end] * len(socks)
    for sock, stop in zip(socks, ends):
        if stop:
            protocol.send(sock, {"type": "end"})
    return sides
