"""The `sgs` command line. Each subcommand lives in its own module with
`add_parser(subparsers)`; adding one is one module plus one line in COMMANDS."""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# module names under sgs.cli, in the order `sgs --help` lists them
COMMANDS = [
    "tasks",
    "run",
    "ttt",
    "importing",
    "score",
    "show",
    "eval",
    "export",
    "report",
    "split",
    "demo",
    "tui",
]


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgs", description="Surprisal-guided selection for GPU-kernel generation.")
    parser.add_argument("--version", action="version", version=f"sgs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built into this install
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ..core.errors import user_errors

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sgs: interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"sgs: error: {exc}", file=sys.stderr)
        return 2
    except user_errors() as exc:
        print(f"sgs: error: {exc}", file=sys.stderr)
        return 2
