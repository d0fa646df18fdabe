"""80 columns: columns ranked by importance, shrunk or dropped predictably with an ellipsis; wide terminals use the room."""
import pytest
from rich.text import Text

from sgs.tui.layout import Col, fit_cell, plan, ranked_parts
from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.sample import SampleScreen
from tui_fixtures import LONG_ERROR, WIDE_NAME, WIDE_TASK, screen_text, table_dicts, wait_for, wide_sample_id

pytestmark = pytest.mark.anyio

COLS = [Col("id", "id"), Col("name", "name", rank=2, min_width=6, grow=True), Col("size", "size", rank=5),
        Col("picks", "picked by"), Col("when", "when", rank=7)]
ROWS = [{"id": "12", "name": "a rather long run name", "size": "100×64", "picks": "oracle top3 surprisal",
         "when": "12:30"}]


def test_the_least_important_column_gives_way_first():
    widths = lambda available: {c.key: w for c, w in plan(COLS, ROWS, available)}  # noqa: E731
    assert widths(200)["name"] > 23                       # wide: the growing column takes the room
    assert set(widths(70)) == {"id", "name", "size", "picks", "when"}
    assert "when" not in widths(60) and "size" in widths(60)   # rank 7 goes before rank 5
    narrow = widths(40)
    assert set(narrow) == {"id", "name", "picks"}        # rank 0 stays whole; the name takes what is left
    assert narrow["picks"] == len("oracle top3 surprisal") + 1 and narrow["name"] == 40 - 3 - 22
    assert widths(32)["name"] == 6 + 1 and set(widths(20)) == {"id", "picks"}   # shrunk to its floor, then gone


def test_a_shrunk_cell_ends_with_an_ellipsis_and_keeps_its_style():
    cell = fit_cell(Text("a rather long run name", style="bold"), 10)
    assert cell.plain == " a rather…" and cell.spans[0].style == "bold"
    assert fit_cell("1.31×", 8, "right").plain == "   1.31×"


def test_title_parts_drop_by_rank():
    parts = [(0, "L1/12 #3"), (0, "correct"), (0, "41.20×!"), (3, "nll/tok 0.712"), (1, "S=612.4"), (2, "run 7")]
    assert ranked_parts(parts, 200) == "L1/12 #3 · correct · 41.20×! · nll/tok 0.712 · S=612.4 · run 7"
    assert ranked_parts(parts, 40) == "L1/12 #3 · correct · 41.20×! · S=612.4"


async def test_at_80_columns_picks_flags_speedups_and_task_ids_are_never_cut(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 4)
        await pilot.press("x")   # flagged set aside: #0 is every strategy's pick (the longest picks cell)
        await pilot.pause(0.2)
        rows = {r["sample"]: r for r in table_dicts(app.screen.query_one("#cands-table"))}
        assert rows["#0"]["picks"] == "oracle top3 surprisal confident" and rows["#2"]["outcome"] == "runtime_error"
        text = screen_text(app)
        assert "oracle top3 surprisal confident" in text and "runtime_error " in text
        await pilot.press("x")
        await pilot.pause(0.2)
        rows = {r["sample"]: r for r in table_dicts(app.screen.query_one("#cands-table"))}
        assert rows["#1"]["speedup"] == "41.20×!"
        # the sample's title keeps its outcome, speedup and review flags; the token count gives way
        app.push_screen(SampleScreen(3, wide_sample_id(wide_db, 1)))
        await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen) and app.screen.sample is not None)
        title = screen_text(app).splitlines()[0]
        assert "L1/12 #1 · correct · 41.20×! · ! speedup_over_10x" in title and "tokens" not in title
        # the live view: the task id whole, its name cut with an ellipsis; the error cut visibly
        app.push_screen(LiveScreen(3))
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress
                       and "runtime_error" in screen_text(app))
        task = table_dicts(app.screen.query_one("#tasks"))[0]
        assert task["task"].startswith(f"{WIDE_TASK} Diag_matmul") and task["task"].endswith("…")
        assert task["best"] == "41.20×!" and task["top3"] == "#1 41.20×!"
        line = next(ln for ln in screen_text(app).splitlines() if "runtime_error" in ln)
        assert LONG_ERROR[:20] in line and line.rstrip().endswith("…")


async def test_wide_terminals_get_wider_tables(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await wait_for(pilot, lambda: app.screen.query_one("#cands-table").row_count == 4)
        await pilot.pause(0.2)
        table = app.screen.query_one("#cands-table")
        keys = [c.key.value for c in table.columns.values()]
        assert {"runtime", "tokens", "nll", "note"} <= set(keys)
        assert sum(c.width for c in table.columns.values()) > 150
        assert LONG_ERROR[:60] in screen_text(app)            # the error column shows the error
        app.push_screen(LiveScreen(3))
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress)
        await pilot.pause(0.2)
        assert table_dicts(app.screen.query_one("#tasks"))[0]["task"] == f"{WIDE_TASK} {WIDE_NAME}"
