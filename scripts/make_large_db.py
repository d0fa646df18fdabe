#!/usr/bin/env python
"""Make a large database for the app's benchmarks: 100 tasks x 64 samples, all evaluated.

    python scripts/make_large_db.py /tmp/sgs-large.db [--tasks 100] [--k 64] [--runs 3] [--training]

`--training` adds a batch TTT run at the paper's size (5 tasks, K=32, 8
update steps: 9 evaluated steps), with rewards, losses, probe correlations
and diversity as the training loop records them.

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


def _synthetic_sample(rng: random.Random, task: Task, idx: int) -> tuple[str, Generation]:
    body = rng.choice(BODIES).format(s=task.problem_id)
    code = candidate(body) + f"# sample {idx}\n"
    n_tokens = rng.randint(150, 900)
    mean = rng.uniform(0.1, 1.2)
    gen = Generation(text=f"```python\n{code}```", tokens=[f"t{j}" for j in range(n_tokens)],
                     logprobs=[-rng.expovariate(1 / mean) for _ in range(n_tokens)], finish_reason="stop",
                     latency_s=rng.uniform(1, 20), prompt_tokens=420)
    return code, gen


def add_run(store: Store, tasks: list[Task], k: int, rng: random.Random, name: str) -> int:
    config = {"task_ids": [t.id for t in tasks], "k": k, "backend": "scripted", "model": "synthetic",
              "eval": {"mode": "fast", "device": "cpu"}, "sampling": {"temperature": 1.0, "max_tokens": 1024}}
    run_id = store.create_run(name=name, kind="search", backend="scripted", model="synthetic", k=k,
                              prompt_style="body", rank_by="surprisal", logprob_mode="raw", config=config,
                              provenance={"versions": {"cpu": "x86_64", "cpu_count": 2}}, tasks=tasks)
    store.set_run_status(run_id, "running")
    for task in tasks:
        for idx in range(k):
            code, gen = _synthetic_sample(rng, task, idx)  # distinct code, as real samples nearly always are
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


def add_training(store: Store, tasks: list[Task], rng: random.Random, *, k: int = 32, steps: int = 8) -> int:
    """A batch TTT run recorded step by step through the Store's training API (rewards: 1 + a correct bonus)."""
    from sgs.core.engine import RunConfig, create_run
    from sgs.core.training import TrainingConfig, create_training

    config = TrainingConfig(task_ids=[t.id for t in tasks], k=k, steps=steps, backend="hf", model="synthetic",
                            name=f"ttt {len(tasks)}x{k}x{steps}")
    tid = create_training(store, config, tasks)
    store.set_training_status(tid, "running")
    for step in range(steps + 1):
        run_id = create_run(store, RunConfig(task_ids=[t.id for t in tasks], k=k, backend="scripted",
                                             model="synthetic", name=f"ttt {tid} step {step}"), tasks,
                            logprob_mode="raw")
        store.start_training_step(tid, step, f"/ckpt/training-{tid}/step-{step}")
        store.set_training_step_run(tid, step, run_id)
        rows = []
        for task in tasks:
            for idx in range(k):
                code, gen = _synthetic_sample(rng, task, idx)
                sid = store.add_sample(run_id, task.id, idx, gen, code=code, code_kind="torch", code_start=10,
                                       code_end=10 + len(code), extraction_error=None, logprob_mode="raw")
                correct = rng.random() < 0.5
                speedup = rng.lognormvariate(0, 0.5) if correct else None
                store.finish_evaluation(sid, run_id, task.id, {
                    "outcome": "correct" if correct else "incorrect", "speedup": speedup,
                    "speedup_ci": [speedup * 0.93, speedup * 1.07] if correct else None})
                store.add_training_sample(sid, tid, step, [1] * len(gen.tokens))
                rows.append({"sample_id": sid, "correct": correct, "speedup": speedup,
                             "reward": (speedup + 1.0) if correct else 0.0, "advantage": 0.0})
        store.record_step_rewards(tid, step, rows, {"window": 32, "correct_bonus": 1.0, "history": {}})
        store.merge_step_metrics(tid, step, {
            "probe": {"rho": -0.198 - 0.01 * step, "rho_bottom_quartile": -0.24 - 0.025 * step},
            "diversity": {"distinct_codes": k * len(tasks) - step, "distinct_share": 1.0,
                          "mean_edit_distance": rng.uniform(20, 60)},
            "sample_s": rng.uniform(30, 60)})
        if step < steps:
            store.merge_step_metrics(tid, step, {"update": {"loss": -rng.uniform(0.01, 0.1), "seconds": 20.0}})
            store.record_step_update(tid, step, f"/ckpt/training-{tid}/step-{step + 1}")
    store.set_training_status(tid, "finished")
    return tid


def make_large_db(path: str | Path, *, n_tasks: int = 100, k: int = 64, runs: int = 1, seed: int = 0,
                  training: bool = False) -> Path:
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
    if training:
        add_training(store, tasks[:5], rng)
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
    p.add_argument("--training", action="store_true", help="add a batch TTT run (5 tasks, K=32, 8 steps)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    try:
        make_large_db(args.path, n_tasks=args.tasks, k=args.k, runs=args.runs, seed=args.seed, training=args.training)
    except FileExistsError as exc:
        print(f"make_large_db: {exc}", file=sys.stderr)
        return 2
    print(f"{args.path}: {args.tasks} tasks x {args.k} samples in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
