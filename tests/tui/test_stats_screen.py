"""The stats screen: strategy table, best-of-K curve in characters, surprisal/speedup correlation."""
import pytest
from textual.widgets import DataTable

from sgs.cli.printer import candidates_by_task
from sgs.core.statistics import strategy_table
from sgs.core.store import Store
from sgs.tui.screens.stats import StatsScreen
from tui_fixtures import screen_text, table_rows, wait_for

pytestmark = pytest.mark.anyio


async def open_stats(app, pilot, run_id=1):
    await pilot.pause()
    app.push_screen(StatsScreen(run_id))
    await wait_for(pilot, lambda: app.screen.query_one("#strategies", DataTable).row_count == 5)


async def test_strategy_table_matches_the_statistics(make_app, fixture_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_stats(app, pilot)
        rows = table_rows(app.screen.query_one("#strategies", DataTable))
        expected = strategy_table(candidates_by_task(Store(fixture_db), 1), "surprisal")
        assert [r[0] for r in rows] == [e.strategy for e in expected]
        for row, e in zip(rows, expected):
            assert row[1] == f"{e.fast_1:.2f}" and row[2] == f"{e.fast_1_noise_aware:.2f}"
            assert row[3] == f"{e.mean_speedup:.2f}×" and row[5] == f"{e.n_picks}/{e.n_tasks}"
        assert rows[0][1:3] == ["1.00", "1.00"] and rows[0][6] == "1" and rows[0][7] == "0.50"
        assert rows[3][6] == "0.67"  # random: the expected number of flagged picks


async def test_best_of_k_curve_and_correlation(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_stats(app, pilot)
        await wait_for(pilot, lambda: "Spearman" in screen_text(app))
        text = screen_text(app)
        assert "best-of-K fast_1 ▄▆██████  K=1…8  0.50 → 1.00 (95% of it by K=3)" in text
        assert "1.00 ┤" in text and "0.00 └────────" in text
        assert "Spearman(surprisal, speedup) among correct: +0.80 within tasks (mean of 2)" in text
        await pilot.press("m")
        await wait_for(pilot, lambda: "Spearman(NLL/token, speedup)" in screen_text(app))
        assert "ranked by mean_nll" in screen_text(app)


async def test_a_run_without_samples(make_app, fixture_db):
    from sgs.core.types import Task
    from tui_fixtures import REF_RELU

    store = Store(fixture_db)
    run_id = store.create_run(name="empty", kind="search", backend="scripted", model="m", k=4, prompt_style="body",
                              rank_by="surprisal", logprob_mode="raw", config={}, provenance={},
                              tasks=[Task("builtin/relu", "builtin", None, None, "relu", REF_RELU)])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_stats(app, pilot, run_id)
        await wait_for(pilot, lambda: "Spearman" in screen_text(app))
        text = screen_text(app)
        assert "0 samples" in text and "best-of-K fast_1 ____" in text
        assert "Spearman(surprisal, speedup) among correct: - within tasks" in text
