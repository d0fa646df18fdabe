#!/usr/bin/env python
"""The app's daily path in a real terminal: tmux at 80x24, with `set-clipboard on`.

    python scripts/tmux_check.py [--keep]

Starts a run in the background (built-in tasks evaluated on the CPU, a
scripted backend: no model, no GPU) through `sgs.core.launch`, opens
`sgs tui --run N` in a tmux pane while the run is in progress, follows it
until each task has a surprisal-top3 pick, opens the diff of the first
task's top-3 pick against the oracle's (`t`), copies the code (`y`, OSC 52)
and quits (`q`). It then checks, from `tmux capture-pane`, that every pick
and review flag shows whole (as the store computes them), and, from
`tmux show-buffer`, that the clipboard holds exactly the pick's code.
Exit status 0 when all holds; 2 when tmux is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET = f"sgs-check-{os.getpid()}"
WIDTH, HEIGHT = 80, 24
TASKS = ["builtin/relu", "builtin/relu6"]
# correct rewrites in the body style, so every task gets correct samples and picks
REPLIES = {
    "builtin/relu": ["return x.clamp_min(0)", "return torch.where(x > 0, x, torch.zeros_like(x))",
                     "return x * (x > 0)", "return torch.nn.functional.relu(x)"],
    "builtin/relu6": ["return x.clamp(0, 6)", "return torch.clamp(x, min=0.0, max=6.0)",
                      "return torch.nn.functional.relu6(x)", "return x.clamp_min(0).clamp_max(6)"],
}


def tmux(*args: str, check: bool = True) -> str:
    out = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def capture() -> str:
    return tmux("capture-pane", "-p", "-t", "check")


def wait_screen(predicate, what: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = capture()
        if predicate(screen):
            return screen
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f}s for {what}; the pane shows:\n{screen}")
        time.sleep(0.25)


def start_run(db: Path, folder: Path):
    from sgs.core.engine import EvalOptions, RunConfig
    from sgs.core.launch import start_run as launch
    from sgs.core.types import SamplingParams

    replies = folder / "replies.jsonl"
    with replies.open("w") as f:
        for task in TASKS:
            for body in REPLIES[task]:
                f.write(json.dumps({"text": f"```python\n{body}\n```"}) + "\n")
    # a second per sample keeps the run in progress while the app follows it
    config = RunConfig(task_ids=TASKS, k=8, backend="scripted", model=str(replies),
                       backend_options={"delay_s": 1.0}, sampling=SamplingParams(max_tokens=64),
                       eval=EvalOptions(device="cpu", timeout_s=60), name="tmux check")
    return launch(db, config)


def expected_picks(db: Path, run_id: int) -> dict[str, tuple[str, object]]:
    """task -> (the top3 cell as the app must show it, the pick's candidate), from the store."""
    from sgs.core.review import needs_review
    from sgs.core.selection.picks import picks_by_strategy
    from sgs.core.store import Store

    out = {}
    with Store(db) as store:
        for task in TASKS:
            cands = store.candidates(run_id, task)
            idx = picks_by_strategy(cands, "surprisal").get("surprisal-top3")
            cand = next((c for c in cands if c.sample_idx == idx), None)
            if cand is not None:
                cell = f"#{cand.sample_idx} {cand.speedup:.2f}×" + ("!" if needs_review(cand.flags) else "")
                out[task] = (cell, cand)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (database, logs)")
    args = p.parse_args(argv)
    if shutil.which("tmux") is None:
        print("tmux_check: tmux is not installed (apt-get install -y tmux)", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="sgs-tmux-"))
    db = folder / "check.db"
    failures: list[str] = []
    launched = None
    try:
        launched = start_run(db, folder)
        run_id = launched.run_id
        tmux("-f", "/dev/null", "new-session", "-d", "-s", "check", "-x", str(WIDTH), "-y", str(HEIGHT),
             "env", "-u", "NO_COLOR", f"PATH={os.environ.get('PATH', '')}", "bash", "--norc", "--noprofile")
        tmux("set-option", "-g", "set-clipboard", "on")
        tmux("send-keys", "-t", "check",
             f"cd {folder} && {sys.executable} -m sgs tui --db {db} --run {run_id}", "Enter")
        # follow the run in progress until each task has its pick
        screen = wait_screen(lambda s: "top3 pick" in s and "▶ running" in s, "the live view of the running run")
        print(f"run {run_id} in progress, followed at {WIDTH}x{HEIGHT}")
        wait_screen(lambda s: len(expected_picks(db, run_id)) == len(TASKS), "a top-3 pick for every task", 240)
        screen = wait_screen(lambda s: all(cell in s for cell, _ in expected_picks(db, run_id).values()),
                             "every pick shown whole in the live view", 30)
        picks = expected_picks(db, run_id)
        for task, (cell, _) in picks.items():
            row = next((ln for ln in screen.splitlines() if ln.startswith(f" {task} ")), "")
            if not row.rstrip().endswith(cell):
                failures.append(f"live view: {task}'s pick should read {cell!r}: {row!r}")
        # the diff of the first task's top-3 pick against the oracle's, then copy its code
        tmux("send-keys", "-t", "check", "t")
        screen = wait_screen(lambda s: "oracle #" in s and "top3 #" in s, "the diff of top3 against the oracle")
        picks = expected_picks(db, run_id)
        cell, top3 = picks[TASKS[0]]
        head = next((ln for ln in screen.splitlines() if "top3 #" in ln), "")
        if f"top3 #{top3.sample_idx} S=" not in head or cell.split(" ", 1)[1] not in head:
            failures.append(f"diff heading: the top3 pick and its flags should read {cell!r}: {head!r}")
        tmux("send-keys", "-t", "check", "y")
        screen = wait_screen(lambda s: "sent" in s and "bytes" in s, "the copy notification")
        size = len((top3.code or "").encode())
        if f"sent {size} bytes" not in screen.replace("\n", " "):
            failures.append(f"the notification should say it sent {size} bytes")
        time.sleep(0.5)
        buffer = tmux("show-buffer", check=False)
        if buffer != top3.code:
            failures.append(f"show-buffer holds {len(buffer)} characters, not the pick's {len(top3.code)}-character code")
        for line in capture().splitlines():
            if len(line) > WIDTH:
                failures.append(f"a line runs past {WIDTH} columns: {line!r}")
        tmux("send-keys", "-t", "check", "q")
        wait_screen(lambda s: "^p palette" not in s, "the app to quit", 30)
        print(f"diff of {TASKS[0]}: top3 #{top3.sample_idx} against the oracle; copied {size} bytes")
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        tmux("kill-server", check=False)
        if launched is not None:  # the run this check started, if it is still going
            try:
                os.kill(launched.pid, 15)
            except ProcessLookupError:
                pass
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")
    if failures:
        print("tmux check FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("tmux check passed: picks and flags whole at 80x24, show-buffer equals the copied code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
