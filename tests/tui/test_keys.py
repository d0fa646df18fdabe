"""Keys a user can find: ? and F1 list the screen's own keys, Enter shows in footers, vim keys and / in tables,
Esc closes panels, and the palette jumps to any run or task."""
import pytest

from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.help import HelpScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.runs import RunsScreen
from tui_fixtures import screen_text, table_dicts, wait_for

pytestmark = pytest.mark.anyio


async def test_question_mark_lists_the_screens_own_keys_first_and_esc_closes_it(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        lines = [ln for ln in text.splitlines() if "│" in ln]
        first = next(i for i, ln in enumerate(lines) if "This screen" in ln)
        assert "Diff the highlighted task's surprisal-top3 pick" in lines[first + 1]
        assert "Cursor up" not in text and "Focus Next" not in text
        assert "Keys: live run" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))


async def test_enter_shows_in_the_footer_of_every_table_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 2)
        footer = lambda: screen_text(app).splitlines()[-1]  # noqa: E731 - drawn a frame after the table fills
        await wait_for(pilot, lambda: "⏎ Open" in footer())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress)
        assert "⏎ Candidates" in screen_text(app).splitlines()[-1]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen) and app.screen.rows)
        assert "⏎ Open" in screen_text(app).splitlines()[-1]


async def test_vim_keys_move_the_cursor_in_tables(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 8)
        table = app.screen.query_one("#cands-table")
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 7
        await pilot.press("g")
        assert table.cursor_row == 0


async def test_slash_filters_the_rows_and_esc_clears_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 8)
        table = app.screen.query_one("#cands-table")
        await pilot.press("slash", *"error")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert table_dicts(table)[0]["outcome"] == "compile_error"
        await pilot.press("enter")               # keeps the filter, back in the table
        assert app.focused is table and table.row_count == 1
        await pilot.press("escape")              # Esc closes the filter before it goes back
        await wait_for(pilot, lambda: table.row_count == 8)
        assert isinstance(app.screen, CandidatesScreen) and not app.screen.query("FilterBar")
        # the runs list filters the same way
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("slash", *"cut")
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1)


async def test_the_palette_jumps_to_any_run_or_task(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 2)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"task builtin/softmax of run 1")
        await wait_for(pilot, lambda: "Task builtin/softmax of run 1" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        assert (app.screen.run_id, app.screen.task_id) == (1, "builtin/softmax")
        # from deep inside one run, straight to another
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"run 2")
        await wait_for(pilot, lambda: "Run 2 (cut off)" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run_id == 2)
        assert [type(s).__name__ for s in app.screen_stack[1:]] == ["RunsScreen", "LiveScreen"]
