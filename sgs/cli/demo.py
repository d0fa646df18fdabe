"""sgs demo: two honest runs on the built-in tasks, offline, on a CPU.

model run: best-of-N with the embedded SmolLM2-135M-Instruct. A model this
    small almost never writes a correct rewrite; the run shows what it got.
pool run: the project's own candidate pool (fast fused rewrites, slow ones,
    wrong ones, one that crashes, one that hangs), each scored by the embedded
    model so it carries a real surprisal, then evaluated and ranked as any run.
"""
from __future__ import annotations

import time

from sgs.core.options import with_default

from .common import add_db, add_option, open_store


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the offline demo: a model run and a pool run on the built-in tasks")
    add_option(p, with_default("k", 8, "samples per task in the model run (default 8)"))
    add_option(p, with_default("max_tokens", 96, "tokens per sample in the model run (default 96)"))
    p.add_argument("--tasks", default="builtin/*", help="task ids or a glob (default builtin/*)")
    add_option(p, with_default("timeout", 5.0, "seconds a candidate may run (default 5)"))
    p.add_argument("--skip-model-run", action="store_true", help="only the pool run")
    add_db(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sgs.core.backends import make_backend
    from sgs.core.engine import Engine, EvalOptions, RunConfig, create_run
    from sgs.core.importer import import_replay, score_run
    from sgs.core.replay import read_replay
    from sgs.core.tasks import resolve_tasks
    from sgs.core.tasks.builtin import pool_path
    from sgs.core.types import SamplingParams

    from .printer import Printer, print_strategy_table
    from .show import print_task

    from sgs.core.logs import run_log

    started = time.monotonic()
    tasks = resolve_tasks([args.tasks])
    store = open_store(args)
    eval_options = EvalOptions(device="cpu", mode="fast", timeout_s=args.timeout)
    print("loading the embedded model (SmolLM2-135M-Instruct, CPU) ...", flush=True)
    backend = make_backend("hf", "embedded", device="cpu")

    run_ids = []
    if not args.skip_model_run:
        print(f"\n== model run: best-of-{args.k} with the embedded model on {len(tasks)} built-in tasks ==")
        print("   (a 135M model rarely writes a correct rewrite; the outcomes below are what it wrote)")
        config = RunConfig(task_ids=[t.id for t in tasks], k=args.k, backend="hf", model="embedded",
                           backend_options={"device": "cpu"}, prompt_style="body",
                           sampling=SamplingParams(temperature=1.0, max_tokens=args.max_tokens),
                           eval=eval_options, name="demo: embedded model")
        model_run = create_run(store, config, tasks, backend=backend)
        engine = Engine(store, model_run, backend=backend)
        engine.sinks.append(Printer(store, model_run, quiet=True))
        with run_log(args.db, model_run, args.log_level):
            engine.run_to_end()
        store.checkpoint()
        run_ids.append(model_run)

    print("\n== pool run: the project's shipped candidates, scored by the embedded model ==")
    replay = read_replay(str(pool_path()), "jsonl")
    wanted = {t.id for t in tasks}
    replay.records = [r for r in replay.records if r.task_id in wanted]
    report = import_replay(store, replay, name="demo: candidate pool", style="kernel", source_label="pool",
                           eval_options=eval_options)
    pool_run = report.run_id
    print(f"imported {report.n_samples} candidates for {report.n_tasks} tasks; scoring them ...", flush=True)
    score_run(store, pool_run, backend)
    backend.close()
    engine = Engine(store, pool_run)
    engine.sinks.append(Printer(store, pool_run, quiet=False))
    with run_log(args.db, pool_run, args.log_level):
        engine.run_to_end()
    store.checkpoint()
    run_ids.append(pool_run)

    print("\n== results ==")
    for run_id in run_ids:
        print()
        print_strategy_table(store, run_id)
    print("\ntop candidates of one task in the pool run:")
    pool_cands = [c for c in store.candidates(pool_run) if c.task_id == tasks[0].id]
    print_task(tasks[0].id, pool_cands, "surprisal", top=10)
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    print(f"browse the database:  sgs tui --db {args.db}     or     sgs show {pool_run} --db {args.db}")
    return 0
