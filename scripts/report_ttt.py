#!/usr/bin/env python
"""The report's training figure from real runs: best-of-N, batch TTT and SDPO on the same tasks.

    python scripts/report_ttt.py                     # the embedded model on the CPU, small sizes
    python scripts/report_ttt.py --tasks 'builtin/*' --k 8 --steps 4 --max-tokens 256 --model M

Into a fresh database (--db), one after another:

1. `sgs run TASKS --k (STEPS+1)*K`: best-of-N with the training's whole sample budget per task;
2. `sgs ttt TASKS --k K --steps STEPS --baseline-run 1 --probe-run 1`: batch TTT (run 1 is best-of-N);
3. the same with `--method sdpo` (execution feedback and a correct sibling in the teacher's prompt);
4. `sgs report 1 --training ttt --training sdpo`,

all with the same sampling (temperature, max tokens, seed). The report's
`training_vs_best_of_n.png` is copied to OUT/report_ttt_vs_bon.png, and its entry in OUT/README.md
(the sizes, the commands, their wall times and the best-of-adaptation lines) is rewritten.
--report-only draws again from an existing database.
"""
from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

MARK_START = "<!-- report_ttt_vs_bon: written by scripts/report_ttt.py -->"
MARK_END = "<!-- /report_ttt_vs_bon -->"
FIGURE = "report_ttt_vs_bon.png"


def sgs(args: list[str], log: list[tuple[str, float]]) -> str:
    """Runs one sgs command, echoing its output, and records it with its wall time."""
    shown = "sgs " + shlex.join(args)
    print(f"\n$ {shown}", flush=True)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sgs", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    elapsed = time.monotonic() - start
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"report_ttt: `{shown}` exited {proc.returncode}")
    log.append((shown, elapsed))
    return proc.stdout


def readme_entry(args, log: list[tuple[str, float]], report_out: str) -> str:
    budget = (args.steps + 1) * args.k
    tasks = ", ".join(args.tasks)
    commands = "\n".join(f"{cmd}    # {secs / 60:.1f} min" if secs else cmd for cmd, secs in log)
    boa = [line for line in report_out.splitlines() if "best-of-adaptation" in line]
    lines = [MARK_START, "",
             "## Test-time training beside best-of-N (`sgs report --training`)", "",
             f"`sgs report RUN --training ID ...`: fast_1 against samples drawn per task, best-of-N's best-of-K "
             f"curves beside each training step (sample level) and best-of-adaptation, with equivalent K; "
             f"noise-aware on the right.", "",
             f"Made by `python scripts/report_ttt.py` from real runs of the {args.model} model on this machine's "
             f"CPU, small on purpose: {len(args.tasks)} tasks ({tasks}), best-of-N with {budget} samples per task, "
             f"batch TTT and SDPO with {args.steps} steps of K={args.k} (steps 0..{args.steps}, so {budget} samples "
             f"per task as well), temperature {args.temperature}, at most {args.max_tokens} tokens, LoRA rank "
             f"{args.lora_rank}, learning rate {args.lr}, seed {args.seed}. A model of this size seldom writes a "
             f"correct kernel and the CPU timings are noisy: the figure shows what the report draws from real "
             f"runs, not the paper's result (5 tasks, K=32, 8 steps on an H200; TTT's best checkpoint 30.6% "
             f"fast_1 against 53.3% for one sample of search).", "",
             "The commands it ran, with their wall times on a 2-core machine shared with other work:", "",
             "```", commands, "```", ""]
    if boa:
        lines += ["It printed:", "", "```", *boa, "```", ""]
    lines += [f"![report_ttt_vs_bon]({FIGURE})", "", MARK_END]
    return "\n".join(lines)


def write_entry(readme: Path, entry: str) -> None:
    """Replaces the figure's entry in the screenshots' README (or appends it), keeping the rest."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    pattern = re.compile(re.escape(MARK_START) + ".*?" + re.escape(MARK_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: entry, text)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + entry
    readme.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="/tmp/sgs-report-ttt.db", help="a database for the runs (default %(default)s; "
                   "must not exist unless --report-only)")
    p.add_argument("--out", default="screenshots", help="folder for the PNG and README.md (default screenshots/)")
    p.add_argument("--tasks", nargs="+", default=["builtin/relu", "builtin/swish"])
    p.add_argument("--k", type=int, default=4, help="training samples per task and step (default 4)")
    p.add_argument("--steps", type=int, default=2, help="training updates (steps 0..N are sampled; default 2)")
    p.add_argument("--temperature", default="0.25", help="sampling temperature of every run (default 0.25, "
                   "the paper's for training)")
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--model", default="embedded")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lr", default="1e-4", help="learning rate (default 1e-4: with 2 updates, the paper's 1e-5 "
                   "moves a LoRA adapter too little to see)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--device", default="cpu", help="evaluation and training device (default cpu)")
    p.add_argument("--report-only", action="store_true", help="draw from an existing --db")
    args = p.parse_args(argv)

    db, out = Path(args.db), Path(args.out)
    if db.exists() and not args.report_only:
        print(f"report_ttt: {db} exists; remove it or pass --report-only", file=sys.stderr)
        return 2
    if args.report_only and not db.exists():
        print(f"report_ttt: no database at {db}", file=sys.stderr)
        return 2
    log: list[tuple[str, float]] = []
    sampling = ["--temperature", args.temperature, "--max-tokens", str(args.max_tokens), "--seed", str(args.seed),
                "--model", args.model, "--device", args.device, "--db", str(db)]
    training = ["--k", str(args.k), "--steps", str(args.steps), "--batch-size", str(len(args.tasks)),
                "--lora-rank", str(args.lora_rank), "--lr", args.lr, "--train-device", args.device,
                "--baseline-run", "1", "--probe-run", "1", "--quiet"]   # best-of-N: run 1 of the fresh database
    if not args.report_only:
        sgs(["run", *args.tasks, "--k", str((args.steps + 1) * args.k), "--name", "bon", "--quiet", *sampling], log)
        sgs(["ttt", *args.tasks, *training, "--name", "ttt", *sampling], log)
        sgs(["ttt", *args.tasks, *training, "--method", "sdpo", "--name", "sdpo", *sampling], log)
    report_dir = Path(str(db) + "-report")
    report_out = sgs(["report", "1", "--training", "ttt", "--training", "sdpo", "--db", str(db),
                      "-o", str(report_dir)], log)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report_dir / "training_vs_best_of_n.png", out / FIGURE)
    if args.report_only:
        log = []   # keep the entry's commands and times from the run that made the data
        old = (out / "README.md").read_text(encoding="utf-8") if (out / "README.md").exists() else ""
        if MARK_START in old:
            print(f"wrote {out / FIGURE} (README entry kept)")
            return 0
    write_entry(out / "README.md", readme_entry(args, log, report_out))
    print(f"wrote {out / FIGURE} and its entry in {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
