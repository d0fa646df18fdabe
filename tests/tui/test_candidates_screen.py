"""Candidates of one task: ranking, sorting, filters, tail, picks, review flags; the sample and diff screens."""
import pytest
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent

from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.diff import DiffScreen, DiffSide
from sgs.tui.screens.sample import SampleScreen
from tui_fixtures import screen_text, table_dicts, table_rows, wait_for

pytestmark = pytest.mark.anyio


def cands_table(app):
    return app.screen.query_one("#cands-table", DataTable)


async def open_candidates(app, pilot, task="builtin/relu"):
    await pilot.pause()
    app.push_screen(CandidatesScreen(1, task))
    await wait_for(pilot, lambda: cands_table(app).row_count > 0)


def column(app, key):
    return [row[key] for row in table_dicts(cands_table(app))]


async def test_ranked_by_surprisal_with_tail_picks_and_flags(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        rows = table_dicts(cands_table(app))
        assert [r["sample"] for r in rows] == ["#1", "#3", "#4", "#6", "#5", "#2", "#7", "#0"]
        # Expert Tail: 6 correct -> top 2 by surprisal, marked in the rank column
        assert [r["rank"].startswith("▌") for r in rows] == [True, True] + [False] * 6
        assert rows[0]["picks"] == "surprisal" and rows[2]["picks"] == "oracle top3"
        assert rows[7]["picks"] == "confident"
        # speedups held for review carry a "!": #4 is 12.5x, #0 is reference-equivalent
        assert rows[2]["speedup"] == "12.50×!" and rows[7]["speedup"] == "1.02×!" and rows[0]["speedup"] == "1.31×"
        text = screen_text(app)
        assert "Expert Tail: top 2 of 6 correct" in text
        assert "3 of 4 picks held for review" in text


async def test_sort_keys_and_correct_only(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        await pilot.press("o")  # mean NLL
        assert column(app, "sample")[0] == "#1"
        await pilot.press("o")  # speedup
        assert column(app, "sample")[:3] == ["#4", "#1", "#3"]
        assert "sort: speedup ▼" in screen_text(app)
        await pilot.press("v")
        assert "sort: speedup ▲" in screen_text(app)
        assert column(app, "sample")[0] == "#2"
        await pilot.press("o")  # index
        assert column(app, "sample") == [f"#{i}" for i in range(8)]
        await pilot.press("f")
        assert column(app, "sample") == ["#0", "#1", "#2", "#3", "#4", "#7"]
        assert set(column(app, "outcome")) == {"correct"}
        await pilot.press("f")
        assert len(column(app, "sample")) == 8


async def test_hiding_flagged_speedups_repicks_among_the_rest(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        await pilot.press("x")
        rows = table_dicts(cands_table(app))
        assert "#4" not in [r["sample"] for r in rows] and "#0" not in [r["sample"] for r in rows]
        picks = {r["sample"]: r["picks"] for r in rows}
        assert picks["#1"] == "oracle top3 surprisal"
        assert picks["#7"] == "confident"
        assert "flagged hidden" in screen_text(app)


async def test_enter_opens_the_sample_with_source_reply_and_evaluation(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        await pilot.press("down", "down", "down", "enter")  # #6: the compile error
        await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen) and app.screen.sample is not None)
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "builtin/relu #6" in text and "relu_cuda(x)" in text
        await pilot.press("2")
        await pilot.pause(0.1)
        assert app.screen.query_one(TabbedContent).active == "reply"
        assert "Here is the kernel:" in screen_text(app)
        await pilot.press("3")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "compile_error" in text and 'identifier "blockDim" is undefined' in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))


async def test_diff_against_the_reference_and_the_most_confident_pick(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "reference builtin/relu" in text and "#1 S=612.4 1.31×" in text
        assert "class Model(nn.Module)" in text and "class ModelNew(nn.Module)" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        text = screen_text(app)
        assert "most-confident #0" in text and "#1 S=612.4" in text
        assert "torch.relu(x)" in text and "x.clamp_min(0)" in text


async def test_next_and_previous_task(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_candidates(app, pilot)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: cands_table(app).row_count == 4)
        assert app.screen.task_id == "builtin/softmax"
        assert screen_text(app).startswith(" builtin/softmax · 3/4 correct")


LEFT = "import torch\n\ndef f(x):\n    return torch.relu(x)\n\nA = 1\nB = 2\nC = 3\nD = 4\nE = 5\nF = 6\nG = 7\nH = 8\nI = 9\nJ = 10\nK = 11\nL = 12\nM = 13\nN = 14\nO = 15\nP = 16\nQ = 17\nR = 18\nS = 19\nT = 20\nend = 'left'\n"
RIGHT = LEFT.replace("torch.relu(x)", "x.clamp_min(0)").replace("end = 'left'", "end = 'right'\nextra = 1")


async def test_diff_rows_stay_aligned_and_scroll_together(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(DiffScreen(DiffSide("left side", LEFT), DiffSide("right side", RIGHT)))
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.rows)
        screen = app.screen
        lines = str(screen.query_one("#diff-text", Static).render()).splitlines()
        assert len(lines) == len(screen.rows)   # no line wraps here: one visual line per row
        row = next(i for i, r in enumerate(screen.rows) if r.tag != "equal")
        left, right = lines[row].split("│")
        assert "torch.relu(x)" in left and "x.clamp_min(0)" in right
        assert left.split()[0] == "4~" and right.split()[0] == "4~"
        last_left, last_right = lines[-1].split("│")
        assert last_right.split()[0] == "27+" and last_left.strip() == ""
        body = screen.query_one("#diff-body", VerticalScroll)
        await pilot.press("n", "n")
        await pilot.pause(0.1)
        assert body.scroll_y > 0  # one scroll container: both sides moved
        await pilot.press("s")
        assert screen.left.title == "right side"
        await pilot.press("u")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "-    return x.clamp_min(0)" in text and "+    return torch.relu(x)" in text
