"""Options and helpers shared by the subcommands."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

DEFAULT_DB = "sgs.db"       # as sgs.core.store.DEFAULT_DB; the store itself is imported when a command opens it


def add_db(parser) -> None:
    parser.add_argument("--db", default=os.environ.get("SGS_DB", DEFAULT_DB),
                        help="SQLite database (default ./sgs.db or $SGS_DB)")


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_task_sources(parser) -> None:
    parser.add_argument("--kernelbench", metavar="PATH", default=None,
                        help="a KernelBench checkout (levelN/ID_Name.py); default $SGS_KERNELBENCH")
    parser.add_argument("--dataset-file", metavar="FILE", default=None,
                        help="rows of the KernelBench dataset as JSON lines (code, level, name, problem_id)")


def open_store(args, *, must_exist: bool = False):
    from sgs.core.store import Store

    from . import UserError

    path = Path(args.db)
    if must_exist and not path.exists():
        raise UserError(f"no database at {path} (run `sgs demo` or `sgs run` first, or pass --db)")
    return Store(path)


def resolve_run_id(store, run: str | None) -> int:
    from . import UserError

    runs = store.list_runs()
    if not runs:
        raise UserError(f"no runs in {store.path}")
    if run in (None, "latest", "last"):
        return runs[0]["id"]
    try:
        run_id = int(run)
    except ValueError:
        named = [r for r in runs if r["name"] == run]
        if not named:
            raise UserError(f"no run {run!r} in {store.path}") from None
        return named[0]["id"]
    if not any(r["id"] == run_id for r in runs):
        raise UserError(f"no run {run_id} in {store.path}")
    return run_id


def print_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def fmt(value, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def fmt_speedup(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(rows: list[list[str]], header: list[str], align: str | None = None) -> str:
    """A plain fixed-width table; `align` has 'l' or 'r' per column."""
    cols = len(header)
    align = align or "l" * cols
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(cols)]
    def line(r):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(r, widths, align)).rstrip()
    return "\n".join([line(header), *(line(r) for r in rows)])
