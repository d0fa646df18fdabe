"""Reads for following runs from another process (the terminal app, a report on a run in progress).

A mixin of `Store`: every SQL string a front end needs lives here, so the
app holds none. The reads are incremental where a run grows (samples by id,
evaluations by finish time), so polling a large run costs what is new.
"""
from __future__ import annotations

import json
from typing import Any

SAMPLE_LINE = """SELECT id, task_id, sample_idx, created_at, surprisal, n_tokens, code IS NULL AS no_code
                 FROM samples WHERE run_id = ?"""
EVALUATION_LINE = """SELECT e.id, e.task_id, s.sample_idx, e.finished_at, s.surprisal, e.outcome, e.speedup, e.error,
                            e.flags_json, e.hardware
                     FROM evaluations e JOIN samples s ON s.id = e.sample_id
                     WHERE e.run_id = ? AND e.state = 'done'"""


class FollowQueries:
    """Query methods over runs, samples and evaluations (mixed into `Store`, whose `_rows` they use)."""

    # -- runs -------------------------------------------------------------
    def run_ids(self) -> list[int]:
        return [r["id"] for r in self._rows("SELECT id FROM runs ORDER BY id")]

    def has_run(self, run_id: int) -> bool:
        return bool(self._rows("SELECT 1 AS x FROM runs WHERE id = ?", [run_id]))

    def oracle_fast_task_counts(self) -> dict[int, int]:
        """run id -> tasks with a correct sample faster than the reference (the oracle's fast_1 numerator)."""
        rows = self._rows("""SELECT run_id, count(DISTINCT task_id) AS n FROM evaluations
                             WHERE outcome = 'correct' AND speedup > 1 GROUP BY run_id""")
        return {r["run_id"]: r["n"] for r in rows}

    # -- samples as they arrive -------------------------------------------
    def latest_samples(self, run_id: int, limit: int) -> list[dict]:
        """The run's newest `limit` samples, oldest first, as feed lines."""
        rows = self._rows(SAMPLE_LINE + " ORDER BY id DESC LIMIT ?", [run_id, limit])
        rows.reverse()
        return rows

    def samples_after(self, run_id: int, after_id: int) -> list[dict]:
        return self._rows(SAMPLE_LINE + " AND id > ? ORDER BY id", [run_id, after_id])

    def newest_sample_id(self, run_id: int) -> int:
        return self._rows("SELECT coalesce(max(id), 0) AS m FROM samples WHERE run_id = ?", [run_id])[0]["m"]

    # -- evaluations as they finish ---------------------------------------
    def latest_evaluations(self, run_id: int, limit: int) -> list[dict]:
        """The run's newest `limit` finished evaluations, oldest first, with their sample's index and surprisal."""
        rows = self._rows(EVALUATION_LINE + " ORDER BY e.finished_at DESC, e.id DESC LIMIT ?", [run_id, limit])
        rows.reverse()
        return [_with_flags(r) for r in rows]

    def evaluations_since(self, run_id: int, finished_at: str) -> list[dict]:
        """Finished evaluations with finished_at >= the given time, in finishing order (ties by id)."""
        rows = self._rows(EVALUATION_LINE + " AND e.finished_at >= ? ORDER BY e.finished_at, e.id",
                          [run_id, finished_at])
        return [_with_flags(r) for r in rows]

    def newest_evaluation_time(self, run_id: int) -> str | None:
        return self._rows("SELECT max(finished_at) AS m FROM evaluations WHERE run_id = ? AND state = 'done'",
                          [run_id])[0]["m"]

    def evaluation_ids_finished_at(self, run_id: int, finished_at: str) -> set[int]:
        return {r["id"] for r in self._rows(
            "SELECT id FROM evaluations WHERE run_id = ? AND state = 'done' AND finished_at = ?", [run_id, finished_at])}

    def latest_hardware(self, run_id: int) -> str | None:
        rows = self._rows("""SELECT hardware FROM evaluations WHERE run_id = ? AND hardware IS NOT NULL
                             ORDER BY id DESC LIMIT 1""", [run_id])
        return rows[0]["hardware"] if rows else None

    def activity_between(self, run_id: int, begin: str, end: str) -> dict[str, Any]:
        """Samples (and their tokens) created and evaluations finished in [begin, end] (ISO timestamps)."""
        s = self._rows("""SELECT count(*) AS n, coalesce(sum(n_tokens), 0) AS tokens FROM samples
                          WHERE run_id = ? AND created_at >= ? AND created_at <= ?""", [run_id, begin, end])[0]
        e = self._rows("""SELECT count(*) AS n FROM evaluations WHERE run_id = ? AND state = 'done'
                          AND finished_at >= ? AND finished_at <= ?""", [run_id, begin, end])[0]
        return {"samples": s["n"], "tokens": s["tokens"], "evaluations": e["n"]}


def _with_flags(row: dict) -> dict:
    row["flags"] = json.loads(row.pop("flags_json") or "[]")
    return row
