"""sgs import: make a run from samples generated elsewhere (a replay file or folder)."""
from __future__ import annotations

import sys

from .common import add_db, add_task_sources, open_store

MAX_ERRORS_SHOWN = 20


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import samples generated elsewhere as a run (JSONL, actions.jsonl, "
                                      "a KernelBench generations folder)")
    p.add_argument("file", help="replay file or folder")
    p.add_argument("--format", default=None, help="jsonl, actions or kernelbench-folder (default: detected)")
    p.add_argument("--level", type=int, default=None,
                   help="KernelBench level of bare problem ids (default 1)")
    p.add_argument("--name", default=None, help="a name for the run")
    p.add_argument("--prompt-style", default=None, choices=["body", "kernel"],
                   help="how replies are read and later scored (default: body for actions, else kernel)")
    p.add_argument("--strict", action="store_true", help="import nothing if any line is malformed")
    p.add_argument("--evaluate", action="store_true", help="evaluate the imported samples now")
    p.add_argument("--device", default="auto", help="with --evaluate: auto, cpu, cuda, cuda:N")
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    p.add_argument("--timeout", type=float, default=60.0, help="with --evaluate: seconds a candidate may run")
    p.add_argument("--time-top", type=int, default=None, metavar="N",
                   help="evaluate under a surprisal budget (now with --evaluate, or later with sgs run --resume)")
    p.add_argument("--audit", type=int, default=0, metavar="M",
                   help="with --time-top: also evaluate M random samples the budget left out, per task")
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
    from sgs.core.engine import Engine, EvalOptions
    from sgs.core.importer import import_replay
    from sgs.core.replay import read_replay

    from . import UserError
    from .printer import Printer, print_strategy_table

    replay = read_replay(args.file, format=args.format, level=args.level)
    if args.strict and replay.errors:
        print_errors(replay.errors)
        raise UserError(f"{args.file}: {len(replay.errors)} malformed line(s); nothing imported (--strict)")
    if not replay.records:
        print_errors(replay.errors)
        raise UserError(f"{args.file}: no usable samples")
    from .run import check_budget_args

    check_budget_args(args)
    store = open_store(args)
    eval_options = EvalOptions(device=args.device, mode=args.eval_mode, timeout_s=args.timeout,
                               time_top=args.time_top, audit=args.audit)
    report = import_replay(store, replay, name=args.name, style=args.prompt_style, kernelbench=args.kernelbench,
                           dataset_file=args.dataset_file, source_label=replay.format, eval_options=eval_options)
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
        raise UserError(f"--time-top ranks samples by surprisal and none has one: score them first "
                        f"(sgs score {report.run_id}), then sgs run --resume {report.run_id} --db {args.db}")
    if args.evaluate:
        engine = Engine(store, report.run_id)
        printer = Printer(store, report.run_id, quiet=True)
        engine.sinks.append(printer)
        status = engine.run_to_end()
        printer.close()
        print()
        print_strategy_table(store, report.run_id)
        if status != "finished":
            return 1
    else:
        print(f"evaluate it with: sgs run --resume {report.run_id} --db {args.db}")
    return 0
