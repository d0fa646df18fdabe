"""Snapshots of the key screens at 80x24 on the fixture database, with the clock frozen.

Each screen's text (what a person reads, without colour) is compared with a
committed file under snapshots/. After a deliberate change, look at the new
screens and regenerate:

    SGS_UPDATE_SNAPSHOTS=1 python -m pytest tests/tui/test_snapshots.py -p no:cacheprovider
"""
import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.new_run import NewRunScreen
from sgs.tui.screens.sample import SampleScreen
from sgs.tui.screens.stats import StatsScreen
from tui_fixtures import screen_text, wait_for

pytestmark = pytest.mark.anyio
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SGS_UPDATE_SNAPSHOTS") == "1"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with SGS_UPDATE_SNAPSHOTS=1 after checking the screen"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        import difflib

        diff = "\n".join(difflib.unified_diff(expected.splitlines(), text.splitlines(), "snapshot", "now",
                                              lineterm=""))
        pytest.fail(f"{name} differs from its snapshot:\n{diff}")


async def settle(pilot):
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


async def test_runs_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await settle(pilot)
        check("runs", screen_text(app))


async def test_live_screen(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run is not None
                       and len(app.screen.query_one("#log").lines) > 10)
        await settle(pilot)
        check("live", screen_text(app))


async def test_candidates_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 8)
        await settle(pilot)
        check("candidates", screen_text(app))


async def test_sample_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(SampleScreen(1, 2))
        await wait_for(pilot, lambda: app.screen.sample is not None)
        await settle(pilot)
        check("sample", screen_text(app))


async def test_diff_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 8)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        await settle(pilot)
        check("diff", screen_text(app))


async def test_stats_screen(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(StatsScreen(1))
        await wait_for(pilot, lambda: app.screen.stats is not None)
        await settle(pilot)
        check("stats", screen_text(app))


async def test_new_run_screen(make_app, monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(NewRunScreen())
        await wait_for(pilot, lambda: app.screen.tasks)
        app.screen.query_one("#filter", Input).value = "soft"
        await wait_for(pilot, lambda: app.screen.shown == ["builtin/softmax"])
        await settle(pilot)
        check("new_run", screen_text(app))


async def test_readable_without_colour(make_app, monkeypatch):
    """NO_COLOR: the tail, picks and review marks are characters, not colours."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 8)
        await settle(pilot)
        svg = app.export_screenshot()
        text = screen_text(app)
        assert "▌  1 #1" in text and "12.50×!" in text and "oracle top3" in text
        # monochrome: no hue in the exported picture, only greys
        import re

        # the window buttons and default text colour that every exported picture carries
        chrome = {"ff5f57", "febc2e", "28c840", "c5c8c6"}
        colours = set(re.findall(r"#([0-9a-f]{6})", svg)) - chrome
        hues = sorted(c for c in colours if not c[0:2] == c[2:4] == c[4:6])
        assert colours and not hues, hues
