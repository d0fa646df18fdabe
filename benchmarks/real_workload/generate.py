"""The candidate set of the real-workload benchmark: the 20 tasks of the L1
seed-42 eval split at K = 64, each candidate labelled with the verdict it
should get, written as JSONL for `sgs import`.

Per task (64): 6 reference-equivalent variants, 26 correct candidates (rewrites
and the same op spelled differently), 21 or 22 wrong outputs, 4 runtime errors
(one of them a process that exits), 2 import failures, 2 crashes, 2
out-of-memory and, on 6 tasks, one hang (in forward on L1/12, 28, 55, 89; at
module import on L1/4, 5). Deterministic: the same files give the same bytes.

Each line: task, sample_idx, code, label (the verdict: correct, incorrect,
runtime_error, compile_error, crashed, timeout or oom), expected_outcome (the
evaluator's outcome name for it: oom is reported as runtime_error), variant,
reference_equivalent (the candidate is the reference's computation), and
expect_flags (flags the evaluator should raise).

  python benchmarks/real_workload/generate.py --out .gpu_data/real_workload
writes candidates.jsonl, cuda.jsonl (the CUDA subset, see cuda_subset.py) and,
with --copy-data, the task files and corpus lines a GPU machine needs into
.gpu_data/ (git-ignored) so that they can be carried there.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "real_workload"

from . import sources, tasks_conv, tasks_matmul, tasks_pointwise  # noqa: E402
from .templates import (COMPILE_ERRORS, CRASHES, EXITS, EXPECTED_OUTCOME, HANGS_AT_TOP,  # noqa: E402
                        HANGS_IN_FORWARD, RUNTIME_TAILS, STYLES, Body, TaskSpec, reference_equivalents, render)

K = 64
N_CORRECT = 26            # besides the 6 reference-equivalent variants
N_WRONG = 21
HANG_IN_FORWARD = ("L1/12", "L1/28", "L1/55", "L1/89")
HANG_AT_TOP = ("L1/4", "L1/5")


def all_specs() -> dict[str, TaskSpec]:
    specs = {}
    for module in (tasks_matmul, tasks_pointwise, tasks_conv):
        for make in module.SPECS:
            spec = make()
            specs[spec.task_id] = spec
    return specs


def normalise(src: str) -> str:
    return " ".join(src.split())


def _op_name(reference_path: Path) -> str:
    return reference_path.stem.split("_", 1)[1].replace("_", " ").strip().lower()


def _after(prefix_body: Body, tail: str, variant: str, imports=()) -> Body:
    """`tail` run after the task's own computation (held in `out`), then `out` returned."""
    lines = prefix_body.text.strip("\n").split("\n")
    lines[-1] = re.sub(r"^return ", "out = ", lines[-1])
    return Body("\n".join(lines) + "\n" + tail + "\nreturn out", variant,
                imports=tuple(prefix_body.imports) + tuple(imports), needs=prefix_body.needs)


class _Picker:
    """Deterministic choices of style, argument names and __init__ for one
    task, never giving the same source twice."""

    def __init__(self, spec: TaskSpec, seen: set[str]):
        self.spec = spec
        self.rng = random.Random(f"sgs-real-workload:{spec.task_id}")
        self.seen = seen                  # sources of the whole set so far (normalised)

    def render(self, body: Body, *, top_level: str = "", plain: bool = False) -> tuple[str, str]:
        inits = [i for i in self.spec.inits if all(n in i.fill for n in body.needs)]
        for attempt in range(200):
            if plain and attempt == 0:
                style, rename, init = "method", {}, inits[0]
            else:
                style = self.rng.choice(STYLES)
                rename = self.rng.choice(({},) + tuple(self.spec.renames))
                init = self.rng.choice(inits)
            src = render(self.spec, body, style, rename, init, top_level=top_level)
            if normalise(src) not in self.seen:
                self.seen.add(normalise(src))
                return src, style
        raise RuntimeError(f"{self.spec.task_id}: no new source for {body.variant!r}")


def _row(task_id: str, code: str, label: str, variant: str, style: str, *, equivalent: bool = False,
         flags: tuple[str, ...] = ()) -> dict:
    return {"task": task_id, "code": code, "label": label, "expected_outcome": EXPECTED_OUTCOME[label],
            "variant": variant, "reference_equivalent": equivalent, "expect_flags": list(flags), "style": style}


def task_candidates(spec: TaskSpec, reference_src: str, op_name: str, position: int,
                    seen: set[str] | None = None) -> list[dict]:
    """The K candidates of one task, shuffled, with sample_idx 0..K-1;
    none repeats a source in `seen` (updated)."""
    pick = _Picker(spec, set() if seen is None else seen)
    rows: list[dict] = []
    for variant, src, flagged in reference_equivalents(spec, reference_src):
        src = src.replace("class ModelNew(Model):\n", f"class ModelNew(Model):\n    \"\"\"{op_name}: the reference "
                          f"already calls the library kernel.\"\"\"\n\n", 1) if variant != "copy" else src
        if variant == "holds_model":
            src = src.replace("class ModelNew(nn.Module):\n", f"class ModelNew(nn.Module):\n    \"\"\"{op_name}, "
                              "delegated to the reference implementation.\"\"\"\n\n", 1)
        pick.seen.add(normalise(src))
        rows.append(_row(spec.task_id, src, "correct", variant, "reference", equivalent=True,
                         flags=("reference_equivalent",) if flagged else ()))
    for i in range(N_CORRECT):
        body = spec.correct[i % len(spec.correct)]
        src, style = pick.render(body)
        rows.append(_row(spec.task_id, src, "correct", body.variant, style, equivalent=body.variant == "same_op"))
    hang = spec.task_id in HANG_IN_FORWARD or spec.task_id in HANG_AT_TOP
    base = spec.correct[0]
    for i in range(N_WRONG + (0 if hang else 1)):
        body = spec.wrong[i % len(spec.wrong)]
        src, style = pick.render(body)
        rows.append(_row(spec.task_id, src, "incorrect", body.variant, style))
    tail = RUNTIME_TAILS[position % len(RUNTIME_TAILS)]
    exit_body = EXITS[position % len(EXITS)]
    runtime = [spec.runtime[position % len(spec.runtime)], spec.runtime[(position + 1) % len(spec.runtime)],
               _after(base, tail.text, tail.variant), _after(base, exit_body.text, exit_body.variant, exit_body.imports)]
    for body in runtime:
        src, style = pick.render(body)
        rows.append(_row(spec.task_id, src, "runtime_error", body.variant, style))
    for j in range(2):
        variant, snippet = COMPILE_ERRORS[(2 * position + j) % len(COMPILE_ERRORS)]
        if snippet is None:
            src, style = pick.render(base)
            sig = ", ".join(f"{a}: Tensor" for a in spec.args)
            src = re.sub(r"def forward\(self, [^)]*\):", f"def forward(self, {sig}) -> Tensor:", src, count=1)
            pick.seen.add(normalise(src))
        else:
            src, style = pick.render(base, top_level=snippet)
        rows.append(_row(spec.task_id, src, "compile_error", variant, style))
    for j in range(2):
        crash = CRASHES[(2 * position + j) % len(CRASHES)]
        src, style = pick.render(_after(base, crash.text, crash.variant, crash.imports))
        rows.append(_row(spec.task_id, src, "crashed", crash.variant, style))
    for body, _gib in spec.oom:
        src, style = pick.render(body)
        rows.append(_row(spec.task_id, src, "oom", body.variant, style))
    if spec.task_id in HANG_IN_FORWARD:
        loop = HANGS_IN_FORWARD[HANG_IN_FORWARD.index(spec.task_id) % len(HANGS_IN_FORWARD)]
        src, style = pick.render(_after(base, loop.text, loop.variant, loop.imports))
        rows.append(_row(spec.task_id, src, "timeout", loop.variant, style))
    elif spec.task_id in HANG_AT_TOP:
        src, style = pick.render(base, top_level=HANGS_AT_TOP[HANG_AT_TOP.index(spec.task_id)])
        rows.append(_row(spec.task_id, src, "timeout", "hang_at_import", style))
    if len(rows) != K:
        raise AssertionError(f"{spec.task_id}: {len(rows)} candidates, expected {K}")
    random.Random(f"sgs-real-workload-order:{spec.task_id}").shuffle(rows)
    for idx, row in enumerate(rows):
        row["sample_idx"] = idx
    return rows


def build(kernelbench: Path, task_ids: list[str] | None = None) -> list[dict]:
    """Every candidate of the eval split (or of `task_ids`), in split order."""
    specs = all_specs()
    ids = task_ids or [f"L1/{p}" for p in sources.eval_split_ids()]
    rows: list[dict] = []
    seen: set[str] = set()
    for position, task_id in enumerate(ids):
        problem = int(task_id.split("/")[1])
        path = sources.task_file(kernelbench, 1, problem)
        rows += task_candidates(specs[task_id], path.read_text(), _op_name(path), position, seen)
    return rows


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ("task", "sample_idx", "label", "expected_outcome", "variant", "reference_equivalent", "expect_flags",
            "style", "code")
    with open(path, "w") as f:
        for row in rows:
            ordered = {k: row[k] for k in keys if k in row} | {k: v for k, v in row.items() if k not in keys}
            f.write(json.dumps(ordered) + "\n")


def summary(rows: list[dict]) -> dict:
    by_label: dict = {}
    for r in rows:
        by_label[r["label"]] = by_label.get(r["label"], 0) + 1
    distinct = len({normalise(r["code"]) for r in rows})
    return {"candidates": len(rows), "tasks": len({r["task"] for r in rows}), "labels": by_label,
            "distinct_sources": distinct, "distinct_share": distinct / len(rows) if rows else 0.0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(sources.GPU_DATA / "real_workload"), help="folder for the JSONL files")
    p.add_argument("--kernelbench", default=None, help="current KernelBench tasks (default: found, see sources.py)")
    p.add_argument("--no-cuda", action="store_true", help="skip the CUDA subset (needs the corpus and kernelbench-v0)")
    p.add_argument("--copy-data", action="store_true",
                   help="also copy the task files and corpus lines a GPU machine needs into .gpu_data/")
    args = p.parse_args(argv)
    kb = Path(args.kernelbench) if args.kernelbench else sources.kernelbench_root()
    if kb is None:
        sys.exit("error: no KernelBench task folder (set SGS_TEST_KERNELBENCH or pass --kernelbench)")
    out = Path(args.out)
    rows = build(kb)
    write_jsonl(rows, out / "candidates.jsonl")
    print(json.dumps({"candidates.jsonl": summary(rows)}))
    if not args.no_cuda:
        from . import cuda_subset
        chosen = cuda_subset.select(kb)
        write_jsonl(cuda_subset.rows(chosen), out / "cuda.jsonl")
        print(json.dumps({"cuda.jsonl": cuda_subset.describe(chosen)}))
        if args.copy_data:
            print(json.dumps({"copied": cuda_subset.copy_data(kb, chosen, sources.GPU_DATA)}))
    elif args.copy_data:
        sys.exit("error: --copy-data needs the CUDA subset (drop --no-cuda)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
