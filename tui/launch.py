"""Start and resume runs as detached `sgs run` processes.

The app never runs the engine in its own process: a run lives in its own
session (`start_new_session`), writes to SQLite, and the app follows it from
there; closing the app or losing the SSH connection never stops it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sgs.core.errors import LaunchError  # noqa: F401 - re-exported to the screens

STARTED = re.compile(r"run (\d+) started in the background \(pid (\d+)\)")


@dataclass
class RunRequest:
    task_ids: list[str]
    backend: str
    model: str
    k: int
    temperature: float
    max_tokens: int
    prompt_style: str
    eval_mode: str
    name: str | None = None
    kernelbench: str | None = None


def run_command(db: str | Path, request: RunRequest) -> list[str]:
    if not request.task_ids:
        raise LaunchError("no tasks chosen: toggle some with space, or select all shown")
    cmd = [sys.executable, "-m", "sgs", "run", *request.task_ids,
           "--backend", request.backend, "--model", request.model, "--k", str(request.k),
           "--temperature", repr(float(request.temperature)), "--max-tokens", str(request.max_tokens),
           "--prompt-style", request.prompt_style, "--eval-mode", request.eval_mode]
    if request.name:
        cmd += ["--name", request.name]
    if request.kernelbench:
        cmd += ["--kernelbench", request.kernelbench]
    return cmd + ["--detach", "--db", str(db)]


def _launch(cmd: list[str], timeout_s: float) -> tuple[int, int]:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s,
                          start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    match = STARTED.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        message = lines[-1] if lines else f"sgs run exited with status {proc.returncode}"
        raise LaunchError(message.removeprefix("sgs: error: "))
    return int(match.group(1)), int(match.group(2))


def start_run(db: str | Path, request: RunRequest, timeout_s: float = 300.0) -> tuple[int, int]:
    """Create the run and start it in the background; returns (run id, pid)."""
    return _launch(run_command(db, request), timeout_s)


def resume_run(db: str | Path, run_id: int, timeout_s: float = 120.0) -> tuple[int, int]:
    """Continue an interrupted run in the background; returns (run id, pid)."""
    return _launch([sys.executable, "-m", "sgs", "run", "--resume", str(run_id), "--detach", "--db", str(db)],
                   timeout_s)
