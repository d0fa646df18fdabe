#!/usr/bin/env python
"""A surprisal-budgeted evaluation (--time-top N) beside a full evaluation of the same samples.

    python benchmarks/bench_budget.py SAMPLES.jsonl [--kernelbench PATH] [--device cuda] [--time-top 3]
    python benchmarks/bench_budget.py SAMPLES.jsonl --score embedded --device cpu     # samples without logprobs
    python benchmarks/bench_budget.py --db SOURCE.db --run RUN [--device cuda]        # an imported, scored run

SAMPLES.jsonl is any file `sgs import` reads ({task, text|code, logprobs?}).
Samples without logprobs are scored first (`--score MODEL`, e.g. the
embedded model on the CPU); those still unscored are left out of the
budget's ranking. The scored samples are imported twice, into two fresh
databases, and each run is evaluated by `sgs run --resume` in its own
process with its own empty build cache: first the budgeted run, then the
full one (so a warm cache never favours the budget).

Printed per run: wall time, device-seconds (correctness checks + timings,
summed over evaluations from the stored phases: GPU-seconds on a GPU),
compile seconds, CPU-seconds of the evaluating process tree (getrusage of
the finished child: its own and its reaped descendants' user + system
time), evaluations and timings. Then, per task, whether the two runs'
surprisal-top3 picks agree (the surprisal pick with --time-top below 3):
the same sample, or speedup intervals that overlap. Exit status 0 when every pick agrees and the budgeted run took at
most 1/3 of the full run's wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WALL_RATIO_TARGET = 1 / 3


def sgs(*args: str, env: dict | None = None, capture: bool = True) -> str:
    proc = subprocess.run([sys.executable, "-m", "sgs", *args], env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None,
                          text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"sgs {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout or ''}")
    return proc.stdout or ""


def latest_run(db: Path) -> int:
    from sgs.core.store import Store

    with Store(db, readonly=True) as store:
        return store.list_runs()[0]["id"]


def scored_jsonl(db: Path, run_id: int, out: Path) -> tuple[int, int, str]:
    """Write a run's samples with the logprobs behind their surprisal; returns (samples, unscored, prompt style)."""
    from sgs.core.store import Store

    n = unscored = 0
    with Store(db, readonly=True) as store, open(out, "w") as f:
        style = store.get_run(run_id)["prompt_style"] or "kernel"
        for row in store.samples(run_id):
            sample = store.get_sample(row["id"])
            rec = {"task": row["task_id"], "text": sample["raw_text"], "sample_idx": row["sample_idx"]}
            if row["code"] is None:
                rec["code"] = ""                     # a reply without code stays one
            primary = [s for s in store.scores(row["id"]) if row["surprisal"] is not None
                       and abs(s["surprisal"] - row["surprisal"]) < 1e-6]
            if primary:
                rec["tokens"], rec["logprobs"] = primary[0]["tokens"], primary[0]["logprobs"]
                if len(rec["tokens"]) != len(rec["logprobs"]):
                    rec.pop("tokens")
            else:
                unscored += 1
            f.write(json.dumps(rec) + "\n")
            n += 1
    return n, unscored, style


def evaluate(name: str, jsonl: Path, work: Path, style: str, args, budget: bool) -> dict:
    db = work / f"{name}.db"
    common = ["--db", str(db), "--prompt-style", style, "--device", args.device, "--eval-mode", args.eval_mode,
              "--timeout", str(args.timeout), "--name", name]
    if args.kernelbench:
        common += ["--kernelbench", args.kernelbench]
    if budget:
        common += ["--time-top", str(args.time_top), "--audit", str(args.audit)]
    sgs("import", str(jsonl), *common)
    run_id = latest_run(db)
    env = {"SGS_BUILD_CACHE": str(work / f"build-{name}")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    sgs("run", "--resume", str(run_id), "--db", str(db), "--quiet", env=env, capture=not args.verbose)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    from sgs.core.report import cost_records, load_run
    from sgs.core.store import Store

    with Store(db, readonly=True) as store:
        data = load_run(store, run_id)
        costs = {r["role"]: r for r in cost_records(store, data)}
    total = costs.get("all", {})
    timed = sum(1 for cs in data.by_task.values() for c in cs if c.speedup is not None)
    return {"name": name, "db": db, "run_id": run_id, "data": data, "wall_s": wall, "cpu_s": cpu,
            "device_s": total.get("device_s", 0.0), "compile_s": total.get("compile_s", 0.0),
            "evaluations": total.get("evaluations", 0) - costs.get("outside", {}).get("evaluations", 0),
            "timed": timed, "device": total.get("device"), "costs": costs}


def compare_picks(full, budget, strategy: str = "surprisal-top3") -> tuple[list[list[str]], int, int]:
    """Per task: the two runs' picks by `strategy`, and whether they agree (same sample, or overlapping intervals)."""
    from sgs.core.selection import STRATEGIES

    top3 = STRATEGIES.get(strategy)
    rows, agree, n = [], 0, 0
    for task, cands in full["data"].by_task.items():
        pf = top3.pick(cands, "surprisal")
        pb = top3.pick(budget["data"].by_task.get(task, []), "surprisal")
        if not pf and not pb:
            rows.append([task, "-", "-", "-", "-", "no correct sample: agree"])
            agree += 1
            n += 1
            continue
        n += 1
        cf, cb = (pf[0][0] if pf else None), (pb[0][0] if pb else None)
        verdict = "DISAGREE"
        if cf is not None and cb is not None:
            if cf.sample_idx == cb.sample_idx:
                verdict = "same sample"
            if _overlap(cf, cb):
                verdict = verdict if verdict == "same sample" else "intervals overlap"
            if verdict == "same sample" and not _overlap(cf, cb):
                verdict = "same sample, intervals apart"
        agree += verdict in ("same sample", "intervals overlap", "same sample, intervals apart")
        rows.append([task, _pick(cf), _interval(cf), _pick(cb), _interval(cb), verdict])
    return rows, agree, n


def _overlap(a, b) -> bool:
    lo_a, hi_a = (a.speedup_lo, a.speedup_hi) if a.speedup_lo is not None else (a.speedup, a.speedup)
    lo_b, hi_b = (b.speedup_lo, b.speedup_hi) if b.speedup_lo is not None else (b.speedup, b.speedup)
    if None in (lo_a, hi_a, lo_b, hi_b):
        return False
    return lo_a <= hi_b and lo_b <= hi_a


def _pick(c) -> str:
    return "-" if c is None else f"#{c.sample_idx} {c.speedup:.2f}x" if c.speedup is not None else f"#{c.sample_idx} untimed"


def _interval(c) -> str:
    return "-" if c is None or c.speedup_lo is None else f"[{c.speedup_lo:.2f}, {c.speedup_hi:.2f}]"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", nargs="?", help="a JSONL file sgs import reads ({task, text|code, logprobs?})")
    p.add_argument("--db", help="instead of a file: a database holding an imported run")
    p.add_argument("--run", type=int, help="with --db: the run (default: the latest)")
    p.add_argument("--score", default=None, metavar="MODEL", help="score samples without logprobs (e.g. embedded)")
    p.add_argument("--kernelbench", default=os.environ.get("SGS_KERNELBENCH"))
    p.add_argument("--device", default="auto")
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--time-top", type=int, default=3)
    p.add_argument("--audit", type=int, default=0)
    p.add_argument("--workdir", default=None, help="keep the databases here (default: a temporary folder)")
    p.add_argument("--verbose", action="store_true", help="show the runs' output")
    args = p.parse_args(argv)
    if not args.samples and not args.db:
        p.error("give a samples file or --db")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sgs-bench-budget-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.db:
        source_db, source_run = Path(args.db), args.run or latest_run(Path(args.db))
    else:
        source_db = work / "source.db"
        extra = ["--kernelbench", args.kernelbench] if args.kernelbench else []
        print(sgs("import", args.samples, "--db", str(source_db), "--name", "source", *extra).strip())
        source_run = latest_run(source_db)
        if args.score:
            print(sgs("score", str(source_run), "--model", args.score, "--db", str(source_db)).strip())
    jsonl = work / "scored.jsonl"
    n, unscored, style = scored_jsonl(source_db, source_run, jsonl)
    print(f"{n} samples ({unscored} without logprobs: left out of the budget's ranking); work folder {work}")
    budget = evaluate("budget", jsonl, work, style, args, budget=True)
    full = evaluate("full", jsonl, work, style, args, budget=False)
    device = full["device"] or "?"
    print()
    print(f"evaluation on {device}; --time-top {args.time_top}" + (f" --audit {args.audit}" if args.audit else ""))
    rows = [[r["name"], f"{r['wall_s']:.1f}", f"{r['device_s']:.1f}", f"{r['compile_s']:.1f}", f"{r['cpu_s']:.1f}",
             str(r["evaluations"]), str(r["timed"])] for r in (full, budget)]
    print(table(rows, ["run", "wall s", "device s (GPU-s on a GPU)", "compile s", "CPU s", "evaluations", "timed"]))
    ratio = budget["wall_s"] / full["wall_s"] if full["wall_s"] else float("inf")
    print(f"wall-time ratio budget/full: {ratio:.3f} (target <= {WALL_RATIO_TARGET:.3f}); "
          f"device-seconds ratio {budget['device_s'] / full['device_s'] if full['device_s'] else float('nan'):.3f}")
    print()
    # the budget times the top N: surprisal-top3 needs N >= 3, the plain surprisal pick N >= 1
    strategy = "surprisal-top3" if args.time_top >= 3 else "surprisal"
    picks, agree, n_tasks = compare_picks(full, budget, strategy)
    print(table(picks, ["task", "full: pick", "interval", "budget: pick", "interval", "agreement"]))
    print(f"{strategy} picks agree on {agree}/{n_tasks} tasks")
    print(f"reports: sgs report {full['run_id']} --db {full['db']}   and   sgs report {budget['run_id']} --db {budget['db']}")
    return 0 if agree == n_tasks and ratio <= WALL_RATIO_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
