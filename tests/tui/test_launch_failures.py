"""A run that fails to start shows at once, with the end of its log and a key to retry it with edited settings."""
import os

import pytest
from textual.widgets import Input, Select

from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.tui.clock import Clock
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.new_run import NewRunScreen
from sgs.tui.screens.runs import RunsScreen
from tui_fixtures import notified, screen_text, table_dicts, wait_for, write_replies

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_kernelbench_env(monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)


async def test_a_launch_that_fails_shows_its_error_and_log_and_retries_with_edited_settings(tmp_path):
    from sgs.tui.app import SgsApp

    db = tmp_path / "runs.db"
    missing = tmp_path / "no-such-replies.jsonl"
    app = SgsApp(db, clock=Clock(), poll_interval=0.2, colour_mode="full")
    async with app.run_test(size=(80, 24)) as pilot:   # toasts recorded, not drawn over the screen
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen) and app.screen.tasks
                   and app.screen.fields_ready)
        form = app.screen
        await form.fields.reveal_all()
        form.query_one("#backend", Select).value = "scripted"
        form.query_one("#model", Input).value = str(missing)
        form.query_one("#k", Input).value = "2"
        form.chosen = {"builtin/relu"}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=60)
        failed_id = app.screen.run_id
        # not "created 0%" forever: the error and the log's last lines, within a poll of the process dying
        await wait_for(pilot, lambda: "failed to start" in screen_text(app) and "e Retry" in screen_text(app),
                       timeout=60)   # the retry key shows in the footer while the run is failed
        text = screen_text(app)
        assert f"run {failed_id} failed to start: BackendError: scripted backend needs replies or a" in text
        assert "is not a file" in text   # the error in full, wrapped, never cut
        assert "sgs-logs/run-1.log, last lines:" in text
        assert "│ sgs.core.errors.BackendError: scripted backend" in text
        assert notified(app, "scripted backend needs replies")
        # e: the form again, filled with the failed run's settings
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen) and app.screen.tasks
                   and app.screen.fields_ready)
        form = app.screen
        await form.fields.reveal_all()
        assert form.query_one("#model", Input).value == str(missing)
        assert form.query_one("#backend", Select).value == "scripted"
        assert form.query_one("#k", Input).value == "2" and form.chosen == {"builtin/relu"}
        assert f"retrying run {failed_id}" in screen_text(app)
        form.query_one("#model", Input).value = str(write_replies(tmp_path / "replies.jsonl", 2))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run_id != failed_id,
                       timeout=60)
        new_id = app.screen.run_id
        # the failed run, which holds no sample, is replaced by the new one
        await wait_for(pilot, lambda: failed_id not in Store(db).run_ids(), timeout=10)
    run = Store(db).get_run(new_id)
    assert run["config"]["model"] == str(tmp_path / "replies.jsonl") and run["k"] == 2


async def test_a_launch_whose_process_died_reads_as_failed_in_the_runs_list(make_app, fixture_db):
    store = Store(fixture_db)
    config = RunConfig(task_ids=["builtin/relu"], k=2, backend="hf", model="embedded", eval=EvalOptions(device="cpu"))
    run_id = create_run(store, config, [get_task("builtin/relu")], logprob_mode="raw")
    log = fixture_db.parent / "sgs-logs" / f"run-{run_id}.log"
    log.parent.mkdir()
    log.write_text("loading the embedded model\nKilled\n")
    # the process that was starting it is gone (killed while loading the model, out of memory)
    store.set_run_progress(run_id, phase="loading_model", detail="hf/embedded", pid=999999999,
                           host=os.uname().nodename, log_path=str(log))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 3)
        row = table_dicts(app.screen.query_one("#runs-table"))[0]
        assert row["id"] == str(run_id) and row["status"] == "✗ failed to start"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and "failed to start" in screen_text(app))
        text = screen_text(app)
        assert "its process (pid 999999999) exited before the run" in text and "│ Killed" in text
