"""The runs screen: every run with status and progress; open, stats, delete with confirmation."""
import os

import pytest

from sgs.core.store import Store
from sgs.tui.screens.confirm import Confirm
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.runs import RunsScreen
from sgs.tui.screens.stats import StatsScreen
from textual.widgets import DataTable
from tui_fixtures import notified, screen_text, table_dicts, table_rows, wait_for

pytestmark = pytest.mark.anyio


def runs_table(app):
    return app.screen.query_one("#runs-table", DataTable)


async def test_lists_every_run_with_status_progress_and_fast_1(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_table(app).row_count == 2)
        rows = table_dicts(runs_table(app))
        assert (rows[0]["id"], rows[0]["name"]) == ("2", "cut off") and "interrupted" in rows[0]["status"]
        assert rows[0]["progress"] == "50%"
        assert (rows[1]["id"], rows[1]["name"]) == ("1", "fixture search") and "finished" in rows[1]["status"]
        assert rows[1]["progress"] == "75%" and rows[1]["fast"] == "1.00" and rows[1]["elapsed"] == "9m30s"
        text = screen_text(app)
        assert "n New run" in text and "q Quit" in text  # bindings in the footer
        # the fast_1 shown is the oracle's, and says so; nothing runs past 80 columns
        assert "oracle fast_1" in text.splitlines()[1] and "elapsed" in text.splitlines()[1]


async def test_enter_opens_the_run_and_s_its_stats(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_table(app).row_count == 2)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        assert app.screen.run_id == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen))
        assert app.screen.run_id == 1


async def test_delete_asks_first_and_removes_the_run(make_app, fixture_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_table(app).row_count == 2)
        await pilot.press("down", "D")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        assert "Delete run 1 (fixture search)?" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert [r["id"] for r in Store(fixture_db).list_runs()] == [2, 1]
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: runs_table(app).row_count == 1)
        assert [r["id"] for r in Store(fixture_db).list_runs()] == [2]
        assert table_dicts(runs_table(app))[0]["id"] == "2"


async def test_a_running_run_is_neither_deleted_nor_resumed(make_app, fixture_db):
    store = Store(fixture_db)
    # run 2 becomes live: this process's pid and a fresh heartbeat
    store.db.execute("UPDATE runs SET status = 'running', pid = ?, host = ?, heartbeat_at = ? WHERE id = 2",
                     [os.getpid(), os.uname().nodename, "2025-03-02T12:41:09.000+00:00"])
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: runs_table(app).row_count == 2)
        assert "running" in table_dicts(runs_table(app))[0]["status"]
        await pilot.press("D")
        await wait_for(pilot, lambda: notified(app, "cannot be deleted while it runs"))
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("r")
        await wait_for(pilot, lambda: notified(app, "only an interrupted run can be resumed"))
        assert app.launched == []
    assert [r["id"] for r in store.list_runs()] == [2, 1]


async def test_an_empty_database_says_how_to_start(tmp_path, make_app):
    app = make_app(tmp_path / "empty.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "No runs yet" in screen_text(app))


async def test_command_palette_offers_the_screens_commands(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: runs_table(app).row_count == 2)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"stats of")
        await wait_for(pilot, lambda: "Stats of run 2" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen))
        assert app.screen.run_id == 2
