"""Options and helpers shared by the subcommands."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sgs.core.errors import InputError, OptionError
from sgs.core.options import GROUP_TITLES, GROUPS, Option

DEFAULT_DB = "sgs.db"   # the store's default, repeated so that building the parser imports no SQLite layer


def add_db(parser) -> None:
    parser.add_argument("--db", default=os.environ.get("SGS_DB", DEFAULT_DB),
                        help="SQLite database (default ./sgs.db or $SGS_DB)")


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_task_sources(parser) -> None:
    from sgs.core.options import get

    add_options(parser, [get("kernelbench"), get("dataset_file")], grouped=False)


def argparse_type(option: Option):
    """The option's parser as an argparse `type`: the table's one-line message on a bad value."""
    def convert(text: str):
        try:
            return option.parse(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = option.type.__name__
    return convert


def whole_number(flag: str, minimum: int):
    """An argparse `type` for a whole number >= minimum, with the one-line range message."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number >= {minimum}, got {text}")
        return value

    convert.__name__ = "int"
    return convert


def add_option(target, option: Option) -> None:
    if option.type is bool:
        target.add_argument(option.flag, action="store_true", default=option.default, help=option.help)
        return
    static = option.choices if isinstance(option.choices, tuple) else None
    metavar = option.metavar or ("{" + ",".join(static) + "}" if static else option.name.upper())
    target.add_argument(option.flag, type=argparse_type(option), default=option.default, help=option.help,
                        metavar=metavar)


def add_options(parser, options: list[Option], *, grouped: bool = True) -> None:
    """Add table options to an argparse parser, under one heading per group."""
    for group in GROUPS:
        chosen = [o for o in options if o.group == group]
        if not chosen:
            continue
        target = parser.add_argument_group(GROUP_TITLES[group]) if grouped else parser
        for option in chosen:
            add_option(target, option)


def open_store(args, *, access: str = "write"):
    """The store at --db: "write" creates or upgrades it, "read" never writes (DatabaseError on any fault)."""
    from sgs.core.store import Store

    return Store(Path(args.db), access=access)


def resolve_run_id(store, run: str | None) -> int:
    runs = store.list_runs()
    if not runs:
        raise InputError(f"no runs in {store.path}")
    if run in (None, "latest", "last"):
        return runs[0]["id"]
    try:
        run_id = int(run)
    except ValueError:
        named = [r for r in runs if r["name"] == run]
        if not named:
            raise InputError(f"no run {run!r} in {store.path}") from None
        return named[0]["id"]
    if not any(r["id"] == run_id for r in runs):
        raise InputError(f"no run {run_id} in {store.path}")
    return run_id


def print_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def fmt(value, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def fmt_speedup(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_count(value) -> str:
    """A count, or an expected count (the random strategy's) to two decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def table(rows: list[list[str]], header: list[str], align: str | None = None) -> str:
    """A plain fixed-width table; `align` has 'l' or 'r' per column."""
    cols = len(header)
    align = align or "l" * cols
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(cols)]
    def line(r):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(r, widths, align)).rstrip()
    return "\n".join([line(header), *(line(r) for r in rows)])
