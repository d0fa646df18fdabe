"""sgs export: a run's samples and evaluations as JSON lines or CSV."""
from __future__ import annotations

import csv
import json
import sys

from pathlib import Path

from sgs.core.errors import InputError

from .common import add_db, open_store, resolve_run_id

FIELDS = ["run_id", "task_id", "sample_idx", "surprisal", "mean_nll", "n_tokens", "outcome", "speedup",
          "speedup_lo", "speedup_hi", "candidate_ms", "reference_ms", "flags", "error", "code"]


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a run's samples and evaluations (jsonl or csv)")
    p.add_argument("run", nargs="?", default="latest", help="run id or name (default: the latest)")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "csv"])
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    add_db(p)
    p.set_defaults(func=run)


def rows(store, run_id: int):
    for c in store.candidates(run_id):
        yield {"run_id": run_id, "task_id": c.task_id, "sample_idx": c.sample_idx, "surprisal": c.surprisal,
               "mean_nll": c.mean_nll, "n_tokens": c.n_tokens, "outcome": c.outcome, "speedup": c.speedup,
               "speedup_lo": c.speedup_lo, "speedup_hi": c.speedup_hi, "candidate_ms": c.candidate_ms,
               "reference_ms": c.reference_ms, "flags": c.flags, "error": c.error, "code": c.code}


def run(args) -> int:
    store = open_store(args, access="read")
    run_id = resolve_run_id(store, args.run)
    if args.output:
        target = Path(args.output).resolve()
        if target in {Path(f"{Path(args.db).resolve()}{suffix}") for suffix in ("", "-wal", "-shm")}:
            raise InputError(f"-o {args.output} is the database itself; choose another file")
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        if args.format == "jsonl":
            for row in rows(store, run_id):
                out.write(json.dumps(row) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=FIELDS)
            writer.writeheader()
            for row in rows(store, run_id):
                writer.writerow({**row, "flags": ";".join(row["flags"])})
    finally:
        if args.output:
            out.close()
    return 0
