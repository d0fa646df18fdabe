"""The diff: sides kept in step when long lines wrap (or scroll sideways together); any two samples; quick pairs."""
import pytest
from textual.widgets import Static

from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen, DiffSide
from tui_fixtures import LONG_LINE, WIDE_TASK, screen_text, wait_for

pytestmark = pytest.mark.anyio

SHORT = "import torch\n\ndef f(A, B):\n    x = 1\n    return torch.diag(A) @ B\n\ny = 2\n"
LONG = SHORT.replace("    return torch.diag(A) @ B", LONG_LINE.replace("        ", "    ", 1)) + "z = 3\n"


def diff_lines(app) -> list[str]:
    return str(app.screen.query_one("#diff-text", Static).render()).splitlines()


async def open_diff(app, pilot, left, right):
    await pilot.pause()
    app.push_screen(DiffScreen(left, right))
    await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
    await pilot.pause(0.1)


async def test_a_long_line_wraps_in_step_with_the_other_side(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(app, pilot, DiffSide("short", SHORT), DiffSide("long", LONG))
        lines = diff_lines(app)
        # one separator column for every visual line: the two sides cannot drift apart
        assert {line.index("│") for line in lines} == {lines[0].index("│")}
        split = [line.split("│") for line in lines]
        # the long line is shown whole, wrapped over several visual lines, not cut at the pane's edge
        changed = next(i for i, (_, r) in enumerate(split) if r.startswith("5~"))
        following = [r for _, r in split[changed + 1:]]
        wrapped = following[:next(n for n, r in enumerate(following) if not r.lstrip().startswith("↪"))]
        assert len(wrapped) >= 2
        whole = split[changed][1][3:] + "".join(r.split("↪", 1)[1] for r in wrapped)
        assert whole.replace(" ", "") == LONG_LINE.replace(" ", "")
        assert "…" not in "".join(r for _, r in split)
        # the left side's short line takes one visual line; the rest of its row is blank, not marked
        assert split[changed][0].startswith("5~") and all(not left.strip() for left, _ in split[changed + 1:
                                                                                               changed + 1 + len(wrapped)])
        # the row after the long one starts on one visual line on both sides
        after = changed + 1 + len(wrapped)
        assert split[after][0].split()[:1] == ["6"] and split[after][1].split()[:1] == ["6"]


async def test_unwrapped_lines_scroll_sideways_together(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(app, pilot, DiffSide("a", LONG), DiffSide("b", LONG.replace("no matmul", "NO MATMUL")))
        await pilot.press("z")
        await pilot.pause(0.1)
        before = diff_lines(app)
        assert len(before) == len(app.screen.rows)           # one visual line per row, cut at the edge
        await pilot.press(*["right"] * 12)   # as far as it goes: the longest line's end at the edge
        await pilot.pause(0.1)
        after = diff_lines(app)
        row = next(i for i, r in enumerate(app.screen.rows) if r.tag != "equal")
        left, right = after[row].split("│")
        # both sides moved by the same columns: the end of the long line is in view on each
        assert left.rstrip().endswith("# no matmul") and right.rstrip().endswith("# NO MATMUL")
        assert left.index("matmul") == right.index("MATMUL")
        assert "unwrapped, from column" in screen_text(app)
        await pilot.press(*["left"] * 12)
        await pilot.pause(0.1)
        assert diff_lines(app) == before


async def test_any_two_marked_samples_are_diffed(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 8)
        await pilot.press("d")
        await pilot.pause(0.1)
        assert isinstance(app.screen, CandidatesScreen)       # nothing marked yet: it says how
        await pilot.press("down", "space", "down", "down", "down", "space")   # #3, then #5
        await pilot.pause(0.1)
        assert app.screen.marked == [3, 5]
        assert "marked #3, #5: d diffs them" in screen_text(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "#3 S=530.1 1.12×" in text and "#5 S=250.3 incorrect" in text
        assert "x * (x > 0)" in text and "x.abs()" in text


async def test_quick_pairs_top3_against_oracle_and_confident_against_surprisal(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 4)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "oracle #1 S=" in text and "top3 #1 S=" in text and "41.20×!" in text
        await pilot.press("escape", "m")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "most-confident #" in text and "surprisal #" in text


async def test_copy_sends_the_code_and_says_how_many_bytes(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_diff(app, pilot, DiffSide("a", SHORT), DiffSide("b", LONG))
        await pilot.press("y")
        assert app.clipboard == LONG
        n = len(LONG.encode())
        assert any(f"sent {n} bytes to the terminal clipboard (OSC 52)" in m.message for m in app._notifications)
        await pilot.press("Y")
        assert app.clipboard == SHORT
