"""sgs ttt: test-time training (batch TTT or SDPO) beside search, stored in the same database."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .common import add_db, add_json, add_task_sources, fmt, open_store, print_json, table

DESCRIPTION = """\
Test-time training: adapt the model to a batch of tasks with its own samples, then compare with search.

Batch TTT (--method ttt). Step 0 samples K candidates per task with the starting weights (a base model, or
--adapter) and evaluates them with the same evaluator as `sgs run`. Every later step makes one update on the
previous step's samples, saves the LoRA adapter, then samples and evaluates again. A correct sample earns
max(0, speedup / median of the task's last 32 correct speedups) + bonus (the median starts at 1.0 and carries
over between steps); an incorrect one earns 0. Advantages are normalised over all samples of all tasks of the
step, and the update minimises -sum exp(logp_new - logp_sampled) * A over the sampled tokens (both logprobs
raw, at temperature 1) with Adam (beta 0.9/0.95, eps 1e-12, no weight decay). Best-of-adaptation picks the step
with the best sample-level fast_1 and gives its equivalent K on the best-of-K curve. Paper defaults: 5 tasks,
K=32, 8 steps, temperature 0.25, 1,024 tokens, LoRA rank 16, learning rate 1e-5; its best checkpoint reached
30.6% fast_1, below one sample of plain search (53.3%).

SDPO (--method sdpo). The same loop, but each sampled token's advantage is 1.0 x (teacher logprob - student
logprob), where the teacher is the same model reading the task, a correct sibling from the batch, the
attempt's execution feedback (outcome, error, speedup) and "Correctly solve the original question." - never
the attempt's own code. --prompt-only drops the sibling and the feedback. With --probe-run, every checkpoint
scores a fixed set of best-of-N samples, and each step reports Spearman rho(mean NLL, speedup) overall and in
the bottom speedup quartile (over-sharpening: paper -0.198 -> -0.275, bottom quartile -0.24 -> -0.44), beside
the diversity of its samples. Every step's samples are an ordinary run (sgs show RUN); every checkpoint is an
adapter for `sgs run --adapter DIR`.
"""


def _table(name: str):
    """The run option table's parser for an option `sgs ttt` shares with `sgs run` (same range, same message)."""
    from sgs.core.options import get

    from .common import argparse_type

    return argparse_type(get(name))


def add_parser(sub) -> None:
    p = sub.add_parser("ttt", help="test-time training (batch TTT, SDPO) with best-of-adaptation",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tasks", nargs="*", metavar="TASK", help="task ids or globs (the training batch)")
    add_task_sources(p)
    p.add_argument("--split", help="tasks of a split: a shipped name (l1_seed42) or a file")
    p.add_argument("--subset", default="eval", choices=["train", "eval", "all"], help="split subset (default eval)")
    p.add_argument("--task-offset", type=int, default=0, help="with --split: skip this many tasks (default 0)")
    p.add_argument("--batch-size", type=int, default=5, help="tasks per step (default 5, the paper's)")
    p.add_argument("--method", default="ttt", choices=["ttt", "sdpo"], help="batch TTT (default) or SDPO")
    p.add_argument("--prompt-only", action="store_true", help="sdpo: the teacher sees the task and instruction only")
    p.add_argument("--steps", type=int, default=8, help="updates (steps 0..N are sampled; default 8)")
    p.add_argument("--k", type=int, default=32, help="samples per task and step (default 32)")
    p.add_argument("--temperature", type=_table("temperature"), default=0.25,
                   help="sampling temperature (default 0.25, the paper's)")
    p.add_argument("--max-tokens", type=_table("max_tokens"), default=1024, help="tokens per sample (default 1024)")
    p.add_argument("--backend", default="hf", help="hf (local peft, default) or tinker")
    p.add_argument("--model", default="embedded", help="embedded, a HF id, a folder, a .gguf (hf); a base model (tinker)")
    p.add_argument("--adapter", default=None, help="start from this adapter (hf folder, or a tinker:// state path)")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lora-alpha", type=float, default=32.0, help="hf: LoRA scaling numerator (default 32)")
    p.add_argument("--lr", type=float, default=1e-5, help="learning rate (default 1e-5)")
    p.add_argument("--correct-bonus", type=float, default=0.0, help="added to a correct sample's reward (default 0)")
    p.add_argument("--baseline-window", type=int, default=32, help="correct speedups in the running median (32)")
    p.add_argument("--sdpo-coef", type=float, default=1.0, help="sdpo: strength of the teacher signal (1.0)")
    p.add_argument("--probe-run", type=int, default=None, metavar="RUN",
                   help="a best-of-N run whose correct samples every checkpoint scores (the over-sharpening probe)")
    p.add_argument("--probe-samples", type=int, default=320, help="probe samples taken from --probe-run (320)")
    p.add_argument("--baseline-run", type=int, default=None, metavar="RUN",
                   help="best-of-N run for equivalent K (default: the training's own step 0)")
    p.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="where adapters go (default sgs-checkpoints/training-ID beside the database)")
    p.add_argument("--prompt-style", default="body", choices=["body", "kernel"])
    p.add_argument("--eval-mode", default="fast", choices=["fast", "full"])
    p.add_argument("--device", type=_table("device"), default="auto", help="evaluation device: auto, cpu, cuda, cuda:N")
    p.add_argument("--workers", type=_table("workers"), default=None, help="evaluation worker processes")
    p.add_argument("--timeout", type=_table("timeout"), default=60.0, help="seconds a candidate may run (default 60)")
    p.add_argument("--train-device", default=None, help="hf: the model's device (default cuda if present, else cpu)")
    p.add_argument("--dtype", type=_table("dtype"), default=None, help="hf: auto (bf16 on GPUs), bf16, fp32")
    p.add_argument("--micro-batch-tokens", type=int, default=None, help="hf: tokens per forward/backward pass")
    p.add_argument("--gradient-checkpointing", action="store_true", help="hf: trade compute for memory")
    p.add_argument("--api-key-env", type=_table("api_key_env"), default=None,
                   help="tinker: NAME of the env var holding the key")
    p.add_argument("--seed", type=_table("seed"), default=None)
    p.add_argument("--name", default=None, help="a name for the training run")
    p.add_argument("--resume", type=int, metavar="ID", help="continue a stopped training run")
    p.add_argument("--detach", action="store_true", help="keep training after the terminal closes (log to a file)")
    p.add_argument("--show", type=int, metavar="ID", help="print a training run's per-step table and stop")
    p.add_argument("--list", action="store_true", help="list the training runs and stop")
    p.add_argument("--quiet", action="store_true", help="no per-sample lines")
    add_json(p)
    add_db(p)
    p.set_defaults(func=run)


def _tasks(args):
    from sgs.core.tasks import resolve_tasks

    from sgs.core.errors import InputError as UserError

    specs = list(args.tasks)
    if args.split:
        from sgs.core.splits import split_task_ids

        ids = split_task_ids(args.split, args.subset)
        specs += ids[args.task_offset:args.task_offset + args.batch_size]
    if not specs:
        raise UserError("no tasks: name the tasks of the training batch (sgs tasks lists them) or pass --split")
    tasks = resolve_tasks(specs, kernelbench=args.kernelbench, dataset_file=args.dataset_file)
    if len(tasks) > args.batch_size:
        raise UserError(f"{len(tasks)} tasks given, but a training batch holds {args.batch_size} "
                        f"(pass --batch-size {len(tasks)} to train on all of them)")
    return tasks


def build_config(args, store):
    from sgs.core.training import TRAINERS, OptimSettings, TrainingConfig

    from sgs.core.errors import InputError as UserError

    checks = [(args.k >= 1, "--k must be at least 1"), (args.steps >= 0, "--steps must be 0 or more"),
              (args.batch_size >= 1, "--batch-size must be at least 1"), (args.lr > 0, "--lr must be positive"),
              (args.lora_rank >= 1, "--lora-rank must be at least 1"),
              (args.baseline_window >= 1, "--baseline-window must be at least 1"),
              (args.probe_samples >= 3, "--probe-samples must be at least 3"),
              (not args.prompt_only or args.method == "sdpo", "--prompt-only is an SDPO variant: add --method sdpo")]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if args.backend not in TRAINERS:
        raise UserError(f"unknown training backend {args.backend!r}; known: {', '.join(TRAINERS.names())}")
    for label, run_id in (("--probe-run", args.probe_run), ("--baseline-run", args.baseline_run)):
        if run_id is not None:
            try:
                store.get_run(run_id)
            except LookupError:
                raise UserError(f"{label}: no run {run_id} in {store.path}") from None
    if args.adapter and args.backend == "hf" and not (Path(args.adapter) / "adapter_config.json").is_file():
        raise UserError(f"--adapter: no peft adapter in {args.adapter} (adapter_config.json is missing)")
    tasks = _tasks(args)
    options = {"hf": {"device": args.train_device, "dtype": args.dtype, "micro_batch_tokens": args.micro_batch_tokens,
                      "gradient_checkpointing": args.gradient_checkpointing or None},
               "tinker": {"api_key_env": args.api_key_env}}.get(args.backend, {})
    extra = {"seed": args.seed} if args.seed is not None else {}
    config = TrainingConfig(
        task_ids=[t.id for t in tasks], method=args.method, prompt_only=args.prompt_only, steps=args.steps, k=args.k,
        temperature=args.temperature, max_tokens=args.max_tokens, backend=args.backend, model=args.model,
        backend_options={k: v for k, v in options.items() if v is not None}, adapter=args.adapter,
        lora_rank=args.lora_rank, lora_alpha=args.lora_alpha, optim=OptimSettings(learning_rate=args.lr),
        correct_bonus=args.correct_bonus, baseline_window=args.baseline_window, sdpo_coef=args.sdpo_coef,
        prompt_style=args.prompt_style,
        eval={"device": args.device, "mode": args.eval_mode, "timeout_s": args.timeout, "workers": args.workers},
        probe_run=args.probe_run, probe_samples=args.probe_samples, baseline_run=args.baseline_run,
        checkpoint_dir=args.checkpoints, kernelbench=args.kernelbench, dataset_file=args.dataset_file,
        name=args.name, **extra)
    return config, tasks


# -- printing ---------------------------------------------------------------------------------
HEADER = ["step", "fast_1", "(CI>1)", "task fast_1", "correct", "reward", "loss", "rho", "rho Q1", "distinct",
          "edit dist", "sample s", "update s"]


def step_cells(r) -> list[str]:
    return [str(r.step), fmt(r.fast_1, ".3f"), fmt(r.fast_1_noise_aware, ".3f"), fmt(r.fast_1_task, ".3f"),
            f"{r.n_correct}/{r.n_samples}", fmt(r.mean_reward, ".3f"), fmt(r.loss, ".4g"), fmt(r.rho, "+.3f"),
            fmt(r.rho_bottom_quartile, "+.3f"), fmt(r.distinct_codes, "d"), fmt(r.mean_edit_distance, ".1f"),
            fmt(r.sample_s, ".0f"), fmt(r.update_s, ".1f")]


def print_training(store, training_run_id: int, out=None) -> None:
    from sgs.core.engine import effective_status
    from sgs.core.training import step_table, training_summary

    out = out or sys.stdout
    run = store.get_training_run(training_run_id)
    rows = step_table(store, training_run_id)
    title = f"training run {training_run_id}" + (f" ({run['name']})" if run.get("name") else "")
    print(f"{title}: {run['method']} on {len(run['config']['task_ids'])} tasks x K={run['k']}, "
          f"{run['steps']} steps, {run['backend']}/{run['model']}, {effective_status(run)}", file=out)
    if any(r.injected for r in rows):
        print("rewards were injected (a mechanics check): fast_1 counts the injected outcomes", file=out)
    print(table([step_cells(r) for r in rows], HEADER, "r" * len(HEADER)), file=out)
    best = training_summary(store, training_run_id)
    if best:
        print(f"best-of-adaptation: step {best['step']}, fast_1 {best['fast_1']:.3f}, equivalent K "
              f"{best['equivalent_k_label'] or '-'} (against {best['baseline']}); adapter {best['checkpoint']}",
              file=out)


class TrainingPrinter:
    """Training events as lines, and each step's engine events through the run printer."""

    def __init__(self, store, *, quiet: bool = False, out=None):
        self.store, self.quiet, self.out = store, quiet, out or sys.stdout
        self.step_printer = None

    def __call__(self, event) -> None:
        from sgs.core import events as ev
        from sgs.core.training import events as tev
        from sgs.core.training.tables import StepRow

        from .printer import Printer

        if isinstance(event, tev.TrainingStarted):
            print(f"training run {event.training_run_id}: {event.method}, {len(event.task_ids)} tasks x K={event.k}, "
                  f"{event.steps} steps", file=self.out, flush=True)
        elif isinstance(event, tev.StepStarted):
            print(f"-- step {event.step} (run {event.run_id}, weights {event.checkpoint})", file=self.out, flush=True)
            self.step_printer = Printer(self.store, event.run_id, quiet=self.quiet, out=self.out)
        elif isinstance(event, tev.StepEvaluated):
            if self.step_printer is not None:
                self.step_printer.close()
            print(table([step_cells(StepRow(**event.row))], HEADER, "r" * len(HEADER)), file=self.out, flush=True)
        elif isinstance(event, tev.StepUpdated):
            print(f"   update on step {event.step}: loss {event.loss:.4g} in {event.seconds:.1f} s; saved {event.checkpoint}",
                  file=self.out, flush=True)
        elif isinstance(event, tev.TrainingFinished):
            print(f"training run {event.training_run_id} {event.status}" + (f": {event.error}" if event.error else ""),
                  file=self.out, flush=True)
        elif isinstance(event, ev.RunFinished):
            pass  # the step line says it
        elif self.step_printer is not None:
            self.step_printer(event)


def detach(db: Path, training_run_id: int) -> tuple[int, Path]:
    folder = db.resolve().parent / "sgs-logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"training-{training_run_id}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sgs", "ttt", "--resume", str(training_run_id), "--db", str(db)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc.pid, log


def run(args) -> int:
    from sgs.core.engine import effective_status
    from sgs.core.training import TrainingLoop, create_training, step_table

    from sgs.core.errors import InputError as UserError

    from sgs.core.store.opening import precheck

    if args.resume is not None:
        precheck(Path(args.db), "read")   # resuming never creates a database
    store = open_store(args, access="read" if (args.show is not None or args.list) else "write")
    if args.list:
        rows = store.list_training_runs()
        if args.json:
            print_json(rows)
        else:
            print(table([[str(r["id"]), r["name"] or "", r["method"], effective_status(r), f"{r['backend']}/{r['model']}",
                          str(r["k"]), f"{r['n_steps_evaluated']}/{r['steps'] + 1}"] for r in rows],
                        ["id", "name", "method", "status", "model", "K", "steps done"], "rllllrr"))
        return 0
    if args.show is not None:
        try:
            if args.json:
                print_json([r.to_dict() for r in step_table(store, args.show)])
            else:
                print_training(store, args.show)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        return 0
    if args.resume is not None:
        try:
            row = store.get_training_run(args.resume)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        if effective_status(row) == "running" and row.get("pid") != os.getpid():
            raise UserError(f"training run {args.resume} is still running (pid {row.get('pid')})")
        training_run_id = args.resume
    else:
        config, tasks = build_config(args, store)
        training_run_id = create_training(store, config, tasks)
    if args.detach:
        pid, log = detach(Path(args.db), training_run_id)
        print(f"training run {training_run_id} started in the background (pid {pid}); log: {log}")
        print(f"follow it with: sgs ttt --show {training_run_id} --db {args.db}")
        return 0
    printer = TrainingPrinter(store, quiet=args.quiet)
    status = TrainingLoop(store, training_run_id, sinks=[printer]).run_to_end()
    print()
    print_training(store, training_run_id)
    if status != "finished":
        print(f"training run {training_run_id} {status}; continue it with: sgs ttt --resume {training_run_id} --db {args.db}")
        return 1
    return 0
