"""sgs eval: evaluate one kernel file against a task's reference."""
from __future__ import annotations

from pathlib import Path

from .common import add_json, add_task_sources, fmt, fmt_speedup, print_json


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate one candidate file (a module defining ModelNew) against a task")
    p.add_argument("file", help="Python file defining class ModelNew (or a model reply with code in it)")
    p.add_argument("--task", required=True, help="task id, e.g. builtin/relu or L1/19")
    add_task_sources(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--atol", type=float, default=None)
    p.add_argument("--rtol", type=float, default=None)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import secrets

    from sgs.gpu_eval import evaluate, prestart

    prestart()          # the evaluator's processes start while the task and the file are read

    from sgs.core.prompts import extract
    from sgs.core.review import review_flags
    from sgs.core.tasks import get_task

    from . import UserError

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    task = get_task(args.task, kernelbench=args.kernelbench, dataset_file=args.dataset_file)
    extraction = extract(path.read_text(), task, "kernel")
    if extraction.code is None:
        raise UserError(f"{path}: {extraction.error}")
    result = evaluate({
        "task_id": task.id, "reference_src": task.reference_src, "candidate_src": extraction.code,
        "kind": extraction.kind, "device": args.device, "mode": args.eval_mode, "timeout_s": args.timeout,
        "atol": args.atol, "rtol": args.rtol, "seed": secrets.randbits(31),
    })
    result["flags"] = review_flags(task.reference_src, extraction.code, result)
    if args.json:
        print_json(result)
    else:
        print(f"{task.id}: {result['outcome']}" + (f"  speedup {fmt_speedup(result.get('speedup'))}"
                                                  if result.get("speedup") is not None else ""))
        if result.get("speedup_ci"):
            lo, hi = result["speedup_ci"]
            print(f"  95% interval {fmt(lo, '.2f')}-{fmt(hi, '.2f')}x; "
                  f"candidate {fmt((result.get('candidate_ms') or {}).get('median'), '.3f')} ms, "
                  f"reference {fmt((result.get('reference_ms') or {}).get('median'), '.3f')} ms on {result.get('hardware')}")
        if result.get("error"):
            print("  " + result["error"].splitlines()[0])
        if result["flags"]:
            print("  flags: " + ", ".join(result["flags"]))
    return 0 if result["outcome"] == "correct" else 1
