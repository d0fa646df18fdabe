"""The SQLite store: the source of truth for runs, samples and evaluations.

One process writes a run; any number of readers (the TUI in another SSH
session, `sgs show`) follow it from the database alone. WAL mode makes that
safe on a local disk; on a network file system WAL is not, so we warn.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from ..errors import DatabaseError
from ..types import Generation, Task
from . import opening
from .follow import FollowQueries
from .progress import ProgressStore
from .schema import DDL, MIGRATIONS, SCHEMA_VERSION
from .training import TrainingQueries

log = logging.getLogger(__name__)

DEFAULT_DB = "sgs.db"
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "lustre", "gpfs", "ceph", "fuse.glusterfs"}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def filesystem_type(path: Path) -> str | None:
    """The mount type holding `path` (Linux /proc/mounts; None elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


@dataclass
class Candidate:
    """One sample of a task joined with its evaluation: what selection sees."""

    sample_id: int
    sample_idx: int
    task_id: str
    code: str | None
    surprisal: float | None
    mean_nll: float | None
    n_tokens: int | None
    outcome: str | None = None
    speedup: float | None = None
    speedup_lo: float | None = None
    speedup_hi: float | None = None
    candidate_ms: float | None = None
    reference_ms: float | None = None
    error: str | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.outcome == "correct"


class Store(FollowQueries, ProgressStore, TrainingQueries):
    """The database. `access` is "write" (the default: runs, imports, scoring; creates a new
    database, switches it to WAL, brings the schema up to date), "edit" (an existing database
    whose rows may change; schema and journal mode left alone) or "read" (never writes: an
    archived file on read-only storage can be viewed). `readonly=True` is access="read".
    Every fault of the file is a one-line DatabaseError (see opening.py). A reader of an
    older schema sees what it holds (e.g. no progress rows before version 2)."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, readonly: bool = False, access: str | None = None):
        self.path = Path(path)
        access = access or ("read" if readonly else "write")
        fs = filesystem_type(self.path.parent if not self.path.exists() else self.path)
        if fs in NETWORK_FS:
            warnings.warn(
                f"{self.path} is on a network file system ({fs}); SQLite's WAL mode is unsafe there: "
                "keep the database on a local disk",
                stacklevel=2,
            )
        conn, self.access = opening.connect(self.path, access)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        try:
            self._check_version()
            if self.access == "write":
                self.db.enable_wal()
                self._migrate()
                opening.probe_write(conn, self.path)
        except sqlite3.Error as exc:
            conn.close()
            raise opening.database_error(self.path, exc, self.access) from None
        except BaseException:
            conn.close()
            raise

    # -- schema -----------------------------------------------------------
    def _check_version(self) -> None:
        current = self.db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if current is not None and current > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path} has schema version {current}, newer than this sgs ({SCHEMA_VERSION}): upgrade sgs"
            )

    def _migrate(self) -> None:
        with self._lock:
            for stmt in DDL:
                self.db.execute(stmt)
            rows = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = rows[0]
            if current is None:
                self.db.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION, now()])
            elif current < SCHEMA_VERSION:  # additive migrations (schema.MIGRATIONS); newer: _check_version
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for stmt in MIGRATIONS.get(version, ()):
                        self.db.execute(stmt)
                self.db.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION, now()])

    def checkpoint(self) -> None:
        """Fold the WAL into the database file and empty it (a run calls this when it ends), so
        the file alone holds every commit: a copy of it is complete and opens read-only anywhere."""
        if self.access == "read":
            return
        with self._lock:
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # readers holding old snapshots: the next checkpoint gets it
                log.info("checkpoint of %s put off: %s", self.path, exc)

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, list(params))

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cur = self.db.execute(sql, list(params))
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    # -- tasks ------------------------------------------------------------
    def upsert_task(self, task: Task) -> None:
        self._write(
            """INSERT INTO tasks (id, source, level, problem_id, name, reference_hash, reference_src, path)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET source=excluded.source, level=excluded.level,
                 problem_id=excluded.problem_id, name=excluded.name, reference_hash=excluded.reference_hash,
                 reference_src=excluded.reference_src, path=excluded.path""",
            [task.id, task.source, task.level, task.problem_id, task.name, task.reference_hash, task.reference_src, task.path],
        )

    def run_tasks(self, run_id: int) -> list[Task]:
        """The tasks of a run, each with the reference revision the run recorded."""
        rows = self._rows(
            """SELECT t.*, rt.reference_hash AS run_hash FROM run_tasks rt JOIN tasks t ON t.id = rt.task_id
               WHERE rt.run_id = ? ORDER BY rt.position""",
            [run_id],
        )
        return [
            Task(id=r["id"], source=r["source"], level=r["level"], problem_id=r["problem_id"], name=r["name"],
                 reference_src=r["reference_src"], path=r["path"])
            for r in rows
        ]

    # -- runs -------------------------------------------------------------
    def create_run(self, *, name: str | None, kind: str, backend: str | None, model: str | None, k: int,
                   prompt_style: str | None, rank_by: str, logprob_mode: str | None, config: dict,
                   provenance: dict, tasks: list[Task]) -> int:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute(
                    """INSERT INTO runs (name, kind, status, backend, model, k, prompt_style, rank_by, logprob_mode,
                       config_json, provenance_json, created_at) VALUES (?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [name, kind, backend, model, k, prompt_style, rank_by, logprob_mode,
                     json.dumps(config, sort_keys=True), json.dumps(provenance, sort_keys=True), now()],
                )
                run_id = cur.lastrowid
                for pos, task in enumerate(tasks):
                    self.upsert_task(task)
                    self.db.execute(
                        "INSERT INTO run_tasks (run_id, task_id, position, reference_hash) VALUES (?, ?, ?, ?)",
                        [run_id, task.id, pos, task.reference_hash],
                    )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return run_id

    def get_run(self, run_id: int) -> dict:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise LookupError(f"no run {run_id} in {self.path}")
        run = rows[0]
        run["config"] = json.loads(run.pop("config_json"))
        run["provenance"] = json.loads(run.pop("provenance_json"))
        return run

    def list_runs(self) -> list[dict]:
        """Every run with its progress counts, newest first (one query: the runs screen needs it fast)."""
        return self._rows(
            """SELECT r.id, r.name, r.kind, r.status, r.backend, r.model, r.k, r.prompt_style, r.created_at,
                      r.started_at, r.finished_at, r.heartbeat_at, r.pid, r.host, r.error,
                      (SELECT count(*) FROM run_tasks rt WHERE rt.run_id = r.id) AS n_tasks,
                      (SELECT count(*) FROM samples s WHERE s.run_id = r.id) AS n_samples,
                      (SELECT count(*) FROM evaluations e WHERE e.run_id = r.id AND e.state = 'done') AS n_evaluated,
                      (SELECT count(*) FROM evaluations e WHERE e.run_id = r.id AND e.outcome = 'correct') AS n_correct
               FROM runs r ORDER BY r.id DESC"""
        )

    def set_run_status(self, run_id: int, status: str, error: str | None = None) -> None:
        fields = {"status": status, "heartbeat_at": now()}
        if status == "running":
            fields.update(started_at=now(), pid=os.getpid(), host=os.uname().nodename, error=None)
        if status in ("finished", "failed", "interrupted"):
            fields["finished_at"] = now()
            fields["error"] = error
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._write(f"UPDATE runs SET {sets} WHERE id = ?", [*fields.values(), run_id])

    def record_scorer(self, run_id: int, scorer: str, logprob_mode: str) -> None:
        """Note in the run which model gave its samples their surprisal."""
        with self._lock:
            row = self.db.execute("SELECT provenance_json FROM runs WHERE id = ?", [run_id]).fetchone()
            prov = json.loads(row[0])
            scorers = prov.setdefault("scored_by", [])
            if scorer not in scorers:
                scorers.append(scorer)
            self.db.execute("UPDATE runs SET provenance_json = ?, logprob_mode = coalesce(logprob_mode, ?) WHERE id = ?",
                            [json.dumps(prov, sort_keys=True), logprob_mode, run_id])

    def set_logprob_mode(self, run_id: int, mode: str) -> None:
        self._write("UPDATE runs SET logprob_mode = ? WHERE id = ?", [mode, run_id])

    def heartbeat(self, run_id: int) -> None:
        self._write("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [now(), run_id])

    def delete_run(self, run_id: int) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for table, col in (("evaluations", "run_id"), ("samples", "run_id"), ("run_tasks", "run_id")):
                    if table == "samples":
                        self.db.execute(
                            "DELETE FROM sample_scores WHERE sample_id IN (SELECT id FROM samples WHERE run_id = ?)",
                            [run_id])
                    self.db.execute(f"DELETE FROM {table} WHERE {col} = ?", [run_id])
                self.db.execute("DELETE FROM runs WHERE id = ?", [run_id])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- samples ----------------------------------------------------------
    def sample_count(self, run_id: int, task_id: str) -> int:
        return self._rows("SELECT count(*) AS n FROM samples WHERE run_id = ? AND task_id = ?", [run_id, task_id])[0]["n"]

    def add_sample(self, run_id: int, task_id: str, sample_idx: int, generation: Generation, *,
                   code: str | None, code_kind: str | None, code_start: int | None, code_end: int | None,
                   extraction_error: str | None, logprob_mode: str | None, scorer: str = "generator",
                   note: str | None = None) -> int:
        """Persist one sample (and its generator logprobs) atomically; returns its id.

        A sample that already exists (same run, task and index) is left as it
        is, so a resumed run can never duplicate one.
        """
        surprisal = mean_nll = None
        if generation.logprobs is not None:
            from ..surprisal import surprisal_of

            surprisal, mean_nll = surprisal_of(generation.logprobs)
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute(
                    """INSERT OR IGNORE INTO samples (run_id, task_id, sample_idx, created_at, raw_text, code, code_kind,
                       code_start, code_end, extraction_error, n_tokens, surprisal, mean_nll, finish_reason, latency_s,
                       prompt_tokens, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [run_id, task_id, sample_idx, now(), generation.text, code, code_kind, code_start, code_end,
                     extraction_error, generation.n_tokens if generation.tokens or generation.logprobs else None,
                     surprisal, mean_nll, generation.finish_reason, generation.latency_s, generation.prompt_tokens, note],
                )
                if cur.rowcount == 0:
                    self.db.execute("ROLLBACK")
                    return self._rows(
                        "SELECT id FROM samples WHERE run_id = ? AND task_id = ? AND sample_idx = ?",
                        [run_id, task_id, sample_idx])[0]["id"]
                sample_id = cur.lastrowid
                if generation.logprobs is not None:
                    self._insert_score(sample_id, scorer, logprob_mode or "raw", generation, code_start, code_end)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return sample_id

    def _insert_score(self, sample_id: int, scorer: str, logprob_mode: str, generation: Generation,
                      code_start: int | None, code_end: int | None) -> None:
        from ..surprisal import span_surprisal, surprisal_of

        total, mean = surprisal_of(generation.logprobs)
        code_part = None
        if generation.offsets is not None and code_start is not None and code_end is not None:
            code_part = span_surprisal(generation.logprobs, generation.offsets, code_start, code_end)
        self.db.execute(
            """INSERT INTO sample_scores (sample_id, scorer, logprob_mode, n_tokens, surprisal, mean_nll,
               code_surprisal, tokens_json, logprobs_json, offsets_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(sample_id, scorer) DO UPDATE SET logprob_mode=excluded.logprob_mode,
                 n_tokens=excluded.n_tokens, surprisal=excluded.surprisal, mean_nll=excluded.mean_nll,
                 code_surprisal=excluded.code_surprisal, tokens_json=excluded.tokens_json,
                 logprobs_json=excluded.logprobs_json, offsets_json=excluded.offsets_json, created_at=excluded.created_at""",
            [sample_id, scorer, logprob_mode, len(generation.logprobs), total, mean, code_part,
             json.dumps(generation.tokens), json.dumps([float(x) for x in generation.logprobs]),
             json.dumps(generation.offsets) if generation.offsets is not None else None, now()],
        )

    def add_score(self, sample_id: int, scorer: str, logprob_mode: str, generation: Generation, *,
                  as_primary: bool = False) -> None:
        """Attach logprobs from a scorer (the generating model, a later checkpoint, ...).

        `as_primary` also sets the sample's surprisal/mean_nll (for samples
        imported without logprobs, which get theirs from the scorer).
        """
        from ..surprisal import surprisal_of

        sample = self._rows("SELECT code_start, code_end FROM samples WHERE id = ?", [sample_id])[0]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._insert_score(sample_id, scorer, logprob_mode, generation, sample["code_start"], sample["code_end"])
                if as_primary:
                    total, mean = surprisal_of(generation.logprobs)
                    self.db.execute("UPDATE samples SET surprisal = ?, mean_nll = ?, n_tokens = ? WHERE id = ?",
                                    [total, mean, len(generation.logprobs), sample_id])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def scores(self, sample_id: int) -> list[dict]:
        rows = self._rows("SELECT * FROM sample_scores WHERE sample_id = ? ORDER BY id", [sample_id])
        for r in rows:
            r["tokens"] = json.loads(r.pop("tokens_json"))
            r["logprobs"] = json.loads(r.pop("logprobs_json"))
            offsets = r.pop("offsets_json")
            r["offsets"] = json.loads(offsets) if offsets else None
        return rows

    def get_sample(self, sample_id: int) -> dict:
        rows = self._rows(
            """SELECT s.*, e.state, e.outcome, e.speedup, e.speedup_lo, e.speedup_hi, e.candidate_ms, e.reference_ms,
                      e.max_abs_diff, e.error, e.hardware, e.flags_json, e.result_json
               FROM samples s LEFT JOIN evaluations e ON e.sample_id = s.id WHERE s.id = ?""",
            [sample_id],
        )
        if not rows:
            raise LookupError(f"no sample {sample_id}")
        row = rows[0]
        row["flags"] = json.loads(row.pop("flags_json") or "[]")
        row["result"] = json.loads(row.pop("result_json") or "null")
        return row

    def samples(self, run_id: int, task_id: str | None = None) -> list[dict]:
        sql = "SELECT id, run_id, task_id, sample_idx, code, code_kind, surprisal, mean_nll, n_tokens FROM samples WHERE run_id = ?"
        params: list[Any] = [run_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        return self._rows(sql + " ORDER BY task_id, sample_idx", params)

    def samples_to_evaluate(self, run_id: int) -> list[dict]:
        """Samples with code and no finished evaluation (a 'running' one was cut off: redo it)."""
        return self._rows(
            """SELECT s.id, s.task_id, s.sample_idx, s.code, s.code_kind, s.surprisal FROM samples s
               LEFT JOIN evaluations e ON e.sample_id = s.id
               WHERE s.run_id = ? AND (e.id IS NULL OR e.state != 'done') ORDER BY s.id""",
            [run_id],
        )

    # -- evaluations ------------------------------------------------------
    def reopen_evaluator_failures(self, run_id: int) -> int:
        """Mark pending again the evaluations stored with a verdict that the
        evaluator, not the candidate, caused: older versions stored an
        evaluation cut off by an interruption as `crashed` with "evaluator
        failed: ...". Returns how many were reopened."""
        cur = self._write(
            """UPDATE evaluations SET state = 'pending', outcome = NULL, correct = NULL, speedup = NULL,
                 speedup_lo = NULL, speedup_hi = NULL, error = NULL, result_json = NULL, finished_at = NULL
               WHERE run_id = ? AND state = 'done' AND error LIKE 'evaluator failed:%'""",
            [run_id],
        )
        return cur.rowcount

    def start_evaluation(self, sample_id: int, run_id: int, task_id: str) -> None:
        self._write(
            """INSERT INTO evaluations (sample_id, run_id, task_id, state, started_at) VALUES (?, ?, ?, 'running', ?)
               ON CONFLICT(sample_id) DO UPDATE SET state='running', started_at=excluded.started_at""",
            [sample_id, run_id, task_id, now()],
        )

    def finish_evaluation(self, sample_id: int, run_id: int, task_id: str, result: dict) -> None:
        cand = result.get("candidate_ms") or {}
        ref = result.get("reference_ms") or {}
        ci = result.get("speedup_ci") or [None, None]
        self._write(
            """INSERT INTO evaluations (sample_id, run_id, task_id, state, outcome, correct, speedup, speedup_lo,
                 speedup_hi, candidate_ms, candidate_iqr_ms, reference_ms, max_abs_diff, error, hardware, flags_json,
                 result_json, started_at, finished_at)
               VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(sample_id) DO UPDATE SET state='done', outcome=excluded.outcome, correct=excluded.correct,
                 speedup=excluded.speedup, speedup_lo=excluded.speedup_lo, speedup_hi=excluded.speedup_hi,
                 candidate_ms=excluded.candidate_ms, candidate_iqr_ms=excluded.candidate_iqr_ms,
                 reference_ms=excluded.reference_ms, max_abs_diff=excluded.max_abs_diff, error=excluded.error,
                 hardware=excluded.hardware, flags_json=excluded.flags_json, result_json=excluded.result_json,
                 finished_at=excluded.finished_at""",
            [sample_id, run_id, task_id, result.get("outcome"), int(result.get("outcome") == "correct"),
             result.get("speedup"), ci[0], ci[1], cand.get("median"), cand.get("iqr"), ref.get("median"),
             result.get("max_abs_diff"), result.get("error"), result.get("hardware"),
             json.dumps(result.get("flags") or []), json.dumps(result, default=str), now(), now()],
        )

    def candidates(self, run_id: int, task_id: str | None = None) -> list[Candidate]:
        sql = """SELECT s.id, s.task_id, s.sample_idx, s.code, s.surprisal, s.mean_nll, s.n_tokens, e.outcome,
                        e.speedup, e.speedup_lo, e.speedup_hi, e.candidate_ms, e.reference_ms, e.error, e.flags_json
                 FROM samples s LEFT JOIN evaluations e ON e.sample_id = s.id AND e.state = 'done'
                 WHERE s.run_id = ?"""
        params: list[Any] = [run_id]
        if task_id is not None:
            sql += " AND s.task_id = ?"
            params.append(task_id)
        sql += " ORDER BY s.task_id, s.sample_idx"
        with self._lock:
            rows = self.db.execute(sql, params).fetchall()
        return [
            Candidate(sample_id=r[0], task_id=r[1], sample_idx=r[2], code=r[3], surprisal=r[4], mean_nll=r[5],
                      n_tokens=r[6], outcome=r[7], speedup=r[8], speedup_lo=r[9], speedup_hi=r[10],
                      candidate_ms=r[11], reference_ms=r[12], error=r[13],
                      flags=json.loads(r[14]) if r[14] not in (None, "[]") else [])  # most have none: skip the parse
            for r in rows
        ]

    def task_progress(self, run_id: int) -> list[dict]:
        """Per task: samples, evaluations done, correct, faster than the reference, best speedup."""
        return self._rows(
            """SELECT rt.task_id, t.name, rt.position,
                      count(s.id) AS n_samples,
                      sum(CASE WHEN e.state = 'done' THEN 1 ELSE 0 END) AS n_evaluated,
                      sum(CASE WHEN e.outcome = 'correct' THEN 1 ELSE 0 END) AS n_correct,
                      sum(CASE WHEN e.outcome = 'correct' AND e.speedup > 1 THEN 1 ELSE 0 END) AS n_fast,
                      max(CASE WHEN e.outcome = 'correct' THEN e.speedup END) AS best_speedup
               FROM run_tasks rt JOIN tasks t ON t.id = rt.task_id
               LEFT JOIN samples s ON s.run_id = rt.run_id AND s.task_id = rt.task_id
               LEFT JOIN evaluations e ON e.sample_id = s.id
               WHERE rt.run_id = ? GROUP BY rt.task_id ORDER BY rt.position""",
            [run_id],
        )

    # -- reference timings ------------------------------------------------
    def reference_cache(self) -> "ReferenceCache":
        return ReferenceCache(self)


class ReferenceCache:
    """The evaluator's reference-timing cache, kept in SQLite so it outlives runs."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str) -> dict | None:
        rows = self.store._rows("SELECT value_json FROM reference_timings WHERE key = ?", [key])
        return json.loads(rows[0]["value_json"]) if rows else None

    def put(self, key: str, value: dict) -> None:
        self.store._write(
            """INSERT INTO reference_timings (key, value_json, created_at) VALUES (?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET value_json=excluded.value_json, created_at=excluded.created_at""",
            [key, json.dumps(value, default=str), now()],
        )
