#!/usr/bin/env python
"""Coverage of the speedup interval over repeated evaluations of one candidate.

    python benchmarks/bench_ci_coverage.py [--task builtin/relu] [--repeat 30] [--device cpu|cuda]
    python benchmarks/bench_ci_coverage.py --candidate FILE.py --task L1/19 --kernelbench PATH --device cuda

The same candidate is evaluated --repeat times (fresh processes each time,
paired timing). Each evaluation's 95% interval should hold the speedup the
candidate really has; the median of all the repeated point estimates stands
in for it. Printed: the share of intervals that hold it, for the interval the
evaluator stored (`speedup_ci`) and for the paired block bootstrap that core
recomputes from the stored trial times and block sizes (`speedup_interval`
in core/statistics), with the median interval widths. A share far below
0.95 means the interval is too narrow to feed the noise-aware fast_1.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="builtin/relu")
    p.add_argument("--candidate", default=None, help="a ModelNew file (default: the task's first pool candidate)")
    p.add_argument("--kernelbench", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    args = p.parse_args(argv)

    from sgs.core.statistics import interval_coverage, speedup_interval
    from sgs.core.tasks import get_task
    from sgs.gpu_eval import Evaluator

    task = get_task(args.task, kernelbench=args.kernelbench)
    if args.candidate:
        code = Path(args.candidate).read_text()
    else:
        import json

        from sgs.core.tasks.builtin import pool_path

        code = next(json.loads(line)["code"] for line in open(pool_path()) if json.loads(line)["task"] == task.id)
    results = []
    t0 = time.monotonic()
    with Evaluator(max_workers=1) as ev:
        for i in range(args.repeat):
            r = ev.submit({"task_id": task.id, "reference_src": task.reference_src, "candidate_src": code,
                           "device": args.device, "mode": args.eval_mode, "seed": 1000 + i}).result()
            if r.get("outcome") != "correct" or r.get("speedup") is None:
                print(f"evaluation {i}: {r.get('outcome')} {r.get('error') or ''}"[:200])
                continue
            results.append(r)
    if len(results) < 5:
        print("too few timed evaluations for a coverage figure")
        return 1
    truth = statistics.median(r["speedup"] for r in results)
    stored = [tuple(r["speedup_ci"]) for r in results if r.get("speedup_ci")]
    paired = [ci for ci in (speedup_interval(r, seed=i) for i, r in enumerate(results)) if ci is not None]
    print(f"{task.id} on {results[0].get('hardware')}: {len(results)} evaluations in {time.monotonic() - t0:.0f} s; "
          f"speedups {min(r['speedup'] for r in results):.3f}..{max(r['speedup'] for r in results):.3f}, "
          f"median {truth:.3f}")
    print(f"{'interval':<34}{'n':>4}{'coverage':>10}{'median width':>14}")
    for name, cis in (("stored speedup_ci", stored), ("paired block bootstrap (core)", paired)):
        if not cis:
            print(f"{name:<34}{0:>4}{'-':>10}{'-':>14}   (results carry no paired trial times)")
            continue
        cov = interval_coverage(cis, truth)
        width = statistics.median(hi - lo for lo, hi in cis)
        print(f"{name:<34}{len(cis):>4}{cov:>10.2f}{width:>14.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
