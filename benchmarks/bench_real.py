"""Benchmark of the real workload: a candidate set (default: the 1,280 of
real_workload/generate.py) through `sgs import FILE --evaluate` (the path a
run takes), over as many commands as it needs.

Each invocation runs one segment: `sgs import` the first time, then `sgs run
--resume RUN` until the run is finished. A segment ends when --budget-s is
spent (not before the import has stored every candidate, a matter of
seconds): its process group is killed as a lost session would be, every
finished evaluation is in the database and the ones in progress are redone
by the resume (see stop() for why not SIGTERM). One segment fits in a device
command of 10 minutes.
The wall time is the sum of the segments' active times (launch to exit).

Reports: wall time, candidates per minute, time per phase (the stored
results' `phases`), peak GPU memory (nvidia-smi) and host memory, verdicts
against labels (a confusion matrix; `oom` expects `runtime_error`), and the
ratio against KernelBench from kb_baseline.py's results:
Σ over tasks of 64 x KernelBench's mean time per candidate / sgs's wall time.

Files: the database and the segment log live in --data (default
.gpu_data/real_workload/, carried to the GPU machine). Into --out (default
$OUT) go bench_real.json, bench_real.md, the sgs log of the segment, and
bench_real.db.gz + bench_real_state.json: copy these two back into --data
before the next command to resume (the database is restored from the .gz when
the .db is absent).

  . benchmarks/device_env.sh
  python3 benchmarks/bench_real.py --budget-s 500            # repeat until it says finished
  python3 benchmarks/bench_real.py --set cuda --budget-s 500  # the 64 CUDA kernels
  python3 benchmarks/bench_real.py --report-only
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_workload import report, sources  # noqa: E402
from real_workload.monitor import MemoryMonitor  # noqa: E402

SETS = {"main": "candidates.jsonl", "cuda": "cuda.jsonl"}
DB_NAME, STATE_NAME = "bench_real.db", "bench_real_state.json"


def load_state(data: Path) -> dict:
    path = data / STATE_NAME
    return json.loads(path.read_text()) if path.exists() else {"sets": {}}


def save_state(state: dict, *folders: Path) -> None:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / STATE_NAME).write_text(json.dumps(state, indent=1))


def restore_db(data: Path) -> Path:
    db = data / DB_NAME
    packed = data / (DB_NAME + ".gz")
    if not db.exists() and packed.exists():
        with gzip.open(packed, "rb") as src, open(db, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return db


def pack_db(db: Path, out: Path) -> Path | None:
    """A consistent copy (SQLite's backup, WAL included), gzipped into out."""
    if not db.exists():
        return None
    tmp = out / (DB_NAME + ".tmp")
    src, dst = sqlite3.connect(str(db)), sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    target = out / (DB_NAME + ".gz")
    with open(tmp, "rb") as f, gzip.open(target, "wb", compresslevel=6) as g:
        shutil.copyfileobj(f, g)
    tmp.unlink()
    return target


def run_row(db: Path, name: str) -> dict | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT id, status FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1", [name]).fetchone()
        if row is None:
            return None
        n = conn.execute("SELECT count(*) FROM samples WHERE run_id = ?", [row[0]]).fetchone()[0]
        done = conn.execute("SELECT count(*) FROM evaluations WHERE run_id = ? AND state = 'done'",
                            [row[0]]).fetchone()[0]
        return {"id": row[0], "status": row[1], "samples": n, "done": done}
    except sqlite3.OperationalError:       # created but not yet migrated
        return None
    finally:
        conn.close()


def drop_run(db: Path, run_id: int) -> None:
    """A run cut off while it was being imported (fewer samples than lines)."""
    conn = sqlite3.connect(str(db))
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM runs WHERE id = ?", [run_id])
        conn.commit()
    finally:
        conn.close()


def sgs_command(args, run: dict | None, candidates: Path, db: Path, name: str) -> list[str]:
    base = [sys.executable, "-m", "sgs"]
    if run is None:
        cmd = base + ["import", str(candidates), "--evaluate", "--device", args.device, "--timeout", str(args.timeout),
                      "--name", name, "--db", str(db)]
        kb = args.kernelbench or (str(sources.kernelbench_root()) if sources.kernelbench_root() else None)
        return cmd + (["--kernelbench", kb] if kb else [])
    return base + ["run", "--resume", str(run["id"]), "--quiet", "--db", str(db)]


def stop(proc: subprocess.Popen, how: str, grace_s: float) -> str:
    """Ends the segment's sgs process group. `kill`: SIGKILL at once, as a
    lost SSH session or a device command's time limit would; evaluations in
    progress are redone on resume. `term`: SIGTERM first (the engine records
    the run as interrupted and lets running evaluations finish), SIGKILL
    after grace_s. `kill` is the default because after SIGTERM the engine
    stores the evaluations still queued as `crashed` ("evaluator failed:
    CancelledError") and a resume does not redo them."""
    if how == "term":
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
            return "stopped"
        except subprocess.TimeoutExpired:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return "killed"


STALE_AFTER_S = 35.0   # sgs treats a 'running' run of another host as interrupted after 30 s without a heartbeat


def wait_until_stale(db: Path, run_id: int) -> float:
    """A run killed on another machine moments ago still looks alive to
    `sgs run --resume` until its heartbeat is 30 s old: wait that out (not
    counted as active time). Returns the seconds waited."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        status, beat, host = conn.execute("SELECT status, heartbeat_at, host FROM runs WHERE id = ?",
                                          [run_id]).fetchone()
    finally:
        conn.close()
    if status != "running" or not beat or host == os.uname().nodename:
        return 0.0
    age = time.time() - datetime.fromisoformat(beat).timestamp()
    wait = max(0.0, STALE_AFTER_S - age)
    time.sleep(wait)
    return wait


def run_segment(args, candidates: Path, db: Path, out: Path, name: str, n_lines: int, seg_no: int) -> dict:
    run = run_row(db, name)
    if run is not None and run["samples"] != n_lines:
        drop_run(db, run["id"])
        run = None
    waited = wait_until_stale(db, run["id"]) if run is not None else 0.0
    done_before = run["done"] if run else 0
    cmd = sgs_command(args, run, candidates, db, name)
    log_path = out / f"sgs_{args.set}_segment{seg_no}.log"
    monitor = MemoryMonitor(args.poll_s).start()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    ended = "finished"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            last_print = 0.0
            imported = run is not None
            while proc.poll() is None:
                elapsed = time.monotonic() - t0
                if not imported:
                    now = run_row(db, name)
                    imported = now is not None and now["samples"] == n_lines
                # An import cut short is discarded: the budget waits for it (seconds).
                if elapsed >= args.budget_s and imported:
                    ended = stop(proc, args.stop, args.grace_s)
                    break
                if elapsed - last_print >= args.progress_s:
                    last_print = elapsed
                    now = run_row(db, name)
                    if now:
                        print(f"  {elapsed:6.0f} s  run {now['id']}: {now['done']}/{now['samples']} evaluated",
                              flush=True)
                time.sleep(0.5)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)      # never leave the run going behind an error of ours
            proc.wait()
            raise
    active = time.monotonic() - t0
    memory = monitor.stop()
    after = run_row(db, name)
    if ended == "finished" and proc.returncode != 0:
        ended = "finished" if after and after["status"] == "finished" else f"exited {proc.returncode}"
    return {"segment": seg_no, "started": started, "active_s": round(active, 2), "ended": ended,
            "returncode": proc.returncode, "command": " ".join(cmd[2:]), "run_id": after["id"] if after else None,
            "done_before": done_before, "done_after": after["done"] if after else 0, "memory": memory,
            "waited_for_stale_run_s": round(waited, 1),
            "log": log_path.name}


def read_baseline(path: Path | None) -> list[dict]:
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build_report(args, data: Path, state: dict, db: Path) -> dict:
    sets = []
    for name, st in state["sets"].items():
        # The path recorded by an earlier command may be another machine's: then the data folder's copy.
        candidates = Path(st["candidates"])
        if not candidates.is_file():
            candidates = data / SETS.get(name, candidates.name)
        if not candidates.is_file():
            continue
        labels = report.load_labels(candidates)
        base = None
        if name == "main":
            base = report.baseline_summary(read_baseline(Path(args.baseline) if args.baseline else
                                                         data / "kb_baseline.jsonl"))
        tasks = len({t for t, _ in labels})
        sets.append(report.set_report(name, st.get("run_id"), db, labels, st["segments"], base, tasks))
    return {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "device": args.device,
            "timeout_s": args.timeout, "sets": sets}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", default="main", help="main (1,280 candidates), cuda (64 kernels), or a name with --candidates")
    p.add_argument("--candidates", default=None, help="JSONL with labels (default: --data/<set file>)")
    p.add_argument("--data", default=str(sources.GPU_DATA / "real_workload"),
                   help="folder of the candidates, the database and the state (carried between commands)")
    p.add_argument("--kernelbench", default=None, help="KernelBench task folder for the import (default: found)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a candidate may run (sgs --timeout)")
    p.add_argument("--budget-s", type=float, default=500.0, help="stop this segment after so many seconds")
    p.add_argument("--stop", choices=["kill", "term"], default="kill",
                   help="how a segment ends at its budget: kill (SIGKILL, default) or term (SIGTERM, then SIGKILL "
                        "after --grace-s); see stop()")
    p.add_argument("--grace-s", type=float, default=45.0, help="with --stop term: SIGKILL if still running then")
    p.add_argument("--poll-s", type=float, default=1.0, help="memory polling interval")
    p.add_argument("--progress-s", type=float, default=30.0)
    p.add_argument("--baseline", default=None, help="kb_baseline.py results (default: --data/kb_baseline.jsonl)")
    p.add_argument("--report-only", action="store_true", help="no segment: report what the database holds")
    p.add_argument("--out", default=os.environ.get("OUT") or "bench_real_out")
    args = p.parse_args(argv)

    data, out = Path(args.data), Path(args.out)
    data.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    state = load_state(data)
    db = restore_db(data)
    if not args.report_only:
        candidates = Path(args.candidates) if args.candidates else data / SETS.get(args.set, f"{args.set}.jsonl")
        if not candidates.exists():
            sys.exit(f"error: no candidate file {candidates} (make it with real_workload/generate.py)")
        n_lines = sum(1 for line in candidates.read_text().splitlines() if line.strip())
        st = state["sets"].setdefault(args.set, {"candidates": str(candidates), "segments": [], "run_id": None})
        name = f"real-workload:{args.set}"
        run = run_row(db, name)
        if run is not None and run["status"] == "finished" and run["samples"] == n_lines:
            print(f"set {args.set}: run {run['id']} is finished; reporting only", flush=True)
        else:
            seg = run_segment(args, candidates, db, out, name, n_lines, len(st["segments"]) + 1)
            st["segments"].append(seg)
            st["run_id"] = seg["run_id"]
            print(f"segment {seg['segment']}: {seg['ended']} after {seg['active_s']:.0f} s, "
                  f"{seg['done_before']} -> {seg['done_after']}/{n_lines} evaluated", flush=True)
        save_state(state, data, out)
        packed = pack_db(db, out)
        if packed:
            print(f"database: {packed} ({packed.stat().st_size / 2**20:.1f} MiB); "
                  f"copy it and {STATE_NAME} into {data} to resume", flush=True)
    result = build_report(args, data, state, db)
    (out / "bench_real.json").write_text(json.dumps(result, indent=1))
    md = report.markdown(result)
    (out / "bench_real.md").write_text(md)
    print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
