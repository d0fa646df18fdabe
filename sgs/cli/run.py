"""sgs run: a headless best-of-N search (or resume one, or detach it)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

from sgs.core.errors import InputError, SgsError, one_line
from sgs.core.options import options

from .common import add_db, add_options, open_store

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="sample K candidates per task, evaluate them, rank by surprisal")
    p.add_argument("tasks", nargs="*", metavar="TASK", help="task ids or globs (builtin/relu, L1/19, 'builtin/*')")
    p.add_argument("--task", action="append", default=[], metavar="ID", help="a task id (repeatable)")
    add_options(p, options("run"))
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
    from sgs.core.backends import parse_model_spec
    from sgs.core.engine import RunConfig
    from sgs.core.tasks import resolve_tasks
    from sgs.core.types import SamplingParams

    specs = list(args.tasks) + list(args.task)
    if args.split:
        from sgs.core.splits import split_task_ids

        specs += split_task_ids(args.split, args.subset)
    if not specs:
        raise InputError("no tasks: name task ids (sgs tasks lists them) or pass --split")
    tasks = resolve_tasks(specs, kernelbench=args.kernelbench, dataset_file=args.dataset_file)
    check_budget_args(args)
    model_spec = args.model or "embedded"
    if args.backend:
        backend, model = args.backend, model_spec
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
        eval=eval_options(args),
        rank_by=args.rank_by, kernelbench=args.kernelbench, dataset_file=args.dataset_file, name=args.name,
        **kwargs,
    )
    return config, tasks


def eval_options(args, **fixed):
    """EvalOptions from the evaluation and budget groups of the option table (shared with import)."""
    from sgs.core.engine import EvalOptions

    return EvalOptions(device=args.device, mode=args.eval_mode, atol=args.atol, rtol=args.rtol,
                       timeout_s=args.timeout, compile_timeout_s=args.compile_timeout,
                       workers=getattr(args, "workers", None), time_top=args.time_top, audit=args.audit, **fixed)


def check_budget_args(args) -> None:
    """What the option table cannot say alone: an audit samples what a budget left out."""
    if args.audit and args.time_top is None:
        raise InputError("--audit needs --time-top (it samples what the budget left out)")


def _settings_given_with_resume(args) -> list[str]:
    """Stored options set on the command line of a --resume (the stored run's own settings win)."""
    given = [o.flag for o in options("run") if o.stored and getattr(args, o.name) != o.default]
    return given + (["TASK"] if args.tasks or args.task or args.split else [])


def log_path_for(db: Path, run_id: int) -> Path:
    from sgs.core.logs import run_log_path

    return run_log_path(db, run_id)


def detach(db: Path, run_id: int, log_level: str) -> int:
    """Start `sgs run --resume ID` in its own session: it outlives this terminal and SSH connection."""
    log_file = log_path_for(db, run_id)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sgs", "run", "--resume", str(run_id), "--db", str(db), "--log-level", log_level],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc.pid


def _needs_samples(store, run_id: int) -> bool:
    run_row = store.get_run(run_id)
    if run_row["kind"] != "search":
        return False  # an imported run only evaluates what it holds: no model needed
    return any(row["n_samples"] < run_row["k"] for row in store.task_progress(run_id))


def run(args) -> int:
    from sgs.core.backends import make_backend
    from sgs.core.engine import Engine, create_run, effective_status
    from sgs.core.store.opening import precheck

    backend = None
    if args.resume is not None:
        given = _settings_given_with_resume(args)
        if given:
            raise InputError(f"--resume continues run {args.resume} with its stored settings; "
                             f"drop {', '.join(given)}")
        precheck(Path(args.db), "read")   # resuming never creates a database
        store = open_store(args)
        try:
            run_row = store.get_run(args.resume)
        except LookupError as exc:
            raise InputError(str(exc)) from None
        status = effective_status(run_row)
        if status == "running" and run_row.get("pid") != os.getpid():
            raise InputError(f"run {args.resume} is still running (pid {run_row.get('pid')})")
        run_id = args.resume
    else:
        # every option and task is checked before the database is opened: a bad one writes nothing
        config, tasks = build_config(args)
        precheck(Path(args.db))  # a bad --db is refused before a model loads
        if not args.detach:
            backend = make_backend(config.backend, config.model, **config.backend_options)
        store = open_store(args)
        run_id = create_run(store, config, tasks, backend=backend)
    if args.detach:
        pid = detach(Path(args.db), run_id, args.log_level)
        print(f"run {run_id} started in the background (pid {pid}); log: {log_path_for(Path(args.db), run_id)}")
        print(f"follow it with: sgs show {run_id} --db {args.db}   or   sgs tui --db {args.db}")
        return 0
    engine = Engine(store, run_id, backend=backend)
    if backend is None and _needs_samples(store, run_id):
        # a resumed search that still samples: the backend is made from the stored config, before the
        # run counts as started (an imported run samples nothing: it has no backend to make)
        _ = engine.backend
        if store.get_run(run_id)["logprob_mode"] is None:
            store.set_logprob_mode(run_id, engine.backend.logprob_mode)
    return drive(store, engine, args)


def drive(store, engine, args, *, quiet: bool | None = None) -> int:
    """Run the engine to the end with the printer and the run's log file; print the outcome.

    Returns 0 for a finished run, 1 for a failed or interrupted one (with the
    command that continues it)."""
    from sgs.core.logs import run_log

    from .printer import Printer, print_strategy_table

    run_id = engine.run_id
    printer = Printer(store, run_id, quiet=args.quiet if quiet is None else quiet)
    engine.sinks.append(printer)
    failure: BaseException | None = None
    with run_log(args.db, run_id, args.log_level) as log_file:
        log.info("run %s started (pid %s)", run_id, os.getpid())
        try:
            status = engine.run_to_end()
        except Exception as exc:  # noqa: BLE001 - the engine stored it as failed; it is reported below
            status, failure = "failed", exc
        finally:
            printer.close()
            store.checkpoint()
        log.info("run %s %s", run_id, status)
    print()
    print_strategy_table(store, run_id)
    if status == "finished":
        print(f"browse it: sgs show {run_id} --db {args.db}   or   sgs tui --db {args.db}")
        return 0
    print(f"run {run_id} {status}; continue it with: sgs run --resume {run_id} --db {args.db}")
    if failure is not None:
        if getattr(args, "debug", False):
            traceback.print_exception(failure)
        message = one_line(failure) if isinstance(failure, SgsError) else \
            one_line(f"{type(failure).__name__}: {failure}")
        where = f" (details in {log_file})" if log_file else ""
        print(f"sgs: error: run {run_id} failed: {message}{where}", file=sys.stderr)
    return 1
