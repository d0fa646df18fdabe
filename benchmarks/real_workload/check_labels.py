"""Check candidates' labels on the CPU: each task file with its size constants
shrunk (TaskSpec.small), each candidate read as `sgs import` reads it (kernel
style extraction) and judged by the real evaluator (`device="cpu"`,
correctness only), then given sgs's review flags as a run would.

A candidate agrees when the evaluator's outcome is the one its label expects
and the flags are as expected: `reference_equivalent` raised where
expect_flags names it, never raised on a rewrite. Hangs and out-of-memory
candidates are left out (a hang costs its timeout; memory is the GPU's).

  python benchmarks/real_workload/check_labels.py            # a sample: 3 candidates per task
  python benchmarks/real_workload/check_labels.py --all      # every candidate but hangs and OOM
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "real_workload"

from . import generate, sources  # noqa: E402

SKIPPED_LABELS = ("timeout", "oom")
# Kinds of candidate a sample rotates through, so that every kind is met on
# several tasks: (name, test on a row).
CATEGORIES = (
    ("rewrite", lambda r: r["label"] == "correct" and r["variant"] == "rewrite"),
    ("reference_equivalent", lambda r: "reference_equivalent" in r["expect_flags"]),
    ("incorrect", lambda r: r["label"] == "incorrect"),
    ("runtime_error", lambda r: r["label"] == "runtime_error" and r["variant"] != "exit"),
    ("same_op", lambda r: r["label"] == "correct" and r["variant"] == "same_op"),
    ("compile_error", lambda r: r["label"] == "compile_error"),
    ("incorrect", lambda r: r["label"] == "incorrect"),
    ("crashed", lambda r: r["label"] == "crashed"),
    ("rewrite", lambda r: r["label"] == "correct" and r["variant"] == "rewrite"),
    ("exit", lambda r: r["variant"] == "exit"),
)


def sample(rows: list[dict], per_task: int = 3, seed: str = "labels") -> list[dict]:
    """`per_task` candidates of each task, of kinds rotating across tasks."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out = []
    for i, task in enumerate(tasks):
        mine = [r for r in rows if r["task"] == task]
        rng = random.Random(f"{seed}:{task}")
        for j in range(per_task):
            _, test = CATEGORIES[(per_task * i + j) % len(CATEGORIES)]
            options = [r for r in mine if test(r) and r not in out]
            if options:
                out.append(rng.choice(options))
    return out


def small_references(kernelbench: Path, task_ids) -> dict[str, str]:
    specs = generate.all_specs()
    refs = {}
    for task_id in task_ids:
        level, problem = task_id[1:].split("/")
        src = sources.task_file(kernelbench, int(level), int(problem)).read_text()
        refs[task_id] = sources.shrink(src, specs[task_id].small)
    return refs


def check(rows: list[dict], kernelbench: Path, *, workers: int = 2, timeout_s: float = 30.0) -> list[dict]:
    """Evaluate `rows` (hangs and OOM left out) and return one record per row."""
    from sgs.core.prompts import extract
    from sgs.core.review import review_flags
    from sgs.core.types import Task
    from sgs.gpu_eval import Evaluator, MemoryReferenceCache

    rows = [r for r in rows if r["label"] not in SKIPPED_LABELS]
    refs = small_references(kernelbench, {r["task"] for r in rows})
    pending = []
    with Evaluator(max_workers=workers, reference_cache=MemoryReferenceCache()) as ev:
        for r in rows:
            level, problem = r["task"][1:].split("/")
            task = Task(id=r["task"], source="kernelbench", level=int(level), problem_id=int(problem),
                        name=r["task"], reference_src=refs[r["task"]])
            ex = extract(f"```python\n{r['code'].rstrip()}\n```", task, "kernel")
            if ex.code is None:
                pending.append((r, None, {"outcome": "no_code", "error": ex.error, "flags": []}))
                continue
            req = {"task_id": r["task"], "reference_src": refs[r["task"]], "candidate_src": ex.code,
                   "kind": ex.kind, "device": "cpu", "mode": "fast", "seed": 4242, "timeout_s": timeout_s,
                   "time": False, "num_threads": 1}
            pending.append((r, ex.code, ev.submit(req)))
        out = []
        for r, code, fut in pending:
            result = fut if isinstance(fut, dict) else fut.result()
            flags = review_flags(refs[r["task"]], code, result) if code else []
            out.append(verdict(r, result, flags))
    return out


def verdict(row: dict, result: dict, flags: list[str]) -> dict:
    outcome = result.get("outcome")
    equivalent = "reference_equivalent" in flags
    if "reference_equivalent" in row["expect_flags"]:
        flag_ok = equivalent
    elif row["variant"] == "rewrite" or row["label"] != "correct":
        flag_ok = not equivalent
    else:
        flag_ok = True           # same_op, holds_model: not recognised by either check today
    return {"task": row["task"], "sample_idx": row["sample_idx"], "label": row["label"], "variant": row["variant"],
            "expected": row["expected_outcome"], "outcome": outcome, "flags": flags,
            "agree": outcome == row["expected_outcome"] and flag_ok, "flag_ok": flag_ok,
            "error": (result.get("error") or "")[:300]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--all", action="store_true", help="every candidate except hangs and OOM")
    p.add_argument("--per-task", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tasks", default="", help="comma-separated task ids (default: the eval split)")
    p.add_argument("--json", default=None, help="write every record to this file")
    args = p.parse_args(argv)
    kb = sources.kernelbench_root()
    if kb is None:
        sys.exit("error: no KernelBench task folder (set SGS_TEST_KERNELBENCH)")
    rows = generate.build(kb, [t for t in args.tasks.split(",") if t] or None)
    chosen = rows if args.all else sample(rows, args.per_task)
    t0 = time.monotonic()
    records = check(chosen, kb, workers=args.workers)
    wall = time.monotonic() - t0
    bad = [r for r in records if not r["agree"]]
    for r in bad:
        print(f"DISAGREE {r['task']} #{r['sample_idx']} label={r['label']} ({r['variant']}) outcome={r['outcome']} "
              f"flags={r['flags']}: {r['error'][:200]}")
    by_label: dict = {}
    for r in records:
        agree, total = by_label.get(r["label"], (0, 0))
        by_label[r["label"]] = (agree + r["agree"], total + 1)
    print(json.dumps({"checked": len(records), "agree": len(records) - len(bad), "wall_s": round(wall, 1),
                      "by_label": {k: f"{a}/{n}" for k, (a, n) in sorted(by_label.items())}}))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
