"""Training beside best-of-N in the report: numbers worked by hand from tests/core/report_training_db.py."""
import csv
import json
import sys
from pathlib import Path

import pytest

from sgs.core import statistics as st
from sgs.core.errors import InputError
from sgs.core.report import build_report, load_run, write_report

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_training_db import TASKS, add_bon_run, add_training, build, TTT_PLAN  # noqa: E402


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Read by the tests that do not write (building it takes a second or two on a busy machine)."""
    store, bon, ttt, sdpo = build(tmp_path_factory.mktemp("db") / "t.db")
    yield store, bon, ttt, sdpo
    store.close()


@pytest.fixture
def fresh_db(tmp_path):
    store, bon, ttt, sdpo = build(tmp_path / "t.db")
    yield store, bon, ttt, sdpo
    store.close()


def rows_of(report, source, series):
    return [r for r in report.tables["training_vs_best_of_n"] if r["source"] == source and r["series"] == series]


def test_best_of_n_curves_are_the_hypergeometric_and_noise_aware_oracle(db):
    store, bon, ttt, _ = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt])
    oracle = rows_of(report, f"run {bon}", "oracle")
    assert [r["samples_per_task"] for r in oracle] == [1, 2, 3, 4]
    # relu: 2 fast of 4, relu6: 1 fast of 4 -> (1 - C(2,K)/C(4,K) + 1 - C(3,K)/C(4,K)) / 2
    assert [r["fast_1"] for r in oracle] == pytest.approx([0.375, 2 / 3, 0.875, 1.0], abs=1e-4)
    # noise-aware: relu's fastest (3.0x) has its interval below 1, so relu counts only when 2.0x is drawn without it
    assert [r["fast_1_noise_aware"] for r in oracle] == pytest.approx([0.25, 5 / 12, 0.5, 0.5], abs=1e-4)
    assert [r["equivalent_k"] for r in oracle] == ["1.0", "2.0", "3.0", "4.0"]


def test_best_of_n_strategies_at_k_n_are_the_strategy_table(db):
    store, bon, ttt, _ = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt])
    table = {r.strategy: r for r in st.strategy_table(load_run(store, bon).by_task, "surprisal", n_boot=0)}
    for name in ("oracle", "surprisal-top3", "surprisal", "most-confident", "random"):
        at_n = rows_of(report, f"run {bon}", name)[-1]
        assert at_n["samples_per_task"] == 4
        assert at_n["fast_1"] == pytest.approx(table[name].fast_1, abs=1e-4), name
        assert at_n["fast_1_noise_aware"] == pytest.approx(table[name].fast_1_noise_aware, abs=1e-4), name
    top3 = rows_of(report, f"run {bon}", "surprisal-top3")[-1]
    assert (top3["fast_1"], top3["fast_1_noise_aware"]) == (1.0, 0.5)   # relu's pick is the 3.0x (interval < 1)


def test_training_steps_sit_at_their_sample_budgets_with_equivalent_k(db):
    store, bon, ttt, _ = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt])
    steps = rows_of(report, f"training {ttt}", "step")
    assert [r["samples_per_task"] for r in steps] == [2, 4, 6]          # (step + 1) * K, K = 2
    assert [r["fast_1"] for r in steps] == [0.25, 0.75, 0.25]            # sample level
    assert [r["fast_1_noise_aware"] for r in steps] == [0.25, 0.5, 0.25]
    assert [r["fast_1_task"] for r in steps] == [0.5, 1.0, 0.5]
    # below the best-of-N sample fast_1 (0.375) is "< 1", as the paper's TTT; 0.75 lies between K=2 (2/3) and
    # K=3 (0.875): t = (0.75 - 2/3) / (0.875 - 2/3) = 0.4, K = exp(log 2 + 0.4 (log 3 - log 2)) = 2 * 1.5 ** 0.4
    assert [r["equivalent_k"] for r in steps] == ["< 1", "2.4", "< 1"]
    assert steps[1]["equivalent_k_value"] == pytest.approx(2 * 1.5 ** 0.4, abs=1e-4)
    # noise-aware 0.5 is reached exactly at K=3 on the noise-aware curve (0.25, 5/12, 0.5, 0.5)
    assert [r["equivalent_k_noise_aware"] for r in steps] == ["1.0", "3.0", "1.0"]


def test_best_of_adaptation_so_far_at_each_budget(db):
    store, bon, ttt, sdpo = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt, sdpo])
    boa = rows_of(report, f"training {ttt}", "best-of-adaptation")
    assert [(r["samples_per_task"], r["step"], r["fast_1"]) for r in boa] == [(2, 0, 0.25), (4, 1, 0.75), (6, 1, 0.75)]
    assert boa[-1]["fast_1_noise_aware"] == 0.5 and boa[-1]["equivalent_k_noise_aware"] == "3.0"
    (sdpo_best,) = [r for r in rows_of(report, f"training {sdpo}", "best-of-adaptation") if r["samples_per_task"] == 4]
    assert sdpo_best["method"] == "sdpo-prompt-only" and sdpo_best["step"] == 0 and sdpo_best["fast_1"] == 0.5
    # 0.5 between K=1 (0.375) and K=2 (2/3): t = 0.125 / (7/24) = 3/7, K = 2 ** (3/7)
    assert sdpo_best["equivalent_k_value"] == pytest.approx(2 ** (3 / 7), abs=1e-4)
    # both trainings ran on the same tasks: one comparison, one best-of-N curve
    assert len(report.comparisons) == 1 and len(report.comparisons[0].trainings) == 2


def test_per_step_table_of_a_training_run(db):
    store, bon, ttt, _ = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt])
    steps = report.tables["training_steps"]
    assert [r["step"] for r in steps] == [0, 1, 2]
    assert [r["best_of_adaptation"] for r in steps] == [False, True, False]
    assert [r["fast_1"] for r in steps] == [0.25, 0.75, 0.25] and [r["fast_1_task"] for r in steps] == [0.5, 1.0, 0.5]
    assert steps[0]["mean_reward"] == pytest.approx((2.0 + 0 + 0.5 + 0) / 4)
    assert [r["loss"] for r in steps] == [-0.5, -0.25, None]
    assert [r["rho"] for r in steps] == [-0.2, -0.3, -0.35]
    assert [r["rho_bottom_quartile"] for r in steps] == [-0.25, -0.45, -0.5]
    assert [r["distinct_codes"] for r in steps] == [None, None, None]   # not recorded in this database
    assert [r["equivalent_k"] for r in steps] == ["< 1", "2.4", "< 1"]


def test_a_training_alone_is_measured_against_its_own_step_0(db):
    store, _, ttt, _ = db
    report = build_report(store, [], n_boot=0, training_ids=[ttt])
    assert report.runs == [] and "strategies" not in report.tables
    (comp,) = report.comparisons
    assert comp.baseline == f"training {ttt} step 0"
    oracle = rows_of(report, comp.baseline, "oracle")
    # step 0: relu [fast, wrong], relu6 [slow, wrong] -> K=1: (1/2 + 0) / 2, K=2: (1 + 0) / 2
    assert [r["fast_1"] for r in oracle] == [0.25, 0.5]
    steps = rows_of(report, f"training {ttt}", "step")
    assert [r["equivalent_k"] for r in steps] == ["1.0", "> 2", "1.0"]
    assert any("best-of-N is the training's own step 0" in n for n in report.notes)
    assert [r["step"] for r in report.tables["training_steps"]] == [0, 1, 2]


def test_a_configured_baseline_run_is_used_when_no_run_is_named(fresh_db):
    store, bon, _, _ = fresh_db
    tid = add_training(store, TTT_PLAN, baseline_run=bon)
    report = build_report(store, [], n_boot=0, training_ids=[tid])
    assert report.comparisons[0].baseline == f"run {bon}"
    assert [r["equivalent_k"] for r in rows_of(report, f"training {tid}", "step")] == ["< 1", "2.4", "< 1"]


def test_best_of_n_on_other_tasks_or_under_a_budget_is_refused(fresh_db):
    store, _, ttt, _ = fresh_db
    other = add_bon_run(store, {"builtin/relu": [(True, 2.0, 1.5)]}, tasks=["builtin/relu"])
    with pytest.raises(InputError, match="no samples of builtin/relu6"):
        build_report(store, [other], n_boot=0, training_ids=[ttt])
    budgeted = add_bon_run(store, time_top=3)
    with pytest.raises(InputError, match="surprisal budget"):
        build_report(store, [budgeted], n_boot=0, training_ids=[ttt])


def test_extra_best_of_n_tasks_are_left_out_and_pooled_runs_average_units(fresh_db):
    store, bon, ttt, _ = fresh_db
    wider = add_bon_run(store, {**{t: [(False, None, None)] * 4 for t in TASKS},
                                "builtin/swish": [(True, 2.0, 1.5)] * 4}, tasks=[*TASKS, "builtin/swish"])
    report = build_report(store, [wider], n_boot=0, training_ids=[ttt])
    assert [r["fast_1"] for r in rows_of(report, f"run {wider}", "oracle")] == [0.0] * 4   # swish left out
    pooled = build_report(store, [bon, wider], n_boot=0, training_ids=[ttt])
    # units (run, task): bon's two and wider's two (all wrong) -> half of bon's curve
    assert [r["fast_1"] for r in rows_of(pooled, f"pooled {bon}+{wider}", "oracle")] == \
        pytest.approx([0.1875, 1 / 3, 0.4375, 0.5], abs=1e-4)


def test_tables_are_written_as_markdown_json_and_csv(db, tmp_path):
    store, bon, ttt, sdpo = db
    report = build_report(store, [bon], n_boot=0, training_ids=[ttt, sdpo])
    write_report(report, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["training_runs"] == [ttt, sdpo]
    assert data["tables"]["training_vs_best_of_n"] == report.tables["training_vs_best_of_n"]
    with open(tmp_path / "out" / "training_vs_best_of_n.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report.tables["training_vs_best_of_n"])
    assert {r["series"] for r in rows} >= {"oracle", "surprisal-top3", "step", "best-of-adaptation"}
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"training {ttt} (ttt)" in md and "## training_steps" in md and "## training_vs_best_of_n" in md
    assert "| 1 * |" in md          # the best-of-adaptation step is marked
    assert "< 1" in md


def test_a_run_that_holds_a_training_step_says_so(db):
    store, _, ttt, _ = db
    step_run = store.training_step(ttt, 1)["run_id"]
    report = build_report(store, [step_run], n_boot=0)
    assert any(f"holds step 1 of training run {ttt}" in n and f"--training {ttt}" in n for n in report.notes)

