"""sgs eval: evaluate one kernel file against a task's reference."""
from __future__ import annotations

from pathlib import Path

from sgs.core.errors import InputError
from sgs.core.options import options

from .common import add_json, add_options, add_task_sources, fmt, fmt_speedup, print_json


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate one candidate file (a module defining ModelNew) against a task")
    p.add_argument("file", help="Python file defining class ModelNew (or a model reply with code in it)")
    p.add_argument("--task", required=True, help="task id, e.g. builtin/relu or L1/19")
    add_task_sources(p)
    add_options(p, options("eval"))
    add_json(p)
    p.set_defaults(func=run)


def read_candidate(path: Path) -> str:
    """The candidate file as text; one line for a missing, empty, unreadable or non-UTF-8 file."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the Python file that defines ModelNew")
    try:
        data = path.read_bytes()     # also reads /dev/null, a pipe (<(...)) or a FIFO
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise InputError(f"{path} is empty: nothing to evaluate")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "save it as UTF-8") from None


def run(args) -> int:
    import secrets

    from sgs.gpu_eval import evaluate, prestart

    text = read_candidate(Path(args.file))   # a file that cannot be read starts no process
    prestart()          # the evaluator's processes start while the task is found and the code extracted

    from sgs.core.prompts import extract
    from sgs.core.review import review_flags
    from sgs.core.tasks import get_task

    task = get_task(args.task, kernelbench=args.kernelbench, dataset_file=args.dataset_file)
    extraction = extract(text, task, "kernel")
    if extraction.code is None:
        raise InputError(f"{args.file}: {extraction.error}")
    result = evaluate({
        "task_id": task.id, "reference_src": task.reference_src, "candidate_src": extraction.code,
        "kind": extraction.kind, "device": args.device, "mode": args.eval_mode, "timeout_s": args.timeout,
        "compile_timeout_s": args.compile_timeout, "atol": args.atol, "rtol": args.rtol,
        "seed": secrets.randbits(31),
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
