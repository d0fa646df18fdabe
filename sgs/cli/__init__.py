"""The `sgs` command line. Each subcommand lives in its own module with
`add_parser(subparsers)`; adding one is one module plus one line in COMMANDS.

Every failure ends in one line on stderr (``sgs: error: ...``) and an exit
code from the table in `sgs.core.errors`; ``--debug`` adds the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback

from .. import __version__
from ..core.errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_USAGE, SgsError,
                           one_line)
from ..core.logs import DEFAULT_LEVEL, LEVELS

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


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error: ``sgs: error: MESSAGE (see 'sgs run --help')``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # `--atol -1e-3` or `--timeout -inf` is a (bad) value for the range check to name,
        # not a missing one: argparse's own pattern knows only plain negative numbers
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-inf$")

    def error(self, message: str):
        # "argument --k: --k must be ..." says the option's name twice
        message = re.sub(r"^argument (\S+): (?=\1 )", "", message)
        self.exit(EXIT_USAGE, f"sgs: error: {one_line(message)} (see '{self.prog} --help')\n")


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--debug and --log-level, accepted before or after the subcommand."""
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--debug", action="store_true", default=default(False),
                        help="show the traceback of an error")
    parser.add_argument("--log-level", choices=LEVELS, default=default(os.environ.get("SGS_LOG_LEVEL", DEFAULT_LEVEL)),
                        help="what is logged on stderr (default warning; a run's log file keeps info and above)")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _subparsers(child)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sgs", description="Surprisal-guided selection for GPU-kernel generation.")
    parser.add_argument("--version", action="version", version=f"sgs {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built into this install
            raise
        module.add_parser(sub)
    for child in _subparsers(parser):
        _add_common(child, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..core import logs

    if args.log_level not in LEVELS:   # from $SGS_LOG_LEVEL, which argparse does not check
        parser.error(f"$SGS_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {args.log_level!r}")
    logs.configure(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _pipe_closed()
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every error ends as one line and a documented code
        if args.debug:
            traceback.print_exc()
        message, code = describe(exc, args)
        _say(f"error: {message}")
        return code


def describe(exc: BaseException, args=None) -> tuple[str, int]:
    """The one-line message and exit code for an exception that ended a command."""
    if isinstance(exc, SgsError):
        return one_line(exc), exc.exit_code
    request_error = getattr(sys.modules.get("sgs.gpu_eval.request"), "RequestError", None)
    if request_error is not None and isinstance(exc, request_error):
        return one_line(f"evaluation request refused: {exc}"), EXIT_USAGE
    import sqlite3

    if isinstance(exc, sqlite3.Error) and getattr(args, "db", None):
        from pathlib import Path

        from ..core.store.opening import database_error

        return one_line(database_error(Path(args.db), exc)), EXIT_USAGE
    if isinstance(exc, OSError) and exc.filename:
        return one_line(f"{exc.filename}: {exc.strerror or exc}"), EXIT_USAGE
    if isinstance(exc, FileNotFoundError):   # raised with a message of its own ("replay file not found: ...")
        return one_line(exc), EXIT_USAGE
    hint = "" if getattr(args, "debug", False) else " (run again with --debug to see the traceback)"
    return one_line(f"unexpected {type(exc).__name__}: {exc}") + hint, EXIT_INTERNAL


def _say(message: str) -> None:
    try:
        print(f"sgs: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone too: the exit code is all that is left


def _pipe_closed() -> int:
    """The reader of our output went away (`| head`): stop quietly, as other Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_PIPE_CLOSED
