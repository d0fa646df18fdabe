"""Benchmark of the isolated evaluator on a GPU, with the public leaderboard
kernels (CUDA load_inline) against the kernelbench-v0 tasks they were
written for.

Parts (--parts, comma-separated):
  ours      evaluate --n kernels with an Evaluator, cold build cache; gives
            throughput (kernels/min) and agreement (share judged correct,
            every disagreement listed, Spearman vs the published speedups)
  baseline  the first --baseline of the same kernels one after another in one
            process: compile each in turn, check once, re-time the reference
            per sample (the naive way)
  fidelity  (with ours) the kernels of --fidelity-ids evaluated --reps more
            times each with fresh seeds, spread evenly through the ours run
            (so beside its compiles and checks, as in a real run), sharing
            the run's reference cache: CV of each kernel's speedup

Writes JSON under --out and prints the table last. Run from the repo root:
  . benchmarks/device_env.sh && python3 benchmarks/bench_eval.py --out "$OUT"
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Kernels of 50 us and more on an H200 (earlier runs), from short to long;
# L3/29 calls torch ops only and is bound by the host's launch speed.
FIDELITY_IDS = ("L1/96/deepseek-coder", "L1/45/deepseek-coder", "L1/90/gpt-o1", "L2/7/claude-3.5-sonnet",
                "L3/29/gemini-1.5-flash", "L3/26/gpt-4o")


def data_paths(args) -> tuple[Path, Path]:
    """The corpus and the kernelbench-v0 folder: .gpu_data/ (carried to a GPU
    machine) first, then the shared folder."""
    for root in (REPO / ".gpu_data", Path(os.environ.get("SGS_SHARED", "")), REPO / ".." / "shared",
                 Path("/work/shared")):
        corpus = root / "leaderboard_kernels.jsonl"
        if not corpus.exists():
            corpus = root / "corpora" / "leaderboard_kernels.jsonl"
        tasks = root / "kernelbench-v0"
        if corpus.exists() and tasks.exists():
            return corpus, tasks
    sys.exit("error: leaderboard_kernels.jsonl / kernelbench-v0 not found (.gpu_data or shared)")


def load_kernels(corpus: Path, tasks: Path, n: int, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in corpus.open()]
    rnd = random.Random(seed)
    rnd.shuffle(rows)
    out = []
    for r in rows:
        path = tasks / f"level{r['level']}" / f"{r['name']}.py"
        if not path.exists():
            continue
        r["reference_src"] = path.read_text()
        r["id"] = f"L{r['level']}/{r['problem_id']}/{r['model']}"
        out.append(r)
        if len(out) == n:
            break
    return out


def request(k: dict, **kw) -> dict:
    r = {"task_id": f"L{k['level']}/{k['problem_id']}", "reference_src": k["reference_src"],
         "candidate_src": k["code"], "kind": "cuda", "device": "cuda", "mode": "fast", "seed": 1,
         "timeout_s": 120, "compile_timeout_s": 400,
         # the leaderboard judged these kernels at atol = rtol = 1e-2 (kernelbench-v0)
         "atol": 1e-2, "rtol": 1e-2}
    r.update(kw)
    return r


def part_ours(kernels: list[dict], workers: int, budget_s: float, fidelity: list[dict] = (),
              reps: int = 10, cached_ids: tuple = (), build: str | None = None) -> dict:
    """All kernels through one Evaluator; stops waiting at the budget and
    counts the kernels finished by then. The fidelity kernels' repeats go in
    between, evenly spread over the submission order."""
    import concurrent.futures as cf

    from sgs.gpu_eval import Evaluator, MemoryReferenceCache
    build = build or tempfile.mkdtemp(prefix="sgs-bench-build-")          # cold build cache
    order: list[tuple[str, dict, dict]] = [("kernel", k, request(k)) for k in kernels]
    # Each fidelity kernel: reps paired timings; those in cached_ids also reps
    # timed against the cached reference timing alone (the earlier method).
    runs = [(k, "paired") for k in fidelity] + [(k, "cached") for k in fidelity if k["id"] in cached_ids]
    for j, (k, how) in enumerate(runs):
        for i in range(reps):
            pos = (len(kernels) * i) // reps + j + i * len(runs)
            req = request(k, seed=(100 if how == "paired" else 200) + i, reference_timing=how)
            order.insert(min(pos, len(order)), (f"fidelity:{how}", k, req))
    t0 = time.monotonic()
    ev = Evaluator(max_workers=workers, reference_cache=MemoryReferenceCache(), build_cache=build)
    futs = [(role, k, ev.submit(req)) for role, k, req in order]
    done_at: dict = {}
    for f in [f for _, _, f in futs]:
        f.add_done_callback(lambda fut: done_at.setdefault(id(fut), time.monotonic()))
    own = [f for role, _, f in futs if role == "kernel"]
    cf.wait(own, timeout=budget_s)
    wall = time.monotonic() - t0
    cf.wait([f for _, _, f in futs], timeout=max(0.0, budget_s - wall))
    results, fid = [], {}
    for role, k, f in futs:
        if not f.done():
            continue
        try:
            r = f.result()
        except Exception as e:  # the benchmark reports, never stops
            r = {"outcome": "evaluator_error", "error": f"{type(e).__name__}: {e}"}
        row = {"id": k["id"], "published_speedup": k["published_speedup_vs_torch"],
               "published_kernel_ms": k["published_kernel_ms"], "done_s": done_at.get(id(f), 0) - t0, **r}
        if role == "kernel":
            results.append(row)
        else:
            how = role.split(":")[1]
            fid.setdefault(k["id"] + ("" if how == "paired" else " (cached reference)"), []).append(row)
    n_own = len(results)
    probe = ev._runner.probe_details()
    ev.close(wait=all(f.done() for _, _, f in futs))
    return {"n": n_own, "planned": len(kernels), "wall_s": wall, "per_min": 60 * n_own / wall,
            "extra_evaluations": sum(len(v) for v in fid.values()), "workers": workers,
            "in_flight": ev.in_flight, "build": build,
            "sandbox_probe": probe, "results": results, "fidelity": fidelity_summary(fid)}


def fidelity_summary(fid: dict) -> dict:
    out = []
    for kid, rows in fid.items():
        sp = [r["speedup"] for r in rows if r.get("outcome") == "correct" and r.get("speedup")]
        cms = [r["candidate_ms"]["median"] for r in rows if r.get("candidate_ms")]
        out.append({"id": kid, "speedups": sp, "candidate_ms_each": cms,
                    "candidate_ms": statistics.median(cms) if cms else None,
                    "reference_ms": [(r.get("reference_ms") or {}).get("median") for r in rows],
                    "done_s": [round(r["done_s"], 1) for r in rows],
                    "outcomes": [r.get("outcome") for r in rows],
                    "cv": (statistics.stdev(sp) / statistics.fmean(sp)) if len(sp) > 1 else None,
                    "flags": sorted({f for r in rows for f in r.get("flags", [])})})
    return {"kernels": out, "picked": list(fid)}


def time_split(results: list[dict]) -> dict:
    """Where an evaluation's time went, summed over the kernels."""
    tot = {"compile_s": 0.0, "correctness_s": 0.0, "timing_s": 0.0, "build_slot_wait_s": 0.0}
    headers: dict = {}
    for r in results:
        for key in tot:
            tot[key] += float((r.get("phases") or {}).get(key) or 0.0)
        for h in r.get("build_headers") or []:
            headers[h] = headers.get(h, 0) + 1
    return {**{k: round(v, 1) for k, v in tot.items()}, "build_headers": headers}


_BASELINE = r'''
import json, os, sys, time, torch
kernels = json.load(open(sys.argv[1]))
os.environ["TORCH_EXTENSIONS_DIR"] = sys.argv[2]
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

def timed(model, inputs, n=5, warm=3):
    for _ in range(warm):
        model(*inputs)
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); model(*inputs); b.record(); torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    return sorted(ts)[len(ts) // 2]

t0 = time.monotonic()
for k in kernels:
    t = time.monotonic()
    rec = {"id": k["id"]}
    try:
        ref, cand = {}, {}
        exec(compile(k["reference_src"], "reference", "exec"), ref)
        exec(compile(k["code"], "candidate", "exec"), cand)           # compiles in turn
        torch.manual_seed(0); init = ref["get_init_inputs"]()
        torch.manual_seed(0); m = ref["Model"](*init).cuda()
        torch.manual_seed(0); c = cand["ModelNew"](*init).cuda()
        torch.manual_seed(1)
        inputs = [x.cuda() if isinstance(x, torch.Tensor) else x for x in ref["get_inputs"]()]
        with torch.no_grad():
            ok = torch.allclose(m(*inputs), c(*inputs), atol=1e-2, rtol=1e-2)
            rec["correct"] = bool(ok)
            if ok:
                rec["speedup"] = timed(m, inputs) / timed(c, inputs)      # reference re-timed per sample
    except Exception as e:
        rec["error"] = f"{type(e).__name__}: {str(e)[:200]}"
    rec["s"] = time.monotonic() - t
    rec["elapsed"] = time.monotonic() - t0
    print(json.dumps(rec), flush=True)
'''


def part_baseline(kernels: list[dict], deadline: float) -> dict:
    """Runs until done or the deadline; kernels/min from the kernels finished."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernels.json"
        path.write_text(json.dumps([{"id": k["id"], "reference_src": k["reference_src"], "code": k["code"]}
                                    for k in kernels]))
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", _BASELINE, str(path), str(Path(tmp) / "ext")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        timer = threading.Timer(max(1.0, deadline - time.monotonic()), proc.kill)
        timer.start()
        results = []
        for line in proc.stdout:
            try:
                results.append(json.loads(line))
            except ValueError:
                pass
        proc.wait()
        timer.cancel()
        wall = time.monotonic() - t0
    done = len(results)
    span = results[-1]["elapsed"] if results else wall
    return {"n": done, "planned": len(kernels), "wall_s": span, "per_min": 60 * done / span if done else 0.0,
            "results": results}


def part_fidelity(kernels: list[dict], ours: dict | None, n_kernels: int, reps: int, workers: int,
                  build: str | None, budget_s: float = 1800.0) -> dict:
    """Stops waiting at the budget; a kernel's CV comes from the repetitions
    finished by then."""
    import concurrent.futures as cf

    from sgs.gpu_eval import Evaluator
    picked = []
    by_id = {k["id"]: k for k in kernels}
    if ours:
        ok = [r for r in ours["results"] if r.get("outcome") == "correct"
              and (r.get("candidate_ms") or {}).get("median", 0) >= 0.05]
        ok.sort(key=lambda r: r["candidate_ms"]["median"])
        step = max(1, len(ok) // max(1, n_kernels))
        picked = [by_id[r["id"]] for r in ok[::step][:n_kernels]]
    build = build or tempfile.mkdtemp(prefix="sgs-bench-fid-")
    deadline = time.monotonic() + budget_s
    out = []
    ev = Evaluator(max_workers=workers, build_cache=build)      # no reference cache: re-timed each time
    try:
        for k in picked:
            if time.monotonic() >= deadline:
                break
            futs = [ev.submit(request(k, seed=100 + i, timing_trials=20)) for i in range(reps)]
            cf.wait(futs, timeout=max(0.0, deadline - time.monotonic()))
            rs = [f.result() for f in futs if f.done() and not f.exception()]
            sp = [r["speedup"] for r in rs if r.get("outcome") == "correct" and r.get("speedup")]
            cms = [r["candidate_ms"]["median"] for r in rs if r.get("candidate_ms")]
            out.append({"id": k["id"], "speedups": sp, "candidate_ms": statistics.median(cms) if cms else None,
                        "cv": (statistics.stdev(sp) / statistics.fmean(sp)) if len(sp) > 1 else None,
                        "flags": sorted({f for r in rs for f in r.get("flags", [])})})
    finally:
        ev.close(wait=False)
    return {"kernels": out, "picked": [k["id"] for k in picked]}


def spearman(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    try:
        from scipy.stats import spearmanr
        return float(spearmanr(xs, ys).statistic)
    except ImportError:
        return None


def table(res: dict) -> str:
    rows = [("metric", "value", "target")]
    ours, base, fid = res.get("ours"), res.get("baseline"), res.get("fidelity")
    if ours:
        rs = ours["results"]
        n_ok = sum(r.get("outcome") == "correct" for r in rs)
        rows.append(("agreement: judged correct", f"{n_ok}/{len(rs)} ({100 * n_ok / len(rs):.1f}%)", ">= 95%"))
        pairs = [(r["speedup"], r["published_speedup"]) for r in rs
                 if r.get("outcome") == "correct" and r.get("speedup") and r.get("published_speedup")]
        rho = spearman([a for a, _ in pairs], [b for _, b in pairs])
        rows.append(("Spearman vs published speedup", f"{rho:.2f} (n={len(pairs)})" if rho is not None else "n/a", ""))
        timed = [r for r in rs if r.get("candidate_ms")]
        counts: dict = {}
        for r in timed:
            for f in r.get("flags", []):
                counts[f] = counts.get(f, 0) + 1
        rows.append(("flags on timed kernels (ours)",
                     ", ".join(f"{f} {c}/{len(timed)}" for f, c in sorted(counts.items())) or f"none (of {len(timed)})", ""))
        rows.append(("throughput, ours", f"{ours['per_min']:.1f} kernels/min ({ours['n']}/{ours.get('planned', ours['n'])} kernels, "
                     f"{ours['wall_s']:.0f} s, {ours['workers']} compiling at once, "
                     f"{ours.get('in_flight', ours['workers'])} under way, cold cache)", ""))
    if base:
        rows.append(("throughput, baseline", f"{base['per_min']:.2f} kernels/min ({base['n']}/{base['planned']} "
                     f"kernels, {base['wall_s']:.0f} s, one process)", ""))
    if ours and base:
        rows.append(("per-kernel throughput ratio", f"{ours['per_min'] / base['per_min']:.1f}x", ">= 8x"))
    if ours:
        sp = time_split(ours["results"])
        rows.append(("time split, summed over kernels (ours)",
                     f"compile {sp['compile_s']:.0f} s (CPU, {ours['workers']} at once), correctness "
                     f"{sp['correctness_s']:.0f} s (GPU, shared), timing {sp['timing_s']:.0f} s (GPU, one at a time, "
                     f"queueing included), waiting for a build slot {sp['build_slot_wait_s']:.0f} s; "
                     f"builds: " + ", ".join(f"{k} {v}" for k, v in sorted(sp["build_headers"].items())), ""))
    fid = fid or (ours or {}).get("fidelity")
    if fid and not fid["kernels"]:
        rows.append(("fidelity", "no kernel measured (picked: " + (", ".join(fid.get("picked") or []) or "none") + ")",
                     "< 3%"))
    if fid:
        for k in fid["kernels"]:
            cv = f"{100 * k['cv']:.2f}%" if k["cv"] is not None else "n/a"
            ms = f"{k['candidate_ms']:.3f} ms" if k["candidate_ms"] else "?"
            rng = f", speedup {min(k['speedups']):.3f}-{max(k['speedups']):.3f}" if k["speedups"] else ""
            rows.append((f"fidelity CV {k['id']}", f"{cv} over {len(k['speedups'])} runs (kernel {ms}{rng})", "< 3%"))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["| " + " | ".join(r[i].ljust(w[i]) for i in range(3)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (x + 2) for x in w) + "|")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="ours,baseline,fidelity")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--ids", default="", help="evaluate these kernels (e.g. L1/78/claude-3.5-sonnet) instead of --n")
    p.add_argument("--baseline", type=int, default=8)
    p.add_argument("--fidelity", type=int, default=3, help="(separate fidelity part) kernels to repeat")
    p.add_argument("--fidelity-ids", default=",".join(FIDELITY_IDS),
                   help="kernels repeated --reps times inside the ours run ('' for none)")
    p.add_argument("--fidelity-cached-ids", default="",
                   help="of those, kernels also repeated against the cached reference timing alone")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 8))
    p.add_argument("--seed", type=int, default=0, help="kernel sample seed")
    p.add_argument("--budget-s", type=float, default=560, help="the baseline stops at this many seconds")
    p.add_argument("--ours-budget-s", type=float, default=1800, help="stop waiting for our evaluations then")
    p.add_argument("--fidelity-budget-s", type=float, default=1800, help="stop waiting for the fidelity runs then")
    p.add_argument("--baseline-from", type=int, default=0, help="first kernel of the baseline (others merged)")
    p.add_argument("--build-cache", default=None,
                   help="build cache of the ours run (default: a new, cold one); e.g. an earlier run's, "
                        "to measure fidelity without compiling again")
    p.add_argument("--merge", action="append", default=[], help="earlier JSON output to include in the table")
    p.add_argument("--out", default=os.environ.get("OUT") or ".")
    args = p.parse_args()
    corpus, tasks = data_paths(args)
    kernels = load_kernels(corpus, tasks, args.n, args.seed)
    if args.ids:
        want = [i for i in args.ids.split(",") if i]
        kernels = [k for k in load_kernels(corpus, tasks, 10 ** 6, args.seed) if k["id"] in want]
    parts = set(args.parts.split(","))
    res: dict = {}
    for m in args.merge:
        res.update(json.loads(Path(m).read_text()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save(name):
        (out / f"bench_eval_{name}.json").write_text(json.dumps({name: res[name]}, indent=1, default=str))

    deadline = time.monotonic() + args.budget_s
    if "ours" in parts:
        want = [i for i in args.fidelity_ids.split(",") if i] if "fidelity" in parts else []
        fid_kernels = [k for k in load_kernels(corpus, tasks, 10 ** 6, args.seed) if k["id"] in want]
        res["ours"] = part_ours(kernels, args.workers, args.ours_budget_s, fid_kernels, args.reps,
                                tuple(i for i in args.fidelity_cached_ids.split(",") if i), args.build_cache)
        save("ours")
        print(f"ours: {res['ours']['wall_s']:.0f} s; sandbox probe: {json.dumps(res['ours']['sandbox_probe'])[:1500]}",
              flush=True)
        for r in res["ours"]["results"]:
            if r.get("outcome") != "correct":
                print(f"  disagreement {r['id']}: {r.get('outcome')}: {(r.get('error') or '')[:300]!r}")
    if "fidelity" in parts and "ours" not in parts:
        res["fidelity"] = part_fidelity(kernels, res.get("ours"), args.fidelity, args.reps, args.workers,
                                        (res.get("ours") or {}).get("build"), args.fidelity_budget_s)
        save("fidelity")
        print("fidelity done", flush=True)
    if "baseline" in parts:
        new = part_baseline(kernels[args.baseline_from: args.baseline], deadline)
        old = res.get("baseline")
        if old and old.get("results"):
            # Kernels measured in an earlier run of the same sample: per-kernel
            # times add up (each kernel is compiled and evaluated on its own).
            rs = old["results"] + new["results"]
            span = sum(r["s"] for r in rs)
            new = {"n": len(rs), "planned": args.baseline, "wall_s": span,
                   "per_min": 60 * len(rs) / span if span else 0.0, "results": rs}
        res["baseline"] = new
        save("baseline")
        print(f"baseline: {res['baseline']['n']} kernels in {res['baseline']['wall_s']:.0f} s", flush=True)
    print(table(res), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Evaluations left running at a budget would otherwise hold the exit
    # (the pool's threads are joined at interpreter exit).
    os._exit(code)
