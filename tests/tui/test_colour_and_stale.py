"""Readable under NO_COLOR and in 16 colours; views follow runs deleted or created by another client."""
import pytest
import textual.constants
from rich.color import ColorSystem

from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.runs import RunsScreen
from tui_fixtures import WIDE_TASK, contrast, notified, screen_text, visible_cells, wait_for

pytestmark = pytest.mark.anyio


async def test_no_color_keeps_every_outcome_readable_on_every_row(make_app, wide_db, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.pause()
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 4)
        for row in range(4):   # the cursor row too: no grey text on a grey bar
            app.screen.query_one("#cands-table").move_cursor(row=row)
            await pilot.pause(0.1)
            cells = [(t, fg, bg) for t, fg, bg in visible_cells(app)
                     if any(w in t for w in ("runtime_error", "correct", "41.20"))]
            assert cells
            worst = min(contrast(fg, bg) for _, fg, bg in cells)
            assert worst >= 4.5, (row, worst)


async def test_in_16_colours_both_sides_of_a_diff_keep_a_background(make_app, monkeypatch):
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "standard")   # TERM=xterm
    app = make_app(colour_mode=None)   # detected from the terminal
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.console.color_system == "standard"
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 8)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        await pilot.pause(0.1)
        screen_bg = visible_cells(app)[0][2].downgrade(ColorSystem.STANDARD)
        removed = [bg for text, fg, bg in visible_cells(app) if "torch.relu(x)" in text]
        added = [bg for text, fg, bg in visible_cells(app) if "x.clamp_min(0)" in text]
        assert removed and added
        for bg in removed + added:   # what a 16-colour terminal shows: not the screen's own background
            shown = bg.downgrade(ColorSystem.STANDARD)
            assert shown.number not in (0, screen_bg.number), shown


async def test_a_run_deleted_elsewhere_closes_its_screens(make_app, fixture_db):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen) and app.screen.rows)
        Store(fixture_db).delete_run(1)            # another SSH session deletes it
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), timeout=5)
        await wait_for(pilot, lambda: notified(app, "run 1 was deleted (by another client)"))
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 1)


async def test_run_n_attaches_to_a_run_created_after_the_app_opened(make_app, fixture_db):
    app = make_app(open_run=3, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "waiting for it to be created" in screen_text(app))
        store = Store(fixture_db)
        run_id = create_run(store, RunConfig(task_ids=["builtin/relu"], k=2, backend="hf", model="embedded",
                                             eval=EvalOptions(device="cpu")), [get_task("builtin/relu")],
                            logprob_mode="raw")
        assert run_id == 3
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress, timeout=5)
        assert "builtin/relu" in screen_text(app) and "waiting" not in screen_text(app)
