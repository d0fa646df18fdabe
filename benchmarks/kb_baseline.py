"""Baseline for bench_real.py: KernelBench's own evaluator on a sample of the
same candidate set, run the way the paper's scripts call it.

For each task, 2 candidates (one labelled correct, one of another label,
chosen with a seeded RNG; hangs are not sampled, as a hang would only measure
the timeout chosen here), one after another, each in a fresh subprocess:
`eval_kernel_against_ref(ref, cand, num_correct_trials=1, num_perf_trials=5,
measure_performance=True, timing_method="cuda_event", backend="cuda",
precision=fp32)` (fast mode) on the task's current file. A subprocess that
outlives --timeout-s is killed (verdict `timeout`); one killed by a signal is
`crashed`. Every finished candidate is appended at once to
--data/kb_baseline.jsonl and copied to --out, so a command cut short loses at
most the candidate in progress; the next command skips what is recorded.

Per candidate it records the subprocess's wall time (start to exit, Python and
torch start-up included: a fresh process per candidate is what keeps a hang or
a crash from stopping the baseline) and the time inside
eval_kernel_against_ref, and KernelBench's verdict next to the label.

  . benchmarks/device_env.sh
  python3 benchmarks/kb_baseline.py --budget-s 540     # repeat until it says all 40 are done
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_workload import sources  # noqa: E402

RESULTS = "kb_baseline.jsonl"

_CHILD = r'''
import json, sys, time
t_start = time.monotonic()
req = json.load(open(sys.argv[1]))
import kernelbench.eval as kb_eval
from kernelbench.eval import eval_kernel_against_ref
torch = kb_eval.torch                 # the torch KernelBench's evaluator itself imported
t0 = time.monotonic()
out = {"import_s": t0 - t_start}
try:
    r = eval_kernel_against_ref(req["reference_src"], req["candidate_src"], seed_num=42, num_correct_trials=1,
                                num_perf_trials=5, measure_performance=True, timing_method="cuda_event",
                                build_dir=req["build_dir"], device=torch.device(req["device"]), backend="cuda",
                                precision=torch.float32)
    out["result"] = None if r is None else {
        "compiled": bool(r.compiled), "correctness": bool(r.correctness), "runtime_us": r.runtime,
        "ref_runtime_us": r.ref_runtime, "metadata": {k: str(v)[:300] for k, v in (r.metadata or {}).items()}}
except Exception as e:  # KernelBench lets some errors through (e.g. a TypeError building ModelNew)
    out["exception"] = f"{type(e).__name__}: {str(e)[:300]}"
out["eval_s"] = time.monotonic() - t0
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
'''


def pick(rows: list[dict], per_task: int = 2, seed: str = "kb-baseline") -> list[dict]:
    """Per task: one `correct` candidate and per_task - 1 of other labels (not `timeout`)."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        rng = random.Random(f"{seed}:{task}")
        correct = [r for r in mine if r["label"] == "correct"]
        other = [r for r in mine if r["label"] not in ("correct", "timeout")]
        chosen = ([rng.choice(correct)] if correct else []) + rng.sample(other, min(len(other), per_task - 1))
        out += chosen
    return out


def verdict(child: dict | None, returncode: int | None, timed_out: bool) -> tuple[str, str]:
    """(verdict in sgs's outcome names, detail) from the subprocess's end."""
    if timed_out:
        return "timeout", "killed at the time limit"
    if child is None:
        if returncode is not None and returncode < 0:
            return "crashed", f"killed by signal {-returncode}"
        return "runtime_error", f"exited with code {returncode} without a result"
    if "exception" in child:
        return "runtime_error", child["exception"]
    r = child.get("result")
    if r is None:
        return "evaluator_error", "eval_kernel_against_ref returned None (build lock; KernelBench asks to retry)"
    if not r["compiled"]:
        return "compile_error", r["metadata"].get("compilation_error", "")[:200]
    if r["correctness"]:
        return "correct", ""
    if "runtime_error" in r["metadata"]:
        return "runtime_error", r["metadata"]["runtime_error"][:200]
    return "incorrect", r["metadata"].get("correctness_issue", "")[:200]


def kb_site(evaluator: Path, where: Path) -> Path:
    """A folder holding `kernelbench` -> the evaluator's folder, for sys.path."""
    site = where / "kb_site"
    site.mkdir(parents=True, exist_ok=True)
    link = site / "kernelbench"
    if not link.exists():
        link.symlink_to(evaluator.resolve(), target_is_directory=True)
    return site


def run_one(row: dict, reference_src: str, site: Path, work: Path, device: str, timeout_s: float) -> dict:
    req_path, res_path = work / "request.json", work / "result.json"
    build = work / "build"
    shutil.rmtree(build, ignore_errors=True)
    res_path.unlink(missing_ok=True)
    req_path.write_text(json.dumps({"reference_src": reference_src, "candidate_src": row["code"],
                                    "build_dir": str(build), "device": device}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(req_path), str(res_path)], cwd=str(work), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.monotonic() - t0
    child = json.loads(res_path.read_text()) if res_path.exists() else None
    v, detail = verdict(child, proc.returncode, timed_out)
    return {"task": row["task"], "sample_idx": row["sample_idx"], "label": row["label"],
            "expected": row.get("expected_outcome"), "variant": row.get("variant"), "verdict": v, "detail": detail,
            "wall_s": round(wall, 3), "eval_s": None if child is None else round(child["eval_s"], 3),
            "import_s": None if child is None else round(child["import_s"], 3),
            "runtime_us": ((child or {}).get("result") or {}).get("runtime_us"),
            "ref_runtime_us": ((child or {}).get("result") or {}).get("ref_runtime_us")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(sources.GPU_DATA / "real_workload"))
    p.add_argument("--candidates", default=None, help="default: --data/candidates.jsonl")
    p.add_argument("--kernelbench", default=None, help="current task files (default: found)")
    p.add_argument("--evaluator", default=None, help="KernelBench's evaluator folder (default: found)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--per-task", type=int, default=2)
    p.add_argument("--timeout-s", type=float, default=300.0, help="a candidate's subprocess is killed after this")
    p.add_argument("--budget-s", type=float, default=540.0, help="start no candidate that could run past this")
    p.add_argument("--min-start-s", type=float, default=30.0,
                   help="start a candidate only with at least this much budget left")
    p.add_argument("--out", default=os.environ.get("OUT") or "kb_baseline_out")
    args = p.parse_args(argv)
    t_begin = time.monotonic()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = Path(args.candidates) if args.candidates else data / "candidates.jsonl"
    kb = Path(args.kernelbench) if args.kernelbench else sources.kernelbench_root()
    evaluator = Path(args.evaluator) if args.evaluator else sources.find("kernelbench-evaluator")
    if not candidates.exists() or kb is None or evaluator is None:
        sys.exit("error: needs the candidates, the task files and kernelbench-evaluator (.gpu_data or ../shared)")
    rows = [json.loads(line) for line in candidates.read_text().splitlines() if line.strip()]
    todo = pick(rows, args.per_task)
    results_path = data / RESULTS
    done = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()] \
        if results_path.exists() else []
    have = {(r["task"], r["sample_idx"]) for r in done}
    work = Path(tempfile.mkdtemp(prefix="kb-baseline-"))
    site = kb_site(evaluator, work)
    stopped = False
    try:
        for row in todo:
            if (row["task"], row["sample_idx"]) in have:
                continue
            left = args.budget_s - (time.monotonic() - t_begin)
            # A candidate of a task that took longer than what is left would be cut and run again.
            expect = max([r["wall_s"] for r in done if r["task"] == row["task"]], default=0.0)
            if left < max(args.min_start_s, expect):
                stopped = True
                break
            level, problem = row["task"][1:].split("/")
            ref = sources.task_file(kb, int(level), int(problem)).read_text()
            limit = min(args.timeout_s, left)
            rec = run_one(row, ref, site, work, args.device, limit)
            if rec["verdict"] == "timeout" and limit < args.timeout_s:
                stopped = True                    # cut by the budget, not by its own limit: run it next time
                break
            done.append(rec)
            with open(results_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            shutil.copyfile(results_path, out / RESULTS)
            print(f"{rec['task']} #{rec['sample_idx']} {rec['label']:>13} -> {rec['verdict']:<13} "
                  f"{rec['wall_s']:7.1f} s (in eval: {rec['eval_s']})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if results_path.exists():
        shutil.copyfile(results_path, out / RESULTS)
    remaining = sum((r["task"], r["sample_idx"]) not in {(d["task"], d["sample_idx"]) for d in done} for r in todo)
    print(json.dumps({"recorded": len(done), "remaining": remaining, "stopped_by_budget": stopped,
                      "results": str(out / RESULTS)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
