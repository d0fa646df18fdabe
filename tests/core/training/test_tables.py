"""Per-step rows, best-of-adaptation from a database with known per-step results, equivalent K."""
import pytest

from sgs.core.engine import RunConfig, create_run
from sgs.core.store import Candidate, Store
from sgs.core.tasks import get_task
from sgs.core.training import TrainingConfig, create_training, step_table, training_summary
from sgs.core.training.tables import best_of_adaptation, comparison_rows, comparison_table
from sgs.core.types import Generation

TASKS = ["builtin/relu", "builtin/relu6"]


def add_step_samples(store, training_id, step, outcomes, k):
    """outcomes[task] = [(correct, speedup), ...] (k of them): a run of the step's samples with training rows."""
    tasks = [get_task(t) for t in TASKS]
    run_id = create_run(store, RunConfig(task_ids=TASKS, k=k, backend="scripted", model="m"), tasks, logprob_mode="raw")
    store.start_training_step(training_id, step, f"/ckpt/step-{step}")
    store.set_training_step_run(training_id, step, run_id)
    rows = []
    for task in TASKS:
        for idx, (correct, speedup) in enumerate(outcomes[task]):
            code = f"code {task} {step} {idx}"
            sid = store.add_sample(run_id, task, idx, Generation(text=code, tokens=[code], logprobs=[-1.0]), code=code,
                                   code_kind="torch", code_start=0, code_end=len(code), extraction_error=None,
                                   logprob_mode="raw")
            store.finish_evaluation(sid, run_id, task, {"outcome": "correct" if correct else "incorrect",
                                                         "speedup": speedup,
                                                         "speedup_ci": [speedup and speedup * 0.9, None]})
            store.add_training_sample(sid, training_id, step, [1])
            rows.append({"sample_id": sid, "correct": correct, "speedup": speedup, "reward": float(correct),
                         "advantage": 0.0})
    store.record_step_rewards(training_id, step, rows, {"window": 32, "correct_bonus": 0.0, "history": {}})
    return run_id


F, S, X = (True, 2.0), (True, 0.5), (False, None)    # fast, slow, wrong


@pytest.fixture
def db(tmp_path):
    store = Store(tmp_path / "t.db")
    config = TrainingConfig(task_ids=TASKS, k=4, steps=3, backend="hf", model="m")
    tid = create_training(store, config, [get_task(t) for t in TASKS])
    # sample-level fast_1 per step: 2/8, 5/8, 3/8, 5/8 -> BoA is step 1 (the earliest of the best)
    plan = [
        {"builtin/relu": [F, S, X, X], "builtin/relu6": [F, X, X, X]},
        {"builtin/relu": [F, F, F, S], "builtin/relu6": [F, F, X, X]},
        {"builtin/relu": [F, F, X, X], "builtin/relu6": [F, S, S, S]},
        {"builtin/relu": [F, F, F, F], "builtin/relu6": [F, X, X, X]},
    ]
    for step, outcomes in enumerate(plan):
        add_step_samples(store, tid, step, outcomes, 4)
        if step < 3:
            store.merge_step_metrics(tid, step, {"update": {"loss": -0.1 * (step + 1), "seconds": 1.0}})
            store.record_step_update(tid, step, f"/ckpt/step-{step + 1}")
    yield store, tid
    store.close()


def test_step_rows_count_sample_and_task_level_fast_1(db):
    store, tid = db
    rows = step_table(store, tid)
    assert [r.step for r in rows] == [0, 1, 2, 3]
    assert [r.fast_1 for r in rows] == [2 / 8, 5 / 8, 3 / 8, 5 / 8]
    assert [r.fast_1_task for r in rows] == [1.0, 1.0, 1.0, 1.0]
    assert rows[0].n_correct == 3 and rows[0].n_samples == 8
    assert rows[1].fast_1_noise_aware == pytest.approx(5 / 8)       # 2.0 * 0.9 > 1
    assert [r.loss for r in rows] == [-0.1, -0.2, pytest.approx(-0.3), None]
    assert [r.status for r in rows] == ["updated", "updated", "updated", "evaluated"]


def test_best_of_adaptation_picks_the_earliest_best_step(db):
    store, tid = db
    best = training_summary(store, tid)
    assert best["step"] == 1 and best["fast_1"] == pytest.approx(5 / 8)
    assert best["checkpoint"] == "/ckpt/step-1"
    # against step 0's own best-of-K curve (K=4): at k=1 0.25, k=2 0.5+, ... it reaches 5/8 between k=2 and k=3
    assert best["baseline"] == "step 0 samples" and 2 < best["equivalent_k"] < 3


def test_best_of_adaptation_of_nothing_is_none():
    assert best_of_adaptation([]) is None


def test_comparison_at_matched_budgets(db, tmp_path):
    store, tid = db
    # a best-of-8 run in which every task has exactly one fast sample
    tasks = [get_task(t) for t in TASKS]
    bon = create_run(store, RunConfig(task_ids=TASKS, k=8, backend="scripted", model="m"), tasks, logprob_mode="raw")
    for task in TASKS:
        for idx in range(8):
            sid = store.add_sample(bon, task, idx, Generation(text="c", tokens=["c"], logprobs=[-1.0]), code=f"c{idx}",
                                   code_kind="torch", code_start=0, code_end=1, extraction_error=None,
                                   logprob_mode="raw")
            store.finish_evaluation(sid, bon, task, {"outcome": "correct", "speedup": 2.0 if idx == 0 else 0.5})
    rows = comparison_table(store, [tid], bon)
    bon_rows = {r.samples_per_task: r.fast_1 for r in rows if r.method == "best-of-N"}
    assert bon_rows[1] == pytest.approx(1 / 8) and bon_rows[8] == pytest.approx(1.0)
    assert bon_rows[4] == pytest.approx(0.5)
    ttt = [r for r in rows if r.method == "ttt"]
    assert [r.samples_per_task for r in ttt] == [4, 8, 12, 16]      # (s+1) * K
    assert [r.fast_1 for r in ttt] == [2 / 8, 5 / 8, 5 / 8, 5 / 8]   # BoA so far
    assert [r.step for r in ttt] == [0, 1, 1, 1]
    # 5/8 on the best-of-8 curve (1 - (7 choose k)/(8 choose k) = k/8) is k = 5
    assert ttt[1].equivalent_k == pytest.approx(5.0, rel=0.05)
    assert {r.samples_per_task for r in rows if r.method == "best-of-N"} >= {1, 2, 4, 8}


def test_comparison_rows_are_pure():
    by_task = {"t": [Candidate(i, i, "t", "c", 1.0, 0.1, 1, "correct", 2.0 if i < 2 else 0.5) for i in range(4)]}
    rows = comparison_rows(by_task, [])
    assert [r.samples_per_task for r in rows] == [1, 2, 4]
    assert [r.fast_1 for r in rows] == pytest.approx([0.5, 5 / 6, 1.0])
