"""Check the shipped candidate pool against its built-in tasks on the CPU.

    python -m sgs.core.tasks.pool_check [--threads N] [--repeats N]

Runs every entry except those expected to crash or hang, in this process:
correct ones must match the reference (atol = rtol = 1e-4 on seeded inputs),
wrong ones must not, and "faster"/"slower" ones must time faster/slower
than the reference (median of alternating runs). Exits 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import torch

from . import get_task
from .builtin import load_pool

TOLERANCE = 1e-4
NOT_RUN = ("crash", "hang")


def _namespace(src: str, label: str) -> dict:
    ns: dict = {"__name__": label}
    exec(compile(src, label, "exec"), ns)
    return ns


def instantiate(entry: dict, seed: int = 0):
    """(reference model, candidate model, inputs), with the same seed for both inits."""
    task = get_task(entry["task"])
    ref_ns = _namespace(task.reference_src, task.id)
    new_ns = _namespace(entry["code"], f"pool:{task.id}")
    torch.manual_seed(seed)
    init = ref_ns["get_init_inputs"]()
    torch.manual_seed(seed)
    ref = ref_ns["Model"](*init)
    torch.manual_seed(seed)
    new = new_ns["ModelNew"](*init)
    torch.manual_seed(seed + 1)
    inputs = ref_ns["get_inputs"]()
    return ref, new, inputs


@functools.lru_cache(maxsize=2)  # entries come grouped by task
def _reference_run(task_id: str, seed: int = 0):
    task = get_task(task_id)
    ns = _namespace(task.reference_src, task.id)
    torch.manual_seed(seed)
    init = ns["get_init_inputs"]()
    torch.manual_seed(seed)
    ref = ns["Model"](*init)
    torch.manual_seed(seed + 1)
    inputs = ns["get_inputs"]()
    with torch.no_grad():
        return init, inputs, ref(*inputs)


def outcome(entry: dict, seed: int = 0) -> str:
    """What evaluating the entry gives: correct, incorrect, wrong_shape or raises."""
    init, inputs, expected = _reference_run(entry["task"], seed)
    new_ns = _namespace(entry["code"], f"pool:{entry['task']}")
    torch.manual_seed(seed)
    new = new_ns["ModelNew"](*init)
    with torch.no_grad():
        try:
            got = new(*[x.clone() for x in inputs])
        except Exception:
            return "raises"
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return "wrong_shape"
    return "correct" if close(got, expected) else "incorrect"


def close(got: torch.Tensor, expected: torch.Tensor, tol: float = TOLERANCE) -> bool:
    """torch.allclose(got, expected, atol=tol, rtol=tol), in fewer passes over memory."""
    diff = (got.float() - expected.float()).abs_()
    bound = expected.float().abs().mul_(tol).add_(tol)
    return bool((diff <= bound).all())  # NaN compares False: never close


def speedup(entry: dict, repeats: int = 15) -> float:
    """Reference time / candidate time (medians over alternating runs)."""
    ref, new, inputs = instantiate(entry)
    ref_times, new_times = [], []
    with torch.no_grad():
        for _ in range(2):
            ref(*inputs)
            new(*inputs)
        for _ in range(repeats):
            for model, times in ((ref, ref_times), (new, new_times)):
                start = time.perf_counter()
                model(*inputs)
                times.append(time.perf_counter() - start)
    return statistics.median(ref_times) / statistics.median(new_times)


def expected_outcome(expect: str) -> str:
    return "correct" if expect in ("faster", "slower", "correct") else expect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    failures = 0
    for entry in load_pool():
        expect = entry.get("expect", "correct")
        if expect in NOT_RUN:
            print(f"{entry['task']:26s} {expect:11s} (not run) {entry['note']}")
            continue
        got = outcome(entry)
        line = f"{entry['task']:26s} {expect:11s} {got:11s}"
        bad = got != expected_outcome(expect)
        if got == "correct":
            s = speedup(entry, args.repeats)
            line += f" x{s:5.2f}"
            bad |= (expect == "faster" and s <= 1.0) or (expect == "slower" and s >= 1.0)
        failures += bad
        print(("FAIL " if bad else "ok   ") + line + "  " + entry["note"])
    print(f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
