"""Training runs in the app: the list, the per-step table followed from the store, BoA's mark, a step's samples."""
import pytest

from sgs.core.training import step_table
from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.runs import RunsScreen
from sgs.tui.screens.training import BOA_MARK, TrainingRunScreen, TrainingRunsScreen
from tui_fixtures import add_training_step, screen_text, table_dicts, wait_for

pytestmark = pytest.mark.anyio
async def open_steps(app, pilot, n_rows):
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainingRunsScreen) and app.screen.runs)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainingRunScreen)
                   and app.screen.query_one("#steps-table").row_count == n_rows)


async def test_the_runs_screen_lists_training_runs_and_opens_their_steps(make_app, training_db):
    store, tid = training_db()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and "1 training run: t" in screen_text(app))
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingRunsScreen) and app.screen.runs)
        row = table_dicts(app.screen.query_one("#training-table"))[0]
        assert row["id"] == str(tid) and row["method"] == "ttt" and row["steps"] == "4/4"
        assert row["status"] == "■ finished" and "ttt check" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingRunScreen))


async def test_each_step_shows_its_metrics_and_the_best_of_adaptation_mark(make_app, training_db):
    store, tid = training_db()
    expected = {r.step: r for r in step_table(store, tid)}
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_steps(app, pilot, 4)
        rows = table_dicts(app.screen.query_one("#steps-table"))
        assert [r["step"] for r in rows] == ["0", f"{BOA_MARK} 1", "2", "3"]   # step 1: the earliest of the best
        for row in rows:
            e = expected[int(row["step"].split()[-1])]
            assert row["fast_1"] == f"{e.fast_1:.3f}" and row["reward"] == f"{e.mean_reward:.3f}"
            assert row["correct"] == f"{e.n_correct}/{e.n_samples}" and row["task"] == f"{e.fast_1_task:.2f}"
        assert [r["fast_1"] for r in rows] == ["0.250", "0.625", "0.375", "0.625"]
        assert [r["loss"] for r in rows] == ["-0.1000", "-0.2000", "-0.3000", "-"]   # the last step has no update
        assert [r["rho"] for r in rows] == ["-0.200", "-0.210", "-0.220", "-0.230"]
        assert rows[3]["rho_q1"] == "-0.390" and [r["distinct"] for r in rows] == ["8", "7", "6", "5"]
        text = screen_text(app)
        assert f"{BOA_MARK} best-of-adaptation: step 1 · sample fast_1 0.625" in text
        assert "on the best-of-K curve of step 0 samples" in text


async def test_a_run_in_progress_is_followed_from_the_store(make_app, training_db):
    store, tid = training_db(n_steps=1, status="running")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_steps(app, pilot, 2)   # step 0 evaluated and updated; step 1 begun, nothing sampled yet
        rows = table_dicts(app.screen.query_one("#steps-table"))
        assert rows[0]["step"] == f"{BOA_MARK} 0" and rows[1]["fast_1"] == "-"
        assert "▶ running" in screen_text(app) and "1/4 steps evaluated" in screen_text(app)
        # the training process (here: this test) records step 1: it shows, and becomes the best step
        add_training_step(store, tid, 1)
        await wait_for(pilot, lambda: [r["step"] for r in table_dicts(app.screen.query_one("#steps-table"))][:2]
                       == ["0", f"{BOA_MARK} 1"])
        assert "2/4 steps evaluated" in screen_text(app)
        store.set_training_status(tid, "finished")
        await wait_for(pilot, lambda: "■ finished" in screen_text(app))


async def test_enter_opens_a_steps_samples_in_the_candidates_screen(make_app, training_db):
    store, tid = training_db()
    step_run = store.training_step(tid, 2)["run_id"]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_steps(app, pilot, 4)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CandidatesScreen))
        assert app.screen.run_id == step_run and app.screen.task_id == "builtin/relu"
        await wait_for(pilot, lambda: "code builtin/relu 2 0" in screen_text(app) or
                       app.screen.query_one("#cands-table").row_count == 4)


async def test_at_80_columns_step_fast_1_and_the_mark_are_never_cut(make_app, training_db):
    training_db()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_steps(app, pilot, 4)
        rows = table_dicts(app.screen.query_one("#steps-table"))
        assert {"step", "fast_1", "reward", "loss", "rho"} <= set(rows[0])
        assert rows[1]["step"] == f"{BOA_MARK} 1" and rows[1]["fast_1"] == "0.625"
        assert all(len(line) <= 80 for line in screen_text(app).splitlines())
