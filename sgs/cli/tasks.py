"""sgs tasks: list and filter tasks."""
from __future__ import annotations

import logging

from .common import add_json, add_task_sources, print_json, table, whole_number

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("tasks", help="list tasks (built-in, a KernelBench folder, dataset rows)")
    add_task_sources(p)
    p.add_argument("--source", choices=["builtin", "kernelbench", "hf-dataset"], help="only this source")
    p.add_argument("--level", type=whole_number("--level", 1), help="only this KernelBench level")
    p.add_argument("--filter", dest="name_filter", metavar="TEXT", help="name contains TEXT (case-insensitive)")
    p.add_argument("--split", help="only tasks of this split (a shipped name like l1_seed42, or a file)")
    p.add_argument("--subset", default="all", choices=["train", "eval", "all"], help="split subset")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sgs.core.tasks import scan_tasks

    # a broken task file is reported once, as a warning, and left out: it fails
    # only a command that asks for that task
    tasks, broken = scan_tasks(kernelbench=args.kernelbench, dataset_file=args.dataset_file, source=args.source,
                               level=args.level, name_filter=args.name_filter)
    if args.split:
        from sgs.core.splits import split_task_ids

        wanted = set(split_task_ids(args.split, args.subset))
        tasks = [t for t in tasks if t.id in wanted]
        broken = [e for e in broken if getattr(e, "task_id", None) in wanted]
    for error in broken:
        log.warning("%s (skipped)", error)
    if args.json:
        print_json([{"id": t.id, "source": t.source, "level": t.level, "problem_id": t.problem_id, "name": t.name,
                     "reference_hash": t.reference_hash, "path": t.path} for t in tasks])
        return 0
    print(table([[t.id, t.source, t.name] for t in tasks], ["id", "source", "name"]))
    print(f"{len(tasks)} tasks")
    return 0
