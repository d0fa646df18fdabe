"""The stats screen: strategy table, best-of-K per strategy and NLL vs speedup (plotext), the correlation."""
import pytest
from textual.widgets import DataTable

from sgs.cli.printer import candidates_by_task
from sgs.core.statistics import best_of_k, expert_tail, strategy_table
from sgs.core.store import Store
from sgs.tui.plots import MARKERS
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


async def test_best_of_k_per_strategy_and_correlation(make_app, fixture_db):
    by_task = candidates_by_task(Store(fixture_db), 1)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_stats(app, pilot)
        await wait_for(pilot, lambda: "Spearman" in screen_text(app))
        await wait_for(pilot, lambda: app.screen.plots is not None)
        curves = app.screen.plots["curves"]
        # one curve per strategy with an exact best-of-K, the numbers core.statistics computes, K on powers of two
        assert list(curves) == ["oracle", "surprisal-top3", "surprisal", "random", "most-confident"]
        for name, points in curves.items():
            core = best_of_k(by_task, name, [1, 2, 4, 8])
            assert points == list(zip(core.ks, core.fast_1)), name
        assert curves["oracle"][0][1] == pytest.approx(0.5) and curves["oracle"][-1][1] == pytest.approx(1.0)
        text = screen_text(app)
        # drawn by plotext: title, axis labels and a legend with each strategy's marker
        assert "best-of-K fast_1" in text and "K (log scale)" in text
        for n, name in enumerate(["oracle", "surprisal-top3"]):
            assert f"{MARKERS[n]} {name}" in text
        assert "Spearman(surprisal, speedup) among correct: +0.80 within tasks (mean of 2)" in text
        await pilot.press("m")
        await wait_for(pilot, lambda: "Spearman(NLL/token, speedup)" in screen_text(app))
        assert "ranked by mean_nll" in screen_text(app)


async def test_nll_against_speedup_splits_the_expert_tail(make_app, fixture_db):
    by_task = candidates_by_task(Store(fixture_db), 1)
    tail = {(t, i) for t, cands in by_task.items() for i in expert_tail(cands, "surprisal")}
    timed = [(t, c) for t, cands in by_task.items() for c in cands if c.correct and c.speedup is not None]
    in_tail = sorted((c.mean_nll, c.speedup) for t, c in timed if (t, c.sample_idx) in tail)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_stats(app, pilot)
        await wait_for(pilot, lambda: app.screen.plots is not None)
        groups = app.screen.plots["scatter"]
        assert sorted(groups["Expert Tail"]) == in_tail and in_tail
        assert len(groups["Expert Tail"]) + len(groups["other correct"]) == len(timed)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert f"Expert Tail ({len(in_tail)})" in text and "mean NLL per token (nats)" in text and "1×" in text


async def test_a_budgeted_run_has_no_best_of_k(make_app, fixture_db):
    import json
    import sqlite3

    with sqlite3.connect(fixture_db) as db:   # run 1 as if evaluated under --time-top 3
        config = json.loads(db.execute("SELECT config_json FROM runs WHERE id = 1").fetchone()[0] or "{}")
        config.setdefault("eval", {})["time_top"] = 3
        db.execute("UPDATE runs SET config_json = ? WHERE id = 1", (json.dumps(config),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_stats(app, pilot)
        await wait_for(pilot, lambda: "Spearman" in screen_text(app))
        await wait_for(pilot, lambda: app.screen.plots is not None)
        assert app.screen.plots["curves"] == {}
        await wait_for(pilot, lambda: "best-of-K fast_1: n/a under a surprisal budget" in screen_text(app))
        assert "n/a" in table_rows(app.screen.query_one("#strategies", DataTable))[0]


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
        assert "1 task · 0 samples" in text and "best-of-K fast_1: no samples yet" in text
        assert "Spearman(surprisal, speedup) among correct: - within tasks" in text
