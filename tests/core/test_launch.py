"""Runs started in a detached process of their own: a launch that fails is marked so, with its log."""
import os
import time

import pytest

from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.launch import LaunchError, log_tail, resume_run, start_failure, start_run
from sgs.core.store import Store
from sgs.core.tasks import get_task


def wait_status(db, run_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        with Store(db) as store:
            run = store.get_run(run_id)
        if run["status"] not in ("created", "running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.1)


def test_a_run_whose_model_cannot_load_is_marked_failed_with_its_log(tmp_path):
    db = tmp_path / "a.db"
    config = RunConfig(task_ids=["builtin/relu"], k=2, backend="scripted", model=str(tmp_path / "missing.jsonl"),
                       eval=EvalOptions(device="cpu"))
    launched = start_run(db, config)
    run = wait_status(db, launched.run_id)
    assert run["status"] == "failed" and run["started_at"] is None
    assert run["error"].startswith("BackendError: scripted backend needs replies")
    with Store(db) as store:
        progress = store.run_progress(launched.run_id)
    assert progress["phase"] == "failed_to_start" and progress["log_path"] == str(launched.log_path)
    assert start_failure(run, progress) == run["error"]
    tail = log_tail(launched.log_path)
    assert any("Traceback" in line for line in log_tail(launched.log_path, 100))
    assert tail[-1].startswith(f"run {launched.run_id} failed to start: BackendError")


def make_created(tmp_path):
    db = tmp_path / "b.db"
    store = Store(db)
    run_id = create_run(store, RunConfig(task_ids=["builtin/relu"], k=1, backend="scripted", model="x"),
                        [get_task("builtin/relu")], logprob_mode="raw")
    return db, store, run_id


def test_start_failure_reads_each_way_a_launch_can_die(tmp_path):
    db, store, run_id = make_created(tmp_path)
    run = store.get_run(run_id)
    assert start_failure(run, None) is None                       # created, nobody has tried yet
    store.set_run_progress(run_id, phase="loading_model", pid=os.getpid(), host=os.uname().nodename)
    assert start_failure(store.get_run(run_id), store.run_progress(run_id)) is None   # loading, alive
    store.set_run_progress(run_id, pid=999999999)
    assert "exited before the run started" in start_failure(store.get_run(run_id), store.run_progress(run_id))
    store.set_run_progress(run_id, phase="failed_to_start", detail="OSError: no such model")
    assert start_failure(store.get_run(run_id), store.run_progress(run_id)) == "OSError: no such model"
    store.set_run_status(run_id, "running")
    store.set_run_status(run_id, "failed", "RuntimeError: evaluator died")
    assert start_failure(store.get_run(run_id), store.run_progress(run_id)) is None   # failed mid-run


def test_resume_refuses_running_and_finished_runs(tmp_path):
    db, store, run_id = make_created(tmp_path)
    store.set_run_status(run_id, "running")
    with pytest.raises(LaunchError, match="still running"):
        resume_run(db, run_id)
    store.set_run_status(run_id, "finished")
    with pytest.raises(LaunchError, match="finished"):
        resume_run(db, run_id)
    with pytest.raises(LaunchError, match="no run 99"):
        resume_run(db, 99)
    with pytest.raises(LaunchError, match="no tasks"):
        start_run(db, RunConfig(task_ids=[]))


def test_log_tail_of_a_missing_log_is_empty(tmp_path):
    assert log_tail(tmp_path / "none.log") == [] and log_tail(None) == []
    log = tmp_path / "x.log"
    log.write_text("a\n\nb\n" + "".join(f"line {i}\n" for i in range(30)))
    assert log_tail(log, 3) == ["line 27", "line 28", "line 29"]
