"""The CUDA subset: 64 leaderboard kernels (published as correct for the
kernelbench-v0 tasks) run against the current task files of their own
level and problem.

A kernel is kept when it is likely to stay correct at the new sizes:
  1. it is not for one of the eval-split tasks;
  2. the task's interface is unchanged between the two revisions: the files
     are the same once module-level constants are left out and torch.randn is
     read as torch.rand (the current revision draws inputs with rand);
  3. no constant of the task changed from a value of 4 or less (a kernel
     size, stride, batch of 1 or 3 input channels: too common in code to
     search for), and no other changed constant's old value appears as a
     literal in the kernel's source (a hard-coded batch, channel count or
     length);
  4. no fast-math or half-precision code (-use_fast_math, __expf, __half,
     ...), which the leaderboard's tolerance of 1e-2 allowed and fp32's 1e-4
     does not;
  5. no `.type()` dispatch (torch 2.11 removed the conversion it relies on);
  6. every tensor of the task (inputs and output, measured on the meta
     device) has fewer than 2**31 elements, so 32-bit indices do not
     overflow; tasks the meta device cannot run are left out.
Of those, the 16 tasks with the slowest references (estimated from bytes and
FLOPs on the meta device at 4 TB/s and 50 TFLOP/s) come first, then the other
tasks in a seeded random order; every task gets one kernel (drawn at random)
before any gets a second, until there are 64. Each is labelled `correct`.
"""
from __future__ import annotations

import ast
import json
import random
import re
import shutil
import warnings
from pathlib import Path

from . import sources

N_KERNELS = 64
N_SLOWEST = 16
INT32_LIMIT = 2 ** 31
FAST_MATH = re.compile(r"use_fast_math|__expf|__logf|__exp10f|__fdividef|__sinf|__cosf|__tanf|__powf|__tanhf|"
                       r"__frcp|__fsqrt|__half|half2|__nv_bfloat16|\bat::Half\b|bfloat16")
TYPE_DISPATCH = re.compile(r"\.type\(\)")


def _skeleton(src: str) -> str:
    """The task file without its module-level constants and docstrings."""
    body = []
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign):
            try:
                ast.literal_eval(node.value)
                continue
            except (ValueError, SyntaxError):
                if all(isinstance(n, (ast.BinOp, ast.Constant, ast.Tuple, ast.Name, ast.operator, ast.Load))
                       for n in ast.walk(node.value)):
                    continue
        body.append(node)
    module = ast.Module(body=body, type_ignores=[])
    for n in ast.walk(module):
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr) \
                and isinstance(n.body[0].value, ast.Constant):
            n.body = n.body[1:] or [ast.Pass()]
    return ast.dump(module, annotate_fields=False).replace("'randn'", "'rand'")


def _flat_ints(value) -> list[int]:
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _flat_ints(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def changed_values(old_src: str, new_src: str) -> set[int]:
    """Old values of the constants that changed (tuples element by element:
    (16, 1, 1) -> (128, 1, 1) changed 16 only)."""
    old, new = sources.module_constants(old_src), sources.module_constants(new_src)
    out: set[int] = set()
    for k, v in old.items():
        w = new.get(k)
        if w == v:
            continue
        a, b = _flat_ints(v), _flat_ints(w) if w is not None else []
        out |= {x for x, y in zip(a, b) if x != y} if len(a) == len(b) else set(a)
    return out


def task_cost(src: str) -> dict | None:
    """Largest tensor (elements), bytes of inputs and outputs, FLOPs and the
    estimated reference time on an H200, measured on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    ns: dict = {}
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")               # models' own warnings about their arguments
            exec(compile(src, "task", "exec"), ns)
            model = ns["Model"](*ns["get_init_inputs"]())
            inputs = ns["get_inputs"]()
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                out = model(*inputs)
    except Exception:  # noqa: BLE001 - a task the meta device cannot run is left out
        return None
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    tensors = [t for t in list(inputs) + outs if isinstance(t, torch.Tensor)]
    nbytes = sum(t.numel() * t.element_size() for t in tensors)
    flops = counter.get_total_flops()
    return {"max_numel": max(t.numel() for t in tensors), "bytes": nbytes, "flops": flops,
            "estimated_ms": 1e3 * max(nbytes / 4.0e12, flops / 50e12)}


def eligible(kernelbench: Path, kernelbench_v0: Path, corpus: Path) -> tuple[list[dict], dict]:
    """Kernels that pass rules 1-6, each with its task's cost; and the count
    of kernels each rule left out."""
    eval_ids = set(sources.eval_split_ids())
    dropped = {"eval_task": 0, "no_task_file": 0, "interface_changed": 0, "small_constant_changed": 0,
               "hard_coded_size": 0,
               "fast_math_or_half": 0, "type_dispatch": 0, "too_large_or_unmeasurable": 0}
    costs: dict = {}
    out = []
    for line in corpus.read_text().splitlines():
        if not line.strip():
            continue
        k = json.loads(line)
        level, pid = int(k["level"]), int(k["problem_id"])
        if level == 1 and pid in eval_ids:
            dropped["eval_task"] += 1
            continue
        old = kernelbench_v0 / f"level{level}" / f"{k['name']}.py"
        try:
            new = sources.task_file(kernelbench, level, pid)
        except FileNotFoundError:
            new = None
        if new is None or not old.exists():
            dropped["no_task_file"] += 1
            continue
        old_src, new_src = old.read_text(), new.read_text()
        if _skeleton(old_src) != _skeleton(new_src):
            dropped["interface_changed"] += 1
            continue
        code = k["code"]
        changed = changed_values(old_src, new_src)
        if any(x <= 4 for x in changed):
            dropped["small_constant_changed"] += 1
            continue
        if any(re.search(rf"(?<![\w.]){x}(?![\w.])", code) for x in changed):
            dropped["hard_coded_size"] += 1
            continue
        if FAST_MATH.search(code):
            dropped["fast_math_or_half"] += 1
            continue
        if TYPE_DISPATCH.search(code):
            dropped["type_dispatch"] += 1
            continue
        key = (level, pid)
        if key not in costs:
            costs[key] = task_cost(new_src)
        cost = costs[key]
        if cost is None or cost["max_numel"] >= INT32_LIMIT:
            dropped["too_large_or_unmeasurable"] += 1
            continue
        out.append({**k, "task": f"L{level}/{pid}", "task_file": str(new.relative_to(kernelbench)),
                    "v0_file": str(old.relative_to(kernelbench_v0)), "cost": cost})
    return out, dropped


def select(kernelbench: Path, kernelbench_v0: Path | None = None, corpus: Path | None = None) -> dict:
    kernelbench_v0 = kernelbench_v0 or sources.kernelbench_v0_root()
    corpus = corpus or sources.corpus_path()
    if kernelbench_v0 is None or corpus is None:
        raise FileNotFoundError("the CUDA subset needs kernelbench-v0 and corpora/leaderboard_kernels.jsonl")
    kernels, dropped = eligible(kernelbench, kernelbench_v0, corpus)
    by_task: dict[str, list[dict]] = {}
    for k in kernels:
        by_task.setdefault(k["task"], []).append(k)
    rng = random.Random("sgs-real-workload-cuda")
    order = sorted(by_task, key=lambda t: (-by_task[t][0]["cost"]["estimated_ms"], t))
    slowest = order[:N_SLOWEST]
    rest = sorted(order[N_SLOWEST:])
    rng.shuffle(rest)
    pools = {t: sorted(by_task[t], key=lambda k: k["model"]) for t in order}
    for pool in pools.values():
        rng.shuffle(pool)
    chosen: list[dict] = []
    # One kernel per task first (the slowest tasks first), then second ones, ...
    while len(chosen) < N_KERNELS and any(pools.values()):
        for t in slowest + rest:
            if pools[t] and len(chosen) < N_KERNELS:
                pick = dict(pools[t].pop())
                pick["slowest"] = t in slowest
                chosen.append(pick)
    if len(chosen) < N_KERNELS:
        raise RuntimeError(f"only {len(chosen)} eligible kernels, {N_KERNELS} wanted")
    return {"kernels": chosen, "eligible": len(kernels), "eligible_tasks": len(by_task), "dropped": dropped}


def rows(chosen: dict) -> list[dict]:
    """JSONL rows for `sgs import`, numbered within each task."""
    out = []
    per_task: dict[str, int] = {}
    for k in chosen["kernels"]:
        idx = per_task[k["task"]] = per_task.get(k["task"], -1) + 1
        out.append({"task": k["task"], "sample_idx": idx, "label": "correct", "expected_outcome": "correct",
                    "variant": "leaderboard_cuda", "reference_equivalent": False, "expect_flags": [],
                    "style": "corpus", "source_model": k["model"],
                    "published_speedup_vs_torch": k.get("published_speedup_vs_torch"),
                    "slowest_reference": k["slowest"],
                    "estimated_reference_ms": round(k["cost"]["estimated_ms"], 3), "code": k["code"]})
    return out


def describe(chosen: dict) -> dict:
    levels: dict = {}
    for k in chosen["kernels"]:
        levels[k["task"].split("/")[0]] = levels.get(k["task"].split("/")[0], 0) + 1
    return {"kernels": len(chosen["kernels"]), "tasks": len({k["task"] for k in chosen["kernels"]}),
            "eligible_kernels": chosen["eligible"],
            "eligible_tasks": chosen["eligible_tasks"], "left_out": chosen["dropped"], "levels": levels,
            "slowest_tasks": [k["task"] for k in chosen["kernels"] if k["slowest"]]}


def copy_data(kernelbench: Path, chosen: dict, dest: Path) -> dict:
    """The files a GPU machine needs, under dest (git-ignored .gpu_data/):
    kernelbench/levelN/<task>.py for the eval split and the subset's tasks,
    kernelbench-v0/levelN/<task>.py for the subset's tasks, the subset's 64
    corpus lines in corpora/leaderboard_kernels.jsonl, and KernelBench's
    evaluator (kernelbench-evaluator/, for kb_baseline.py)."""
    v0 = sources.kernelbench_v0_root()
    files = [sources.task_file(kernelbench, 1, p) for p in sources.eval_split_ids()]
    files += [kernelbench / k["task_file"] for k in chosen["kernels"]]
    n = 0
    for f in dict.fromkeys(files):
        target = dest / "kernelbench" / f.relative_to(kernelbench)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
        n += 1
    for k in chosen["kernels"]:
        target = dest / "kernelbench-v0" / k["v0_file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(v0 / k["v0_file"], target)
    evaluator = sources.find("kernelbench-evaluator")
    if evaluator is not None and evaluator.resolve() != (dest / "kernelbench-evaluator").resolve():
        shutil.copytree(evaluator, dest / "kernelbench-evaluator", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    corpus = dest / "corpora" / "leaderboard_kernels.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    keep = ("level", "problem_id", "name", "model", "code", "published_speedup_vs_torch",
            "published_speedup_vs_torch_compile", "published_ref_ms", "published_kernel_ms")
    corpus.write_text("".join(json.dumps({f: k.get(f) for f in keep}) + "\n" for k in chosen["kernels"]))
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return {"task_files": n, "v0_files": len(chosen["kernels"]), "corpus_lines": len(chosen["kernels"]),
            "folder": str(dest), "folder_bytes": size}
