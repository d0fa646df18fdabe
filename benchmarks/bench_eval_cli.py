"""`sgs eval` of one candidate on the paper's largest tasks, cold and warm.

Cold: a fresh process with an empty sgs cache (no build cache, no stored
probes, no reference timings). Warm: the same command again, right after.
Each invocation is a separate `python -m sgs eval` process, timed from
start to exit, as a user would see it.

    . benchmarks/device_env.sh
    python3 benchmarks/bench_eval_cli.py --kernelbench .gpu_data/kernelbench --tasks L1/4 L1/5 --warm 2

Prints a table (task, run, seconds, outcome, speedup) and writes it to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE_EQUIVALENT = "class ModelNew(Model):\n    pass\n"


def once(task: str, cand: Path, kernelbench: str, cache: str, device: str) -> dict:
    env = {**os.environ, "SGS_CACHE": cache, "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "sgs", "eval", str(cand), "--task", task, "--kernelbench", kernelbench,
                          "--device", device, "--json"], capture_output=True, text=True, env=env, timeout=600)
    wall = time.monotonic() - t0
    try:
        result = json.loads(out.stdout)
    except ValueError:
        result = {"outcome": f"no result (exit {out.returncode})", "error": (out.stderr or out.stdout)[-400:]}
    return {"task": task, "wall_s": round(wall, 2), "outcome": result.get("outcome"),
            "speedup": result.get("speedup"), "error": result.get("error"), "phases": result.get("phases"),
            "flags": result.get("flags")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernelbench", required=True)
    p.add_argument("--tasks", nargs="+", default=["L1/4", "L1/5"])
    p.add_argument("--warm", type=int, default=2, help="warm runs after the cold one")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default=os.environ.get("OUT"))
    args = p.parse_args()
    cand = Path(tempfile.mkdtemp()) / "candidate.py"
    cand.write_text(REFERENCE_EQUIVALENT)
    rows = []
    for task in args.tasks:
        cache = tempfile.mkdtemp(prefix="sgs-cache-")
        rows.append({"run": "cold", **once(task, cand, args.kernelbench, cache, args.device)})
        for i in range(args.warm):
            rows.append({"run": f"warm {i + 1}", **once(task, cand, args.kernelbench, cache, args.device)})
    lines = ["| task | run | seconds | outcome | speedup |", "|---|---|---:|---|---:|"]
    for r in rows:
        sp = f"{r['speedup']:.3f}" if r.get("speedup") else "-"
        lines.append(f"| {r['task']} | {r['run']} | {r['wall_s']:.1f} | {r['outcome']} | {sp} |")
    text = "\n".join(lines)
    print(text)
    for r in rows:
        if r["outcome"] != "correct":
            print(f"{r['task']} {r['run']}: {r['error']}")
        print(f"{r['task']} {r['run']} phases: {r['phases']}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "eval_cli.md").write_text(text + "\n")
        (Path(args.out) / "eval_cli.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
