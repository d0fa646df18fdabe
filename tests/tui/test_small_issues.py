"""Smaller things a user notices: labels that say what a number is, plurals, elapsed time across a resume."""
import pytest

from sgs.core.store import Store
from sgs.tui.screens.diff import DiffScreen, DiffSide
from sgs.tui.screens.live import LiveScreen
from tui_fixtures import screen_text, table_dicts, wait_for

pytestmark = pytest.mark.anyio


async def test_one_run_one_changed_block_one_line(make_app, fixture_db):
    Store(fixture_db).delete_run(2)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1)
        await wait_for(pilot, lambda: "1 run in fixture.db" in screen_text(app))
        assert "1 runs" not in screen_text(app)
        app.push_screen(DiffScreen(DiffSide("a", "x = 1\ny = 2\n"), DiffSide("b", "x = 1\ny = 3\n")))
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        title = screen_text(app).splitlines()[0]
        assert "1 changed block · 1 line differs" in title


async def test_elapsed_time_counts_the_sessions_before_a_resume(make_app, fixture_db):
    store = Store(fixture_db)
    # run 1 ran 9m30s in its latest session; before a resume it had run 5 minutes
    store.set_run_progress(1, earlier_s=300.0)
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run is not None)
        await wait_for(pilot, lambda: "finished in 14m30s" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 2)
        rows = {r["id"]: r for r in table_dicts(app.screen.query_one("#runs-table"))}
        assert rows["1"]["elapsed"] == "14m30s"
