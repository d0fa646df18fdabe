"""Exported screenshots read the same in every SVG viewer: no word runs into the next one."""
import re

import pytest

from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen
from sgs.tui.svg import place_words, text_elements
from tui_fixtures import WIDE_TASK, wait_for

pytestmark = pytest.mark.anyio
SPACE = (" ", "\u00a0")


def loose_spaces(svg: str) -> list[str]:
    return [text for _, _, text in text_elements(svg) if text.startswith(SPACE) or text.endswith(SPACE)]


def test_words_are_placed_at_their_own_columns():
    # 15 cells of 12.2: a space, torch.relu(x), a space
    svg = ('<text class="t-r5" x="219.6" y="312.8" textLength="183" clip-path="url(#l12)">'
           '&#160;torch.relu(x)&#160;</text>')
    out = place_words(svg)
    assert text_elements(out) == [("t-r5", pytest.approx(231.8), "torch.relu(x)")]
    assert 'textLength="158.6"' in out
    assert place_words('<text class="a" x="0" y="1" textLength="24.4" clip-path="c">ab</text>').count("<text") == 1


async def test_diff_and_candidates_screenshots_have_no_space_at_a_words_edge(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 8)
        await pilot.press("c")   # most-confident vs the highlighted: changed lines with a background
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        await pilot.pause(0.1)
        svg = app.export_screenshot()
        assert loose_spaces(svg) == []
        words = [t for _, _, t in text_elements(svg)]
        assert "return" in words and "torch.relu(x)" in words or "torch" in words
        await pilot.press("escape", "escape")
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 4)
        await pilot.pause(0.1)
        svg = app.export_screenshot()
        assert loose_spaces(svg) == []
        # the bold surprisal and the next column, the outcome and the speedup: separate words, columns apart
        row = [(x, t) for _, x, t in text_elements(svg) if t in ("runtime_error", "-")]
        assert row and re.search(r"runtime_error", " ".join(t for _, t in row))
