"""sgs score: give a run's samples logprobs from a model, recorded under that model's name."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from sgs.core.options import OPTIONS

from .common import add_db, add_option, open_store, resolve_run_id


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="score a run's samples with a model (for samples imported without logprobs)")
    p.add_argument("run", nargs="?", default="latest", help="run id or name (default: the latest)")
    add_option(p, OPTIONS["backend"])
    p.add_argument("--model", default="embedded", help="model, or backend/model (default: the embedded model)")
    p.add_argument("--all", action="store_true",
                   help="score every sample, not only those without a surprisal (adds a labelled score)")
    # backend options, passed only when given
    add_option(p, replace(OPTIONS["device"], default=None, optional=True, help="hf: cpu, cuda, cuda:N"))
    p.add_argument("--adapter", default=None, help="hf: a peft LoRA adapter folder")
    for name in ("base_url", "api_key_env", "endpoint"):
        add_option(p, OPTIONS[name])
    add_db(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sgs.core.backends import make_backend, parse_model_spec
    from sgs.core.importer import score_run
    from sgs.core.store.opening import precheck

    if args.backend:
        backend_name, model = args.backend, args.model
    else:
        backend_name, model = parse_model_spec(args.model)
    options = {k: getattr(args, k) for k in ("device", "adapter", "base_url", "api_key_env", "endpoint")
               if getattr(args, k) is not None}
    precheck(Path(args.db), "read")   # scoring never creates a database
    store = open_store(args)
    run_id = resolve_run_id(store, args.run)
    todo = [s for s in store.samples(run_id) if args.all or s["surprisal"] is None]
    if not todo:
        print(f"run {run_id}: every sample already has a surprisal (pass --all to add this model's score)")
        return 0
    backend = make_backend(backend_name, model, **options)
    try:
        def progress(done: int, total: int) -> None:
            print(f"\rscoring: {done}/{total}", end="", file=sys.stderr, flush=True)

        n = score_run(store, run_id, backend, only_missing=not args.all, progress=progress)
    finally:
        backend.close()
    print(file=sys.stderr)
    print(f"run {run_id}: scored {n} samples with {backend.name}/{backend.model} "
          f"(logprob mode {backend.logprob_mode})")
    return 0
