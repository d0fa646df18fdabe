"""The live run screen: progress per task and for the run, the sample stream, and attaching to a run
that another process is writing."""
import os
import subprocess
import sys
import textwrap
import time

import pytest
from textual.widgets import DataTable, RichLog

from sgs.core.store import Store, now
from sgs.core.types import Task
from sgs.tui.clock import Clock
from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.stats import StatsScreen
from tui_fixtures import REF_RELU, screen_text, table_dicts, wait_for

pytestmark = pytest.mark.anyio


def tasks_table(app):
    return app.screen.query_one("#tasks", DataTable)


def log_text(app) -> str:
    return "\n".join(str(line.text) for line in app.screen.query_one("#log", RichLog).lines)


async def test_a_finished_run_shows_progress_stream_and_throughput(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and tasks_table(app).row_count == 2)
        rows = table_dicts(tasks_table(app))
        assert rows[0]["task"] == "builtin/relu" and rows[0]["sampled"].startswith("8/8")
        assert [rows[0][k] for k in ("correct", "fast", "best")] == ["6", "4", "12.50×!"]
        assert rows[1]["task"] == "builtin/softmax" and rows[1]["sampled"].startswith("4/8")
        assert rows[1]["evaluated"].startswith("4/8")
        text = screen_text(app)
        assert "12/16 sampled · 12 evaluated · 9 correct" in text
        assert "samples/min" in text and "CPU x86_64" in text
        assert "■ finished" in text
        await wait_for(pilot, lambda: "nan in output" in log_text(app))
        assert "12:33:35 builtin/softmax  #2   S=  188.0 incorrect" in log_text(app)


async def test_keys_lead_to_candidates_diff_and_stats(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and tasks_table(app).row_count == 2)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        assert app.screen.task_id == "builtin/softmax"
        await pilot.press("escape")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "most-confident #0" in text and "surprisal #1" in text
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen))


WRITER = textwrap.dedent("""
    import sys, time
    from sgs.core.store import Store
    from sgs.core.types import Generation
    store = Store(sys.argv[1])
    run_id = int(sys.argv[2])
    for idx in range(4):
        gen = Generation(text="x", tokens=["a", "b", "c"], logprobs=[-1.0, -2.0, -3.5], offsets=[0, 1, 2])
        sid = store.add_sample(run_id, "builtin/relu", idx, gen, code=f"code {idx}", code_kind="torch",
                               code_start=0, code_end=1, extraction_error=None, logprob_mode="raw")
        time.sleep(0.2)
        outcome = "correct" if idx % 2 == 0 else "runtime_error"
        store.finish_evaluation(sid, run_id, "builtin/relu", {
            "outcome": outcome, "speedup": 1.5 + idx if outcome == "correct" else None,
            "error": None if outcome == "correct" else "RuntimeError: shape mismatch", "flags": [],
            "hardware": "writer-hw"})
        store.heartbeat(run_id)
        time.sleep(0.2)
    store.set_run_status(run_id, "finished")
""")


async def test_attaches_to_a_run_another_process_writes(tmp_path):
    from sgs.tui.app import SgsApp

    db = tmp_path / "shared.db"
    store = Store(db)
    task = Task("builtin/relu", "builtin", None, None, "relu", REF_RELU)
    run_id = store.create_run(name="elsewhere", kind="search", backend="scripted", model="r.jsonl", k=4,
                              prompt_style="body", rank_by="surprisal", logprob_mode="raw", config={}, provenance={},
                              tasks=[task])
    store.set_run_status(run_id, "running")  # as the writing process would, before its first sample
    app = SgsApp(db, clock=Clock(), open_run=run_id, poll_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and tasks_table(app).row_count == 1)
        assert table_dicts(tasks_table(app))[0]["sampled"].startswith("0/4")
        assert "▶ running" in screen_text(app)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(run_id)],
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        seen_partial = False
        while proc.poll() is None:
            await pilot.pause(0.05)
            row = table_dicts(tasks_table(app))[0]
            seen_partial |= row["sampled"].split()[0] in ("1/4", "2/4", "3/4")
        assert proc.returncode == 0
        done_at = time.monotonic()
        # everything the writer committed shows within a second
        await wait_for(pilot, lambda: table_dicts(tasks_table(app))[0]["evaluated"].startswith("4/4")
                       and "■ finished" in screen_text(app), timeout=5)
        lag = time.monotonic() - done_at
        assert lag < 1.0, f"the screen was {lag:.2f}s behind the database"
        assert seen_partial, "the table never showed the run part-way"
        row = table_dicts(tasks_table(app))[0]
        assert [row[k] for k in ("correct", "fast", "best")] == ["2", "2", "3.50×"]
        log = log_text(app)
        assert log.count("sampled") == 4 and log.count("correct") == 2
        # at 80 columns the error is cut visibly, with an ellipsis
        assert "runtime_error" in log and "RuntimeError: shape mi…" in log
        assert "writer-hw" in screen_text(app)


async def test_pause_freezes_the_log_and_catches_up(make_app, fixture_db):
    app = make_app(open_run=1, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and "nan in output" in log_text(app))
        before = len(app.screen.query_one("#log", RichLog).lines)
        await pilot.press("p")
        store = Store(fixture_db)
        from sgs.core.types import Generation

        gen = Generation(text="x", tokens=["a"], logprobs=[-1.0], offsets=[0])
        store.add_sample(1, "builtin/softmax", 4, gen, code="c", code_kind="torch", code_start=0, code_end=1,
                         extraction_error=None, logprob_mode="raw")
        await wait_for(pilot, lambda: table_dicts(tasks_table(app))[1]["sampled"].startswith("5/8"))
        assert len(app.screen.query_one("#log", RichLog).lines) == before
        await pilot.press("p")
        await wait_for(pilot, lambda: len(app.screen.query_one("#log", RichLog).lines) == before + 1)
