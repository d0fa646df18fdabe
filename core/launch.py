"""Start and resume runs in a detached process of their own, for any front end.

A run started here lives in its own session (`start_new_session`): closing
the front end or losing the SSH connection never stops it. Its output goes
to `<db folder>/sgs-logs/run-N.log`. A run that cannot start (a model that
does not load, a server that does not answer) is marked failed in the store
with its one-line error, so any reader sees the failure at once; readers
show the log's last lines beside it (`start_failure`, `log_tail`).

    python -m sgs.core.launch --db sgs.db RUN_ID     # the detached process itself
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine, RunConfig, create_run, effective_status
from .errors import UserInputError
from .store import Store
from .types import Task


class LaunchError(UserInputError):
    """A run that cannot be started or resumed (one line)."""


@dataclass(frozen=True)
class Launched:
    run_id: int
    pid: int
    log_path: Path


def log_path_for(db: str | os.PathLike, run_id: int, *, create: bool = True) -> Path:
    """Where a detached run writes its output (the same place `sgs run --detach` uses)."""
    folder = Path(db).resolve().parent / "sgs-logs"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{run_id}.log"


def start_run(db: str | os.PathLike, config: RunConfig, tasks: list[Task] | None = None) -> Launched:
    """Create a run from `config` and start it in the background."""
    if not config.task_ids and not tasks:
        raise LaunchError("no tasks chosen")
    if config.k < 1:
        raise LaunchError("K must be at least 1")
    if tasks is None:
        from .tasks import resolve_tasks

        tasks = resolve_tasks(config.task_ids, kernelbench=config.kernelbench, dataset_file=config.dataset_file)
    store = Store(db)
    try:
        run_id = create_run(store, config, tasks)
    finally:
        store.close()
    return spawn(db, run_id)


def resume_run(db: str | os.PathLike, run_id: int) -> Launched:
    """Continue a run that is not running (interrupted, or failed) in the background."""
    store = Store(db)
    try:
        run = store.get_run(run_id)
    except LookupError as exc:
        raise LaunchError(str(exc)) from None
    finally:
        store.close()
    status = effective_status(run)
    if status == "running":
        raise LaunchError(f"run {run_id} is still running (pid {run.get('pid')})")
    if status == "finished":
        raise LaunchError(f"run {run_id} is finished: nothing to resume")
    return spawn(db, run_id)


def spawn(db: str | os.PathLike, run_id: int) -> Launched:
    """Start the detached process that drives run `run_id` (see `main`)."""
    log = log_path_for(db, run_id)
    with open(log, "ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting run {run_id}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sgs.core.launch", "--db", str(db), str(run_id)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    store = Store(db)
    try:
        store.set_run_progress(run_id, phase="launching", detail=None, pid=proc.pid, host=os.uname().nodename,
                               log_path=str(log))
    finally:
        store.close()
    return Launched(run_id, proc.pid, log)


# -- reading a launch's fate ------------------------------------------------
def start_failure(run: dict, progress: dict | None) -> str | None:
    """Why a run never got going (one line), or None while it starts or runs.

    Three cases: the run is marked failed before it started; its process
    noted a failure while loading the model (a process started by another
    front end that records progress but not the run's status); or the process
    that was starting it is gone without a word (killed, out of memory).
    """
    if run.get("started_at") and run["status"] != "failed":
        return None
    if run["status"] == "failed" and not run.get("started_at"):
        return run.get("error") or "the run failed before it started"
    if run["status"] != "created" or progress is None:
        return None
    if progress.get("phase") == "failed_to_start":
        return progress.get("detail") or "the run failed before it started"
    pid, host = progress.get("pid"), progress.get("host")
    if pid and host == os.uname().nodename and not _alive(pid):
        return f"its process (pid {pid}) exited before the run started"
    return None


def log_tail(path: str | os.PathLike | None, lines: int = 12) -> list[str]:
    """The last `lines` non-empty lines of a run's log ([] when there is none)."""
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - 64 * 1024, 0))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()][-lines:]


def _alive(pid: int) -> bool:
    from .engine import _alive as alive

    return alive(pid)


# -- the detached process ---------------------------------------------------
class LogLines:
    """An event sink writing one line per event to stdout (the run's log)."""

    def __call__(self, event) -> None:
        from . import events as ev

        stamp = time.strftime("%H:%M:%S")
        if isinstance(event, ev.SampleGenerated):
            s = "-" if event.surprisal is None else f"{event.surprisal:.1f}"
            line = f"{event.task_id} #{event.sample_idx} sampled, {event.n_tokens} tokens, S={s}" + \
                ("" if event.has_code else ", no code")
        elif isinstance(event, ev.EvalFinished):
            speed = "" if event.speedup is None else f" {event.speedup:.2f}x"
            error = "" if not event.error or event.outcome == "correct" else f": {event.error.splitlines()[0][:160]}"
            line = f"{event.task_id} #{event.sample_idx} {event.outcome}{speed}{error}"
        elif isinstance(event, ev.TaskFinished):
            line = f"{event.task_id} done: {event.n_samples} samples, {event.n_correct} correct"
        elif isinstance(event, ev.RunStarted):
            line = f"run {event.run_id} started: {len(event.task_ids)} tasks x K={event.k}"
        elif isinstance(event, ev.RunFinished):
            line = f"run {event.run_id} {event.status}" + (f": {event.error}" if event.error else "")
        else:
            return
        print(f"{stamp} {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgs.core.launch", description="Drive one stored run to its end.")
    parser.add_argument("--db", required=True)
    parser.add_argument("run_id", type=int)
    args = parser.parse_args(argv)
    store = Store(args.db)
    engine = Engine(store, args.run_id, sinks=[LogLines()])
    try:
        backend = engine.backend  # loads the model: the slow step, and the one most likely to fail
        if store.get_run(args.run_id)["logprob_mode"] is None:
            store.set_logprob_mode(args.run_id, backend.logprob_mode)
    except BaseException as exc:  # noqa: BLE001 - recorded for every reader, then shown in the log
        import traceback

        traceback.print_exc()
        text = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        if store.get_run(args.run_id)["status"] == "created":
            store.set_run_status(args.run_id, "failed", error)
        print(f"run {args.run_id} failed to start: {error}", flush=True)
        return 1
    status = engine.run_to_end()
    return 0 if status == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
