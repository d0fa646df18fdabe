import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from sgs.core.errors import DatabaseError
from sgs.core.store import Store, filesystem_type
from sgs.core.store.schema import SCHEMA_VERSION
from sgs.core.types import Generation, Task

TASK = Task(id="builtin/t", source="builtin", level=None, problem_id=None, name="t",
            reference_src="class Model: pass\n")


def make_run(store, k=2):
    return store.create_run(name="r", kind="search", backend="scripted", model="m", k=k, prompt_style="body",
                            rank_by="surprisal", logprob_mode="raw", config={"task_ids": [TASK.id]},
                            provenance={"seed": 1}, tasks=[TASK])


def gen(text="x y", logprobs=(-1.0, -2.0)):
    return Generation(text=text, tokens=text.split(), logprobs=list(logprobs), offsets=[0, 2])


def test_schema_version_and_wal(tmp_path):
    store = Store(tmp_path / "a.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "a.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'x')", [SCHEMA_VERSION + 1])
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this sgs"):
        Store(path)


def test_sample_is_stored_once_with_surprisal_and_logprobs(tmp_path):
    store = Store(tmp_path / "a.db")
    run = make_run(store)
    sid = store.add_sample(run, TASK.id, 0, gen(), code="c", code_kind="torch", code_start=0, code_end=1,
                           extraction_error=None, logprob_mode="raw")
    again = store.add_sample(run, TASK.id, 0, gen("other", [-9.0]), code="d", code_kind="torch", code_start=0,
                             code_end=1, extraction_error=None, logprob_mode="raw")
    assert again == sid
    sample = store.get_sample(sid)
    assert sample["surprisal"] == pytest.approx(3.0) and sample["mean_nll"] == pytest.approx(1.5)
    assert sample["raw_text"] == "x y"
    scores = store.scores(sid)
    assert [s["scorer"] for s in scores] == ["generator"]
    assert scores[0]["logprobs"] == [-1.0, -2.0]
    assert scores[0]["code_surprisal"] == pytest.approx(1.0)   # only the token at offset 0 is in [0, 1)


def test_several_labelled_scorers(tmp_path):
    store = Store(tmp_path / "a.db")
    run = make_run(store)
    sid = store.add_sample(run, TASK.id, 0, Generation(text="x y"), code="c", code_kind="torch", code_start=0,
                           code_end=3, extraction_error=None, logprob_mode=None)
    assert store.get_sample(sid)["surprisal"] is None
    store.add_score(sid, "hf/embedded", "raw", gen(), as_primary=True)
    store.add_score(sid, "hf/checkpoint-2", "raw", gen(logprobs=(-0.5, -0.5)))
    assert store.get_sample(sid)["surprisal"] == pytest.approx(3.0)
    assert {s["scorer"]: s["surprisal"] for s in store.scores(sid)} == {"hf/embedded": 3.0, "hf/checkpoint-2": 1.0}


def test_evaluation_lifecycle_and_candidates(tmp_path):
    store = Store(tmp_path / "a.db")
    run = make_run(store)
    sid = store.add_sample(run, TASK.id, 0, gen(), code="c", code_kind="torch", code_start=0, code_end=1,
                           extraction_error=None, logprob_mode="raw")
    store.start_evaluation(sid, run, TASK.id)
    assert [s["id"] for s in store.samples_to_evaluate(run)] == [sid]   # running counts as unfinished
    store.finish_evaluation(sid, run, TASK.id, {"outcome": "correct", "speedup": 2.0, "speedup_ci": [1.8, 2.2],
                                                 "candidate_ms": {"median": 1.0}, "flags": ["x"]})
    assert store.samples_to_evaluate(run) == []
    (c,) = store.candidates(run, TASK.id)
    assert c.correct and c.speedup == 2.0 and c.speedup_lo == 1.8 and c.flags == ["x"]
    (row,) = store.list_runs()
    assert (row["n_samples"], row["n_evaluated"], row["n_correct"]) == (1, 1, 1)


def test_delete_run_removes_everything(tmp_path):
    store = Store(tmp_path / "a.db")
    run = make_run(store)
    sid = store.add_sample(run, TASK.id, 0, gen(), code="c", code_kind="torch", code_start=0, code_end=1,
                           extraction_error=None, logprob_mode="raw")
    store.finish_evaluation(sid, run, TASK.id, {"outcome": "correct"})
    store.delete_run(run)
    assert store.list_runs() == []
    assert store.db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM sample_scores").fetchone()[0] == 0


def test_reader_in_another_process_sees_writes_while_writer_holds_connection(tmp_path):
    path = tmp_path / "a.db"
    store = Store(path)
    run = make_run(store)
    store.add_sample(run, TASK.id, 0, gen(), code="c", code_kind="torch", code_start=0, code_end=1,
                     extraction_error=None, logprob_mode="raw")
    reader = textwrap.dedent(f"""
        from sgs.core.store import Store
        s = Store({str(path)!r})
        print(s.list_runs()[0]["n_samples"])
    """)
    out = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "1", out.stderr


def test_reference_cache_roundtrip(tmp_path):
    cache = Store(tmp_path / "a.db").reference_cache()
    assert cache.get("k") is None
    cache.put("k", {"median": 1.5})
    assert cache.get("k") == {"median": 1.5}


def test_filesystem_type_reads_mounts(tmp_path):
    # whatever this machine uses, a local temp folder is not a network file system
    assert filesystem_type(tmp_path) not in {"nfs", "nfs4", "cifs"}
