"""A run's progress between samples: what its process is doing right now, persisted for other readers.

A model can take minutes to load and a sample minutes to generate; without
this row a reader in another SSH session sees "0 samples" and nothing else.
One row per run (table `run_progress`), overwritten in place and throttled,
so it costs the run nothing it would notice.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import datetime
from typing import Any

PROGRESS_COLUMNS = ("phase", "detail", "task_id", "samples_done", "samples_total", "tokens", "tokens_total",
                    "generating_s", "earlier_s", "pid", "host", "log_path", "phase_started_at")


class ProgressStore:
    """Write and read `run_progress` rows (mixed into `Store`)."""

    def set_run_progress(self, run_id: int, **fields: Any) -> None:
        """Update the run's progress row (creating it); unknown field names are an error."""
        from . import now

        unknown = set(fields) - set(PROGRESS_COLUMNS)
        if unknown:
            raise ValueError(f"unknown progress fields: {', '.join(sorted(unknown))}")
        fields["updated_at"] = now()
        cols = list(fields)
        insert = {"phase": "launching", **fields}  # a first row needs a phase; an update keeps the one it has
        self._write(
            f"""INSERT INTO run_progress (run_id, {', '.join(insert)}) VALUES (?, {', '.join('?' for _ in insert)})
                ON CONFLICT(run_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols)}""",
            [run_id, *insert.values()])

    def run_progress(self, run_id: int) -> dict | None:
        """The run's progress row, or None (none written yet, or a database from before progress rows)."""
        try:
            rows = self._rows("SELECT * FROM run_progress WHERE run_id = ?", [run_id])
        except sqlite3.OperationalError:  # an older database opened read-only: no such table
            return None
        return rows[0] if rows else None

    def all_run_progress(self) -> dict[int, dict]:
        try:
            return {r["run_id"]: r for r in self._rows("SELECT * FROM run_progress")}
        except sqlite3.OperationalError:
            return {}

    def begin_session(self, run_id: int) -> None:
        """Before a run (re)starts: add the time its earlier session ran to `earlier_s`.

        `runs.started_at` is the start of the latest session, so without this
        a resumed run's elapsed time would start again from zero.
        """
        run = self._rows("SELECT started_at, finished_at, heartbeat_at FROM runs WHERE id = ?", [run_id])
        if not run or not run[0]["started_at"]:
            return
        begin = datetime.fromisoformat(run[0]["started_at"])
        end_text = run[0]["finished_at"] or run[0]["heartbeat_at"]
        earlier = max((datetime.fromisoformat(end_text) - begin).total_seconds(), 0.0) if end_text else 0.0
        before = (self.run_progress(run_id) or {}).get("earlier_s") or 0.0
        self.set_run_progress(run_id, earlier_s=before + earlier, tokens_total=0, generating_s=0.0)


class ProgressRecorder:
    """What the engine calls as it works; each call is one small, throttled write that never raises."""

    MIN_INTERVAL_S = 0.5

    def __init__(self, store, run_id: int):
        self.store = store
        self.run_id = run_id
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._tokens_total = 0
        self._generating_s = 0.0
        self._generating_since: float | None = None

    def _write(self, force: bool, **fields: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_write < self.MIN_INTERVAL_S:
                return
            self._last_write = now
        try:
            self.store.set_run_progress(self.run_id, **fields)
        except Exception:  # noqa: BLE001 - progress is for display: a failed write must not stop a run
            pass

    def _phase(self, phase: str, **fields: Any) -> None:
        from . import now

        self._write(True, phase=phase, phase_started_at=now(), pid=os.getpid(), host=os.uname().nodename, **fields)

    def session_started(self) -> None:
        try:
            self.store.begin_session(self.run_id)
        except Exception:  # noqa: BLE001
            pass

    def loading_model(self, backend: str, model: str) -> None:
        self._phase("loading_model", detail=f"{backend}/{model}" if "/" not in model else model)

    def model_loaded(self) -> None:
        self._phase("model_loaded", detail=None)

    def failed_to_start(self, error: BaseException | str) -> None:
        text = str(error).strip().splitlines()
        message = text[0] if text else type(error).__name__
        if isinstance(error, BaseException):
            message = f"{type(error).__name__}: {message}"
        self._phase("failed_to_start", detail=message)

    def generating(self, task_id: str, done: int, total: int) -> None:
        """A task starts (or goes on) sampling: `done` of `total` samples exist."""
        self._generating_since = time.monotonic()
        self._phase("generating", task_id=task_id, samples_done=done, samples_total=total, tokens=0,
                    detail=None, tokens_total=self._tokens_total, generating_s=self._generating_s)

    def _seconds(self) -> float:
        since = self._generating_since
        return self._generating_s + (time.monotonic() - since if since is not None else 0.0)

    def tokens(self, n_tokens: int) -> None:
        """Tokens of the sample being generated so far (a backend's progress callback)."""
        self._write(False, tokens=int(n_tokens), generating_s=self._seconds())

    def sample_done(self, task_id: str, done: int, total: int, n_tokens: int) -> None:
        self._tokens_total += int(n_tokens or 0)
        self._write(done >= total, task_id=task_id, samples_done=done, samples_total=total, tokens=0,
                    tokens_total=self._tokens_total, generating_s=self._seconds())

    def generated(self, task_id: str) -> None:
        """The task's sampling is over (its evaluations may go on)."""
        if self._generating_since is not None:
            self._generating_s += time.monotonic() - self._generating_since
            self._generating_since = None
        self._phase("sampled", task_id=task_id, tokens=0, tokens_total=self._tokens_total,
                    generating_s=self._generating_s)
