"""sgs import: make a run from samples generated elsewhere (a replay file or folder)."""
from __future__ import annotations

import sys
from dataclasses import replace

from sgs.core.errors import InputError
from sgs.core.options import OPTIONS, options

from .common import add_db, add_option, add_options, add_task_sources, open_store, whole_number

MAX_ERRORS_SHOWN = 20


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import samples generated elsewhere as a run (JSONL, actions.jsonl, "
                                      "a KernelBench generations folder)")
    p.add_argument("file", help="replay file or folder")
    p.add_argument("--format", default=None, help="jsonl, actions or kernelbench-folder (default: detected)")
    p.add_argument("--level", type=whole_number("--level", 1), default=None,
                   help="KernelBench level of bare problem ids (default 1)")
    p.add_argument("--name", default=None, help="a name for the run")
    add_option(p, replace(OPTIONS["prompt_style"], default=None, optional=True,
                          help="how replies are read and later scored (default: body for actions, else kernel)"))
    p.add_argument("--strict", action="store_true", help="import nothing if any line is malformed")
    p.add_argument("--evaluate", action="store_true", help="evaluate the imported samples now")
    # recorded with the run, so `sgs run --resume` evaluates with them too
    add_options(p, options("import"))
    add_task_sources(p)
    add_db(p)
    p.set_defaults(func=run)


def print_errors(errors: list[str], out=None) -> None:
    out = out or sys.stderr
    for line in errors[:MAX_ERRORS_SHOWN]:
        print(f"  skipped {line}", file=out)
    if len(errors) > MAX_ERRORS_SHOWN:
        print(f"  ... and {len(errors) - MAX_ERRORS_SHOWN} more", file=out)


def run(args) -> int:
    from sgs.core.engine import Engine
    from sgs.core.importer import import_replay
    from sgs.core.replay import read_replay

    from .run import check_budget_args, drive, eval_options

    replay = read_replay(args.file, format=args.format, level=args.level)
    first = f"; the first: {replay.errors[0]}" if replay.errors else ""
    if args.strict and replay.errors:
        raise InputError(f"{args.file}: {len(replay.errors)} malformed line(s), nothing imported (--strict){first}")
    if not replay.records:
        raise InputError(f"{args.file}: no usable samples" +
                         (f" ({len(replay.errors)} malformed line(s){first})" if replay.errors else ""))
    check_budget_args(args)
    store = open_store(args)
    report = import_replay(store, replay, name=args.name, style=args.prompt_style, kernelbench=args.kernelbench,
                           dataset_file=args.dataset_file, source_label=replay.format,
                           eval_options=eval_options(args))
    print(f"imported {report.n_samples} samples for {report.n_tasks} tasks from {args.file} "
          f"({replay.format}) into run {report.run_id}")
    if report.errors:
        print(f"{len(report.errors)} line(s) skipped:", file=sys.stderr)
        print_errors(report.errors)
    unscored = sum(1 for s in store.samples(report.run_id) if s["surprisal"] is None)
    if unscored:
        print(f"{unscored} samples have no logprobs; give them a surprisal with: "
              f"sgs score {report.run_id} --backend hf --model MODEL --db {args.db}")
    if args.evaluate and args.time_top and unscored == report.n_samples:
        raise InputError(f"--time-top ranks samples by surprisal and none has one: score them first "
                        f"(sgs score {report.run_id}), then sgs run --resume {report.run_id} --db {args.db}")
    if args.evaluate:
        return drive(store, Engine(store, report.run_id), args, quiet=True)
    store.checkpoint()
    print(f"evaluate it with: sgs run --resume {report.run_id} --db {args.db}")
    return 0
