"""Run progress rows (schema 2) and the query methods readers in other processes use."""
import sqlite3

import pytest

from sgs.core.engine import Engine, EvalOptions, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.store.progress import ProgressRecorder
from sgs.core.store.schema import SCHEMA_VERSION
from sgs.core.tasks import get_task
from sgs.core.types import Generation


def make_run(store, k=2):
    return create_run(store, RunConfig(task_ids=["builtin/relu"], k=k, backend="scripted", model="m",
                                       eval=EvalOptions(device="cpu")), [get_task("builtin/relu")], logprob_mode="raw")


def test_a_version_1_database_gains_the_progress_table(tmp_path):
    path = tmp_path / "old.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE run_progress")
    conn.execute("DELETE FROM schema_version")
    conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.commit()
    conn.close()
    assert Store(path, readonly=True).run_progress(1) is None      # read-only: no table, no error
    store = Store(path)
    assert store.db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION >= 2
    run_id = make_run(store)
    store.set_run_progress(run_id, phase="loading_model", detail="hf/embedded")
    assert store.run_progress(run_id)["detail"] == "hf/embedded"


def test_progress_rows_update_in_place_and_go_with_their_run(tmp_path):
    store = Store(tmp_path / "a.db")
    run_id = make_run(store)
    assert store.run_progress(run_id) is None
    store.set_run_progress(run_id, pid=12)           # a first row without a phase is 'launching'
    assert store.run_progress(run_id)["phase"] == "launching"
    store.set_run_progress(run_id, phase="generating", task_id="builtin/relu", samples_done=1, samples_total=2)
    row = store.run_progress(run_id)
    assert (row["phase"], row["pid"], row["samples_done"]) == ("generating", 12, 1)
    assert set(store.all_run_progress()) == {run_id}
    with pytest.raises(ValueError, match="unknown progress fields: bogus"):
        store.set_run_progress(run_id, bogus=1)
    store.delete_run(run_id)
    assert store.run_progress(run_id) is None


def test_a_resumed_run_keeps_the_time_of_its_earlier_sessions(tmp_path):
    store = Store(tmp_path / "a.db")
    run_id = make_run(store)
    store.db.execute("UPDATE runs SET started_at = '2025-01-01T10:00:00+00:00', "
                     "heartbeat_at = '2025-01-01T10:05:00+00:00', status = 'interrupted' WHERE id = ?", [run_id])
    store.begin_session(run_id)
    assert store.run_progress(run_id)["earlier_s"] == pytest.approx(300)
    store.db.execute("UPDATE runs SET started_at = '2025-01-02T10:00:00+00:00', "
                     "finished_at = '2025-01-02T10:01:00+00:00' WHERE id = ?", [run_id])
    store.begin_session(run_id)
    assert store.run_progress(run_id)["earlier_s"] == pytest.approx(360)


def test_the_engine_writes_its_phases(tmp_path):
    from sgs.core.backends.scripted import ScriptedBackend

    class Spy(ProgressRecorder):
        seen: list = []

        def _write(self, force, **fields):
            Spy.seen.append(fields.get("phase"))
            super()._write(force, **fields)

    store = Store(tmp_path / "a.db")
    run_id = make_run(store, k=2)

    class NoEval:
        def submit(self, request):
            from concurrent.futures import Future

            f = Future()
            f.set_result({"outcome": "incorrect"})
            return f

        def close(self):
            pass

    engine = Engine(store, run_id, backend=ScriptedBackend(replies=["```python\nreturn x\n```"]), evaluator=NoEval())
    engine.progress = Spy(store, run_id)
    assert engine.run_to_end() == "finished"
    phases = [p for p in Spy.seen if p]
    assert phases[0] == "generating" and phases[-1] == "sampled"
    row = store.run_progress(run_id)
    assert row["task_id"] == "builtin/relu" and row["tokens_total"] > 0 and row["pid"]


def test_follow_queries_read_samples_and_evaluations_incrementally(tmp_path):
    store = Store(tmp_path / "a.db")
    run_id = make_run(store, k=3)
    ids = []
    for idx in range(3):
        gen = Generation(text="x", tokens=["a", "b"], logprobs=[-1.0, -1.5], offsets=[0, 1])
        ids.append(store.add_sample(run_id, "builtin/relu", idx, gen, code=None if idx == 2 else "c",
                                    code_kind="torch", code_start=0, code_end=1, extraction_error=None,
                                    logprob_mode="raw"))
    assert [r["sample_idx"] for r in store.latest_samples(run_id, 2)] == [1, 2]
    assert store.latest_samples(run_id, 5)[2]["no_code"] == 1
    assert [r["id"] for r in store.samples_after(run_id, ids[0])] == ids[1:]
    assert store.newest_sample_id(run_id) == ids[-1]
    store.finish_evaluation(ids[0], run_id, "builtin/relu", {"outcome": "correct", "speedup": 2.0,
                                                             "flags": ["not_robust"], "hardware": "hw"})
    ev = store.latest_evaluations(run_id, 10)
    assert ev[0]["flags"] == ["not_robust"] and ev[0]["sample_idx"] == 0
    ts = store.newest_evaluation_time(run_id)
    assert store.evaluation_ids_finished_at(run_id, ts) == {ev[0]["id"]}
    assert [r["id"] for r in store.evaluations_since(run_id, ts)] == [ev[0]["id"]]
    assert store.latest_hardware(run_id) == "hw"
    assert store.oracle_fast_task_counts() == {run_id: 1}
    act = store.activity_between(run_id, "2000-01-01", "2999-01-01")
    assert act == {"samples": 3, "tokens": 6, "evaluations": 1}
    assert store.run_ids() == [run_id] and store.has_run(run_id) and not store.has_run(run_id + 1)
