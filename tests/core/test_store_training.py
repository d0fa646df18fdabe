"""Training runs in the store (schema 3): the additive migration and the queries' bookkeeping."""
import sqlite3

import pytest

from sgs.core.store import Store
from sgs.core.store.schema import DDL, PROGRESS_DDL, SCHEMA_VERSION, TRAINING_DDL
from sgs.core.types import Generation, Task

TASK = Task(id="builtin/t", source="builtin", level=None, problem_id=None, name="t", reference_src="class Model: pass\n")


def make_run(store):
    return store.create_run(name="r", kind="search", backend="scripted", model="m", k=1, prompt_style="body",
                            rank_by="surprisal", logprob_mode="raw", config={"task_ids": [TASK.id]},
                            provenance={}, tasks=[TASK])


def add_sample(store, run_id, idx=0):
    return store.add_sample(run_id, TASK.id, idx, Generation(text="x", tokens=["x"], logprobs=[-1.0]), code="x",
                            code_kind="torch", code_start=0, code_end=1, extraction_error=None, logprob_mode="raw")


def version_1_database(path):
    """A database as sgs wrote it before training runs existed, with one run and sample."""
    conn = sqlite3.connect(path)
    for stmt in DDL:
        if stmt not in TRAINING_DDL and stmt not in PROGRESS_DDL:
            conn.execute(stmt)
    conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.commit()
    conn.close()


def test_a_version_1_database_gains_the_training_tables_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.db"
    version_1_database(path)
    conn = sqlite3.connect(path)
    conn.execute("""INSERT INTO runs (id, kind, status, k, config_json, provenance_json, created_at)
                    VALUES (1, 'search', 'finished', 1, '{}', '{}', 'then')""")
    conn.commit()
    conn.close()
    # read-only (a TUI on an old database): the training queries answer empty, nothing is written
    ro = Store(path, readonly=True)
    assert ro.list_training_runs() == [] and ro.training_steps(1) == [] and ro.training_step_of_run(1) is None
    with pytest.raises(LookupError, match="no training run 1"):
        ro.get_training_run(1)
    ro.close()
    store = Store(path)
    versions = [r[0] for r in store.db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [1, SCHEMA_VERSION] and SCHEMA_VERSION == 3
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"run_progress", "training_runs", "training_steps", "training_samples", "training_probe_scores"} <= tables
    assert store.get_run(1)["status"] == "finished"
    tid = store.create_training_run(name=None, method="ttt", backend="hf", model="m", k=1, steps=1, config={},
                                    provenance={})
    assert [r["id"] for r in store.list_training_runs()] == [tid]
    store.close()


def test_deleting_a_step_run_unlinks_it_and_deleting_a_training_run_takes_its_steps(tmp_path):
    store = Store(tmp_path / "t.db")
    tid = store.create_training_run(name="x", method="ttt", backend="hf", model="m", k=1, steps=1, config={},
                                    provenance={})
    run0, run1 = make_run(store), make_run(store)
    for step, run in ((0, run0), (1, run1)):
        store.start_training_step(tid, step, f"/ck/step-{step}")
        store.set_training_step_run(tid, step, run)
        store.add_training_sample(add_sample(store, run), tid, step, [1, 2])
    assert store.training_step_of_run(run1) == {"training_run_id": tid, "step": 1}
    store.delete_run(run0)
    steps = store.training_steps(tid)
    assert steps[0]["run_id"] is None and store.training_samples(tid, 0) == []
    assert len(store.training_samples(tid, 1)) == 1
    other = make_run(store)
    store.delete_training_run(tid)
    assert store.list_training_runs() == [] and store.training_steps(tid) == []
    assert [r["id"] for r in store.list_runs()] == [other]      # its step runs went with it, nothing else
    store.close()


def test_step_updates_and_metrics_merge(tmp_path):
    store = Store(tmp_path / "t.db")
    tid = store.create_training_run(name=None, method="sdpo", backend="hf", model="m", k=1, steps=2, config={"a": 1},
                                    provenance={})
    store.start_training_step(tid, 0, "/ck/step-0", {"resume_from": "/ck/step-0"})
    store.merge_step_metrics(tid, 0, {"sample_s": 1.5})
    store.merge_step_metrics(tid, 0, {"update": {"loss": -2.0}})
    store.record_step_update(tid, 0, "/ck/step-1", next_metrics={"resume_from": "/ck/step-1"})
    steps = store.training_steps(tid)
    assert steps[0]["metrics"] == {"resume_from": "/ck/step-0", "sample_s": 1.5, "update": {"loss": -2.0}}
    assert [(s["step"], s["status"], s["checkpoint"]) for s in steps] == [(0, "updated", "/ck/step-0"),
                                                                        (1, "sampling", "/ck/step-1")]
    assert steps[1]["metrics"] == {"resume_from": "/ck/step-1"}
    store.set_training_summary(tid, {"best_of_adaptation": {"step": 0}})
    assert store.get_training_run(tid)["summary"] == {"best_of_adaptation": {"step": 0}}
    store.close()
