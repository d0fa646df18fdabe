"""Store queries of training runs (batch TTT, SDPO): a mixin of `Store`.

A training run's steps are ordinary runs (one per step, kind 'search', named
"<method> <id> step <s>"), so their samples and evaluations are read with the
run queries; these methods read and write what only training has: the steps,
their checkpoints and metrics, each sample's exact tokens, reward and
advantage, and the over-sharpening probe's scores.
"""
from __future__ import annotations

import json
import os
from typing import Any


def _now() -> str:
    from . import now

    return now()


class TrainingQueries:
    # provided by Store
    _rows: Any
    _write: Any
    _lock: Any
    db: Any

    def _has_training_tables(self) -> bool:
        """False on a version-1 database opened read-only (its tables come with the first write)."""
        return bool(self._rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'training_runs'"))

    def _transaction(self, statements: list[tuple[str, list]]) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self.db.execute(sql, params)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- training runs --------------------------------------------------------------
    def create_training_run(self, *, name: str | None, method: str, backend: str, model: str, k: int, steps: int,
                            config: dict, provenance: dict) -> int:
        cur = self._write(
            """INSERT INTO training_runs (name, method, status, backend, model, k, steps, config_json, provenance_json,
               created_at) VALUES (?, ?, 'created', ?, ?, ?, ?, ?, ?, ?)""",
            [name, method, backend, model, k, steps, json.dumps(config, sort_keys=True),
             json.dumps(provenance, sort_keys=True), _now()])
        return cur.lastrowid

    def get_training_run(self, training_run_id: int) -> dict:
        rows = self._rows("SELECT * FROM training_runs WHERE id = ?", [training_run_id]) \
            if self._has_training_tables() else []
        if not rows:
            raise LookupError(f"no training run {training_run_id} in {getattr(self, 'path', 'the database')}")
        row = rows[0]
        row["config"] = json.loads(row.pop("config_json"))
        row["provenance"] = json.loads(row.pop("provenance_json"))
        summary = row.pop("summary_json")
        row["summary"] = json.loads(summary) if summary else None
        return row

    def list_training_runs(self) -> list[dict]:
        """Every training run, newest first, with its progress: steps sampled, evaluated and updated."""
        if not self._has_training_tables():
            return []
        return self._rows(
            """SELECT r.id, r.name, r.method, r.status, r.backend, r.model, r.k, r.steps, r.created_at, r.started_at,
                      r.finished_at, r.heartbeat_at, r.pid, r.host, r.error,
                      (SELECT count(*) FROM training_steps s WHERE s.training_run_id = r.id) AS n_steps_started,
                      (SELECT count(*) FROM training_steps s WHERE s.training_run_id = r.id
                         AND s.status IN ('evaluated', 'updated')) AS n_steps_evaluated,
                      (SELECT max(step) FROM training_steps s WHERE s.training_run_id = r.id) AS last_step
               FROM training_runs r ORDER BY r.id DESC""")

    def set_training_status(self, training_run_id: int, status: str, error: str | None = None) -> None:
        fields: dict[str, Any] = {"status": status, "heartbeat_at": _now()}
        if status == "running":
            fields.update(started_at=_now(), pid=os.getpid(), host=os.uname().nodename, error=None)
        if status in ("finished", "failed", "interrupted"):
            fields.update(finished_at=_now(), error=error)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._write(f"UPDATE training_runs SET {sets} WHERE id = ?", [*fields.values(), training_run_id])

    def training_heartbeat(self, training_run_id: int) -> None:
        self._write("UPDATE training_runs SET heartbeat_at = ? WHERE id = ?", [_now(), training_run_id])

    def set_training_summary(self, training_run_id: int, summary: dict) -> None:
        self._write("UPDATE training_runs SET summary_json = ? WHERE id = ?",
                    [json.dumps(summary, sort_keys=True, default=str), training_run_id])

    def delete_training_run(self, training_run_id: int) -> None:
        """The training run, its steps' runs and everything recorded of them (checkpoint folders stay)."""
        run_ids = [r["run_id"] for r in self.training_steps(training_run_id) if r["run_id"] is not None]
        for run_id in run_ids:
            self.delete_run(run_id)  # type: ignore[attr-defined]
        self._transaction([(f"DELETE FROM {t} WHERE training_run_id = ?", [training_run_id])
                           for t in ("training_probe_scores", "training_samples", "training_steps")]
                          + [("DELETE FROM training_runs WHERE id = ?", [training_run_id])])

    # -- steps ------------------------------------------------------------------------
    def start_training_step(self, training_run_id: int, step: int, checkpoint: str,
                            metrics: dict | None = None) -> None:
        """The step's row (status 'sampling'); an existing row is left as it is."""
        self._write("""INSERT OR IGNORE INTO training_steps (training_run_id, step, checkpoint, status, metrics_json,
                       started_at) VALUES (?, ?, ?, 'sampling', ?, ?)""",
                    [training_run_id, step, checkpoint, json.dumps(metrics or {}, sort_keys=True), _now()])

    def set_training_step_run(self, training_run_id: int, step: int, run_id: int) -> None:
        self._write("UPDATE training_steps SET run_id = ? WHERE training_run_id = ? AND step = ?",
                    [run_id, training_run_id, step])

    def training_steps(self, training_run_id: int) -> list[dict]:
        """The steps of a training run in order: run id, checkpoint, status, metrics (parsed), reward state."""
        if not self._has_training_tables():
            return []
        rows = self._rows("SELECT * FROM training_steps WHERE training_run_id = ? ORDER BY step", [training_run_id])
        for r in rows:
            r["metrics"] = json.loads(r.pop("metrics_json") or "{}")
            state = r.pop("reward_state_json")
            r["reward_state"] = json.loads(state) if state else None
        return rows

    def training_step(self, training_run_id: int, step: int) -> dict | None:
        return next((r for r in self.training_steps(training_run_id) if r["step"] == step), None)

    def training_step_of_run(self, run_id: int) -> dict | None:
        """{training_run_id, step} when `run_id` holds a training step's samples, else None."""
        if not self._has_training_tables():
            return None
        rows = self._rows("SELECT training_run_id, step FROM training_steps WHERE run_id = ?", [run_id])
        return rows[0] if rows else None

    def merge_step_metrics(self, training_run_id: int, step: int, metrics: dict) -> None:
        with self._lock:
            row = self.db.execute("SELECT metrics_json FROM training_steps WHERE training_run_id = ? AND step = ?",
                                  [training_run_id, step]).fetchone()
            merged = {**json.loads(row[0] or "{}"), **metrics}
            self.db.execute("UPDATE training_steps SET metrics_json = ? WHERE training_run_id = ? AND step = ?",
                            [json.dumps(merged, sort_keys=True, default=str), training_run_id, step])

    def record_step_rewards(self, training_run_id: int, step: int, rows: list[dict], reward_state: dict) -> None:
        """Each sample's outcome, reward and advantage, and the running medians after them: the step is evaluated."""
        statements = [(
            """UPDATE training_samples SET correct = ?, speedup = ?, injected = ?, reward = ?, baseline = ?,
               advantage = ? WHERE sample_id = ?""",
            [int(r["correct"]), r.get("speedup"), int(r.get("injected", False)), r["reward"], r.get("baseline"),
             r.get("advantage"), r["sample_id"]]) for r in rows]
        statements.append((
            """UPDATE training_steps SET status = 'evaluated', reward_state_json = ?, finished_at = ?
               WHERE training_run_id = ? AND step = ?""",
            [json.dumps(reward_state), _now(), training_run_id, step]))
        self._transaction(statements)

    def set_sample_advantages(self, advantages: dict[int, float]) -> None:
        self._transaction([("UPDATE training_samples SET advantage = ? WHERE sample_id = ?", [a, sid])
                           for sid, a in advantages.items()])

    def record_step_update(self, training_run_id: int, step: int, next_checkpoint: str, *,
                           next_metrics: dict | None = None) -> None:
        """The update on this step's samples is done and saved: the next step begins from `next_checkpoint`
        (its row starts with `next_metrics`, e.g. where its full training state is)."""
        self._transaction([
            ("UPDATE training_steps SET status = 'updated' WHERE training_run_id = ? AND step = ?",
             [training_run_id, step]),
            ("""INSERT OR IGNORE INTO training_steps (training_run_id, step, checkpoint, status, metrics_json,
                started_at) VALUES (?, ?, ?, 'sampling', ?, ?)""",
             [training_run_id, step + 1, next_checkpoint, json.dumps(next_metrics or {}, sort_keys=True), _now()]),
        ])

    # -- samples ----------------------------------------------------------------------
    def add_training_sample(self, sample_id: int, training_run_id: int, step: int, token_ids: list[int]) -> None:
        self._write("""INSERT OR IGNORE INTO training_samples (sample_id, training_run_id, step, token_ids_json)
                       VALUES (?, ?, ?, ?)""", [sample_id, training_run_id, step, json.dumps(list(token_ids))])

    def training_samples(self, training_run_id: int, step: int, *, tokens: bool = True) -> list[dict]:
        """A step's samples in task order then index: tokens, outcome, reward, advantage, and the sample's
        code, reply span and evaluation (for SDPO's teacher and the tables). `tokens=False` leaves out the
        token ids (the per-step tables need none, and parsing them is most of the read)."""
        token_ids = "ts.token_ids_json" if tokens else "NULL AS token_ids_json"
        rows = self._rows(
            f"""SELECT ts.sample_id, ts.step, {token_ids}, ts.correct, ts.speedup, ts.injected, ts.reward,
                      ts.baseline, ts.advantage, s.run_id, s.task_id, s.sample_idx, s.code, s.raw_text, s.code_start,
                      s.code_end, s.surprisal, s.mean_nll, s.n_tokens, e.outcome, e.speedup AS evaluated_speedup,
                      e.speedup_lo, e.candidate_ms, e.reference_ms, e.error, rt.position
               FROM training_samples ts JOIN samples s ON s.id = ts.sample_id
               LEFT JOIN evaluations e ON e.sample_id = s.id AND e.state = 'done'
               LEFT JOIN run_tasks rt ON rt.run_id = s.run_id AND rt.task_id = s.task_id
               WHERE ts.training_run_id = ? AND ts.step = ? ORDER BY rt.position, s.task_id, s.sample_idx""",
            [training_run_id, step])
        for r in rows:
            ids = r.pop("token_ids_json")
            if tokens:
                r["token_ids"] = json.loads(ids)
        return rows

    # -- the over-sharpening probe ----------------------------------------------------
    def add_probe_scores(self, training_run_id: int, step: int, rows: list[dict]) -> None:
        self._transaction([(
            """INSERT OR REPLACE INTO training_probe_scores (training_run_id, step, sample_id, n_tokens, surprisal,
               mean_nll) VALUES (?, ?, ?, ?, ?, ?)""",
            [training_run_id, step, r["sample_id"], r["n_tokens"], r["surprisal"], r.get("mean_nll")]) for r in rows])

    def probe_scores(self, training_run_id: int, step: int | None = None) -> list[dict]:
        """Probe scores with the probe sample's speedup (its run's evaluation), by step then sample."""
        sql = """SELECT p.step, p.sample_id, p.n_tokens, p.surprisal, p.mean_nll, s.task_id, s.sample_idx,
                        e.speedup, e.outcome
                 FROM training_probe_scores p JOIN samples s ON s.id = p.sample_id
                 LEFT JOIN evaluations e ON e.sample_id = s.id AND e.state = 'done'
                 WHERE p.training_run_id = ?"""
        params: list[Any] = [training_run_id]
        if step is not None:
            sql += " AND p.step = ?"
            params.append(step)
        return self._rows(sql + " ORDER BY p.step, s.task_id, s.sample_idx", params)


__all__ = ["TrainingQueries"]
