#!/usr/bin/env python
"""Make a large database for the app's benchmarks: 100 tasks x 64 samples, all evaluated.

    python scripts/make_large_db.py /tmp/sgs-large.db [--tasks 100] [--k 64] [--runs 3]

Everything goes through the real Store API (create_run, add_sample,
finish_evaluation), so the database is what a real run writes; durability
is switched off for the build only (PRAGMA synchronous = OFF), which is what
makes it fast. The numbers are random but seeded: the same command makes the
same database.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from sgs.core.store import Store
from sgs.core.types import Generation, Task

REFERENCE = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x) * {scale}


def get_inputs():
    return [torch.randn(64, {size})]


def get_init_inputs():
    return []
'''

BODIES = ["return torch.relu(x) * {s}", "return x.clamp_min(0) * {s}", "return torch.where(x > 0, x * {s}, 0 * x)",
          "y = x.clone()\n        y[y < 0] = 0\n        return y * {s}", "return (x + x.abs()) * ({s} / 2)",
          "return torch.nn.functional.relu(x).mul({s})"]
OUTCOMES = ["correct"] * 6 + ["incorrect", "compile_error", "runtime_error", "timeout"]


def candidate(body: str) -> str:
    return ("import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n\n    def forward(self, x):\n        " + body + "\n")


def make_tasks(n: int) -> list[Task]:
    return [Task(id=f"L1/{i}", source="kernelbench", level=1, problem_id=i, name=f"Synthetic_task_{i:03d}",
                 reference_src=REFERENCE.format(scale=i, size=256 * (1 + i % 8))) for i in range(1, n + 1)]


def add_run(store: Store, tasks: list[Task], k: int, rng: random.Random, name: str) -> int:
    config = {"task_ids": [t.id for t in tasks], "k": k, "backend": "scripted", "model": "synthetic",
              "eval": {"mode": "fast", "device": "cpu"}, "sampling": {"temperature": 1.0, "max_tokens": 1024}}
    run_id = store.create_run(name=name, kind="search", backend="scripted", model="synthetic", k=k,
                              prompt_style="body", rank_by="surprisal", logprob_mode="raw", config=config,
                              provenance={"versions": {"cpu": "x86_64", "cpu_count": 2}}, tasks=tasks)
    store.set_run_status(run_id, "running")
    for task in tasks:
        for idx in range(k):
            body = rng.choice(BODIES).format(s=task.problem_id)
            code = candidate(body) + f"# sample {idx}\n"  # distinct code, as real samples nearly always are
            n_tokens = rng.randint(150, 900)
            mean = rng.uniform(0.1, 1.2)
            logprobs = [-rng.expovariate(1 / mean) for _ in range(n_tokens)]
            text = f"```python\n{code}```"
            gen = Generation(text=text, tokens=[f"t{j}" for j in range(n_tokens)], logprobs=logprobs,
                             finish_reason="stop", latency_s=rng.uniform(1, 20), prompt_tokens=420)
            sid = store.add_sample(run_id, task.id, idx, gen, code=code, code_kind="torch", code_start=10,
                                   code_end=10 + len(code), extraction_error=None, logprob_mode="raw")
            outcome = rng.choice(OUTCOMES)
            result = {"outcome": outcome, "hardware": "synthetic CPU", "flags": []}
            if outcome == "correct":
                speedup = rng.lognormvariate(0, 0.5)
                if rng.random() < 0.01:
                    speedup *= 20  # the odd suspicious one, held for review
                    result["flags"] = ["speedup_over_10x"]
                ref_ms = rng.uniform(0.05, 5.0)
                result.update(speedup=speedup, speedup_ci=[speedup * 0.93, speedup * 1.07],
                              candidate_ms={"median": ref_ms / speedup, "iqr": 0.01}, reference_ms={"median": ref_ms},
                              max_abs_diff=0.0)
            else:
                result["error"] = {"incorrect": "max |diff| 2.0e-01 exceeds atol 1e-04",
                                   "compile_error": "SyntaxError: invalid syntax", "timeout": "timed out after 60 s",
                                   "runtime_error": "RuntimeError: shape mismatch"}[outcome]
            store.finish_evaluation(sid, run_id, task.id, result)
    store.set_run_status(run_id, "finished")
    return run_id


def make_large_db(path: str | Path, *, n_tasks: int = 100, k: int = 64, runs: int = 1, seed: int = 0) -> Path:
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; remove it first or choose another path")
    store = Store(path)
    store.db.execute("PRAGMA synchronous = OFF")
    rng = random.Random(seed)
    tasks = make_tasks(n_tasks)
    for n in range(runs):
        # the big run first; more runs (smaller) make the runs screen longer
        add_run(store, tasks if n == 0 else tasks[: max(n_tasks // 10, 1)], k if n == 0 else max(k // 8, 1), rng,
                f"large {n_tasks}x{k}" if n == 0 else f"small run {n}")
    store.db.execute("PRAGMA synchronous = FULL")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", help="the database to create (must not exist)")
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--k", type=int, default=64)
    p.add_argument("--runs", type=int, default=1, help="runs in all: one large, the rest small")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    started = time.perf_counter()
    try:
        make_large_db(args.path, n_tasks=args.tasks, k=args.k, runs=args.runs, seed=args.seed)
    except FileExistsError as exc:
        print(f"make_large_db: {exc}", file=sys.stderr)
        return 2
    print(f"{args.path}: {args.tasks} tasks x {args.k} samples in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
