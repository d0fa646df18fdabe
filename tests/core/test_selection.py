import math

import pytest

from sgs.core.selection import STRATEGIES, correct_groups
from sgs.core.statistics import (best_of_k_curve, expert_tail, sample_fast_1, strategy_row,
                                 surprisal_speedup_correlation)
from sgs.core.store import Candidate


def cand(idx, surprisal, outcome="correct", speedup=1.0, code=None, lo=None, flags=None, task="t"):
    return Candidate(sample_id=idx + 100, sample_idx=idx, task_id=task, code=code or f"code{idx}",
                     surprisal=surprisal, mean_nll=surprisal / 10, n_tokens=10, outcome=outcome, speedup=speedup,
                     speedup_lo=lo if lo is not None else (speedup and speedup * 0.95), speedup_hi=speedup and speedup * 1.05,
                     flags=flags or [])


TASK = [
    cand(0, 50.0, speedup=0.9),
    cand(1, 90.0, speedup=2.0),
    cand(2, 80.0, speedup=3.0),
    cand(3, 70.0, speedup=1.5),
    cand(4, 95.0, outcome="incorrect", speedup=None),
    cand(5, 10.0, speedup=1.2),
]


def pick_idx(name, cands, rank_by="surprisal"):
    pick = STRATEGIES.get(name).pick(correct_groups(cands), rank_by)
    assert len(pick) == 1
    return pick[0][0].representative.sample_idx


def test_strategies_pick_as_defined():
    assert pick_idx("oracle", TASK) == 2                # fastest correct
    assert pick_idx("surprisal", TASK) == 1             # highest surprisal among correct (4 is incorrect)
    assert pick_idx("most-confident", TASK) == 5        # lowest surprisal
    assert pick_idx("surprisal-top3", TASK) == 2        # top3 = 1,2,3 -> fastest is 2


def test_random_is_exact_expectation_weighted_by_duplicates():
    cands = [cand(0, 5.0, speedup=2.0, code="A"), cand(1, 6.0, speedup=2.0, code="A"), cand(2, 7.0, speedup=0.5, code="B")]
    pick = STRATEGIES.get("random").pick(correct_groups(cands), "surprisal")
    weights = {g.representative.code: w for g, w in pick}
    assert weights == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    row = strategy_row({"t": cands}, "random")
    assert row.fast_1 == pytest.approx(2 / 3)
    assert row.mean_speedup == pytest.approx(2 / 3 * 2.0 + 1 / 3 * 0.5)


def test_duplicates_collapse_and_ties_go_to_lower_index():
    cands = [cand(3, 40.0, code="same"), cand(1, 40.0, code="same"), cand(2, 40.0, code="other")]
    groups = correct_groups(cands)
    assert [g.count for g in groups] == [2, 1]
    assert groups[0].representative.sample_idx == 1
    assert pick_idx("surprisal", cands) == 1            # equal surprisal: lower sample index wins


def test_duplicate_code_is_picked_through_the_sample_that_ranks_it():
    # the same code written twice, once surely (#0) and once unsurely (#1)
    cands = [cand(0, 3.0, code="same", speedup=2.0), cand(1, 6.0, code="same", speedup=2.0),
             cand(2, 5.0, code="other", speedup=0.5)]
    assert pick_idx("surprisal", cands) == 1
    assert pick_idx("most-confident", cands) == 0
    assert pick_idx("oracle", cands) == 0


def test_mean_nll_ranking_changes_the_pick():
    a = Candidate(1, 0, "t", "a", surprisal=100.0, mean_nll=0.1, n_tokens=1000, outcome="correct", speedup=1.1)
    b = Candidate(2, 1, "t", "b", surprisal=50.0, mean_nll=0.5, n_tokens=100, outcome="correct", speedup=2.0)
    assert pick_idx("surprisal", [a, b], "surprisal") == 0
    assert pick_idx("surprisal", [a, b], "mean_nll") == 1


def test_fast_1_counts_tasks_without_correct_samples_as_zero():
    by_task = {"t1": TASK, "t2": [cand(0, 1.0, outcome="compile_error", speedup=None, task="t2")]}
    row = strategy_row(by_task, "oracle")
    assert row.fast_1 == 0.5
    assert row.n_picks == 1
    assert row.mean_speedup == pytest.approx(3.0 / 2)    # arithmetic over tasks, 0 where no pick
    assert row.geomean_speedup == pytest.approx(3.0)      # over picks only


def test_noise_aware_fast_1_needs_interval_above_one():
    cands = [cand(0, 10.0, speedup=1.05, lo=0.97)]
    row = strategy_row({"t": cands}, "oracle")
    assert row.fast_1 == 1.0
    assert row.fast_1_noise_aware == 0.0


def test_flagged_picks_are_counted_and_excluded_in_the_unflagged_column():
    cands = [cand(0, 10.0, speedup=40.0, flags=["speedup_over_10x"]), cand(1, 5.0, speedup=0.8)]
    row = strategy_row({"t": cands}, "oracle")
    assert row.n_flagged == 1
    assert row.fast_1 == 1.0 and row.fast_1_unflagged == 0.0


def test_sample_fast_1_and_best_of_k_curve():
    by_task = {"t": [cand(0, 1.0, speedup=2.0), cand(1, 2.0, speedup=0.5), cand(2, 3.0, outcome="incorrect", speedup=None),
                     cand(3, 4.0, speedup=0.7)]}
    assert sample_fast_1(by_task) == 0.25
    curve = dict(best_of_k_curve(by_task))
    assert curve[1] == pytest.approx(0.25)
    assert curve[2] == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))
    assert curve[4] == pytest.approx(1.0)


def test_expert_tail_is_top_quarter_rounded_up():
    tail = expert_tail(TASK)
    # 5 correct samples -> ceil(5/4) = 2 highest by surprisal: #1 (90), #2 (80)
    assert tail == {1, 2}


def test_correlation_is_positive_when_surprisal_tracks_speedup():
    cands = [cand(i, float(i), speedup=1.0 + i) for i in range(6)]
    corr = surprisal_speedup_correlation({"t": cands})
    assert corr["within_task_mean_rho"] == pytest.approx(1.0)
    assert corr["pooled_rho"] == pytest.approx(1.0)
