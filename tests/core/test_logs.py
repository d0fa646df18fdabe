"""Logging: one line per record on stderr, a file per run, swallowed errors logged."""
import io
import logging
import subprocess
import sys
import warnings

from sgs.core import events as ev
from sgs.core import logs
from sgs.core.engine import Engine, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task


def test_stderr_gets_one_line_per_record_and_tracebacks_only_when_debugging():
    stream = io.StringIO()
    logs.configure("warning", stream=stream)
    log = logging.getLogger("sgs.core.something")
    try:
        raise ValueError("deep\ninside")
    except ValueError:
        log.warning("it went wrong", exc_info=True)
    log.info("not shown at warning level")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("the database is on NFS")
    assert stream.getvalue().splitlines() == ["sgs: warning: it went wrong",
                                              "sgs: warning: the database is on NFS"]
    stream = io.StringIO()
    logs.configure("debug", stream=stream)
    try:
        raise ValueError("deep")
    except ValueError:
        log.warning("again", exc_info=True)
    assert "Traceback" in stream.getvalue()
    logs.configure("warning")


def test_each_run_logs_to_its_own_file_beside_its_database(tmp_path):
    logs.configure("warning", stream=io.StringIO())
    log = logging.getLogger("sgs.core.engine")
    for run_id in (1, 2):
        with logs.run_log(tmp_path / "a.db", run_id) as path:
            log.info("inside run %s", run_id)
        assert path == tmp_path / "sgs-logs" / f"run-{run_id}.log"
    assert "inside run 1" in (tmp_path / "sgs-logs" / "run-1.log").read_text()
    assert "inside run 1" not in (tmp_path / "sgs-logs" / "run-2.log").read_text()
    log.info("after the run")
    assert "after the run" not in (tmp_path / "sgs-logs" / "run-2.log").read_text()


def test_a_detached_run_writes_each_record_once_into_its_log(tmp_path):
    db = tmp_path / "d.db"
    log_file = logs.run_log_path(db, 7)
    code = ("import logging; from sgs.core import logs; logs.configure('warning')\n"
            f"with logs.run_log({str(db)!r}, 7):\n"
            "    logging.getLogger('sgs.core.engine').info('evaluations resumed')\n")
    with open(log_file, "ab") as out:   # as `sgs run --detach` starts its child
        subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, timeout=60, check=True)
    assert log_file.read_text().count("evaluations resumed") == 1


def test_the_engine_logs_what_a_broken_display_raised(tmp_path, caplog):
    store = Store(tmp_path / "e.db")
    task = get_task("builtin/relu")
    run_id = create_run(store, RunConfig(task_ids=[task.id], k=1, backend="scripted", model="m"), [task],
                        logprob_mode="raw")

    def broken_sink(event):
        raise RuntimeError("the display is gone")

    engine = Engine(store, run_id, sinks=[broken_sink])
    with caplog.at_level(logging.WARNING, logger="sgs"):
        engine.emit(ev.RunFinished(run_id, "finished"))
    record = next(r for r in caplog.records if r.name == "sgs.core.engine")
    assert "event display failed" in record.getMessage() and "the display is gone" in str(record.exc_info[1])
    store.close()
