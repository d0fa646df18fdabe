"""sgs run: a headless best-of-N search (or resume one, or detach it)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .common import add_db, add_task_sources, open_store
from .printer import Printer, print_strategy_table


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="sample K candidates per task, evaluate them, rank by surprisal")
    p.add_argument("tasks", nargs="*", metavar="TASK", help="task ids or globs (builtin/relu, L1/19, 'builtin/*')")
    p.add_argument("--task", action="append", default=[], metavar="ID", help="a task id (repeatable)")
    add_task_sources(p)
    p.add_argument("--split", help="tasks of a split: a shipped name (l1_seed42) or a file")
    p.add_argument("--subset", default="eval", choices=["train", "eval", "all"], help="split subset (default eval)")
    p.add_argument("--backend", default=None, help="backend name (hf, openai, scripted, ...); default hf")
    p.add_argument("--model", default=None,
                   help="model: 'embedded' (default), a HF id, a folder, a .gguf file, or backend/model")
    p.add_argument("--k", type=int, default=8, help="samples per task (default 8)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--prompt-style", default="body", choices=["body", "kernel"])
    p.add_argument("--rank-by", default="surprisal", choices=["surprisal", "mean_nll"])
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    p.add_argument("--device", default="auto", help="evaluation device: auto, cpu, cuda, cuda:N")
    p.add_argument("--workers", type=int, default=None, help="evaluation worker processes")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a candidate may run (default 60)")
    p.add_argument("--time-top", type=int, default=None, metavar="N",
                   help="evaluate under a surprisal budget: check down the ranking, time only the top N correct "
                        "and the most confident one")
    p.add_argument("--audit", type=int, default=0, metavar="M",
                   help="with --time-top: also evaluate M random samples the budget left out, per task")
    p.add_argument("--atol", type=float, default=None)
    p.add_argument("--rtol", type=float, default=None)
    p.add_argument("--seed", type=int, default=None, help="run seed (sampling and correctness inputs)")
    p.add_argument("--name", default=None, help="a name for the run")
    # backend options, passed only when given
    p.add_argument("--base-url", default=None, help="openai: server base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", default=None, help="openai/tinker: NAME of the env var holding the key")
    p.add_argument("--endpoint", default=None, choices=["chat", "completions"], help="openai endpoint")
    p.add_argument("--adapter", default=None, help="hf: a peft LoRA adapter folder")
    p.add_argument("--dtype", default=None, help="hf: auto (bf16 on GPUs and bf16-capable CPUs), bf16, fp32")
    p.add_argument("--resume", type=int, metavar="RUN_ID", help="continue an interrupted run")
    p.add_argument("--detach", action="store_true",
                   help="keep running after the terminal closes (log to a file); follow with sgs show or sgs tui")
    p.add_argument("--quiet", action="store_true", help="no per-sample lines")
    add_db(p)
    p.set_defaults(func=run)


def _backend_options(args) -> dict:
    options = {}
    for key in ("base_url", "api_key_env", "endpoint", "adapter", "dtype"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    return options


def build_config(args):
    from sgs.core.backends import BACKENDS, parse_model_spec
    from sgs.core.engine import EvalOptions, RunConfig
    from sgs.core.tasks import resolve_tasks
    from sgs.core.types import SamplingParams

    from . import UserError

    specs = list(args.tasks) + list(args.task)
    if args.split:
        from sgs.core.splits import split_task_ids

        specs += split_task_ids(args.split, args.subset)
    if not specs:
        raise UserError("no tasks: name task ids (sgs tasks lists them) or pass --split")
    tasks = resolve_tasks(specs, kernelbench=args.kernelbench, dataset_file=args.dataset_file)
    if args.k < 1:
        raise UserError("--k must be at least 1")
    check_budget_args(args)
    model_spec = args.model or "embedded"
    if args.backend:
        backend, model = args.backend, model_spec
        if backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS.names())}")
    else:
        backend, model = parse_model_spec(model_spec)
    kwargs = {}
    if args.seed is not None:
        kwargs["seed"] = args.seed
    config = RunConfig(
        task_ids=[t.id for t in tasks], k=args.k, backend=backend, model=model,
        backend_options=_backend_options(args), prompt_style=args.prompt_style,
        sampling=SamplingParams(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                                max_tokens=args.max_tokens),
        eval=EvalOptions(device=args.device, mode=args.eval_mode, atol=args.atol, rtol=args.rtol,
                         timeout_s=args.timeout, workers=args.workers, time_top=args.time_top,
                         audit=args.audit),
        rank_by=args.rank_by, kernelbench=args.kernelbench, dataset_file=args.dataset_file, name=args.name,
        **kwargs,
    )
    return config, tasks


def check_budget_args(args) -> None:
    from . import UserError

    if args.time_top is not None and args.time_top < 1:
        raise UserError("--time-top must be at least 1")
    if args.audit < 0:
        raise UserError("--audit must be at least 0")
    if args.audit and args.time_top is None:
        raise UserError("--audit needs --time-top (it samples what the budget left out)")


def log_path_for(db: Path, run_id: int) -> Path:
    folder = db.resolve().parent / "sgs-logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{run_id}.log"


def detach(db: Path, run_id: int) -> int:
    """Start `sgs run --resume ID` in its own session: it outlives this terminal and SSH connection."""
    log = log_path_for(db, run_id)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sgs", "run", "--resume", str(run_id), "--db", str(db)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc.pid


def run(args) -> int:
    from sgs.core.backends import make_backend
    from sgs.core.engine import Engine, create_run, effective_status

    from . import UserError

    store = open_store(args)
    backend = None
    if args.resume is not None:
        try:
            run_row = store.get_run(args.resume)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        status = effective_status(run_row)
        if status == "running" and run_row.get("pid") != os.getpid():
            raise UserError(f"run {args.resume} is still running (pid {run_row.get('pid')})")
        run_id = args.resume
    else:
        config, tasks = build_config(args)
        if not args.detach:
            backend = make_backend(config.backend, config.model, **config.backend_options)
        run_id = create_run(store, config, tasks, backend=backend)
    if args.detach:
        pid = detach(Path(args.db), run_id)
        print(f"run {run_id} started in the background (pid {pid}); log: {log_path_for(Path(args.db), run_id)}")
        print(f"follow it with: sgs show {run_id} --db {args.db}   or   sgs tui --db {args.db}")
        return 0
    engine = Engine(store, run_id, backend=backend)
    if backend is None and engine.run["kind"] == "search":
        # resumed or detached child: the backend is made from the stored config
        # (an imported run samples nothing: it has no backend to make)
        _ = engine.backend
        if store.get_run(run_id)["logprob_mode"] is None:
            store.set_logprob_mode(run_id, engine.backend.logprob_mode)
    printer = Printer(store, run_id, quiet=args.quiet)
    engine.sinks.append(printer)
    status = engine.run_to_end()
    printer.close()
    print()
    print_strategy_table(store, run_id)
    if status != "finished":
        print(f"run {run_id} {status}; continue it with: sgs run --resume {run_id} --db {args.db}")
        return 1
    print(f"browse it: sgs show {run_id} --db {args.db}   or   sgs tui --db {args.db}")
    return 0
