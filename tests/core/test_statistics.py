"""The paper's statistics against scipy, brute force, or values worked by hand."""
import itertools
import math
import random

import numpy as np
import pytest
from scipy import stats as sps

from sgs.core.selection import STRATEGIES
from sgs.core.statistics import (Budget, audit_summary, best_of_k, best_of_k_curve, bootstrap_mean_ci, cohens_h,
                                 compare_strategies, computable, equivalent_k, interval_coverage,
                                 paired_block_bootstrap_ci, pool_runs, sample_fast_1, sign_test, strategy_row,
                                 strategy_table, surprisal_speedup_correlation, wilcoxon_log_ratio)
from sgs.core.store import Candidate


def cand(idx, surprisal, outcome="correct", speedup=1.0, code=None, task="t", n_tokens=10, flags=None, lo=None):
    return Candidate(sample_id=idx, sample_idx=idx, task_id=task, code=code or f"{task}{idx}", surprisal=surprisal,
                     mean_nll=None if surprisal is None else surprisal / n_tokens, n_tokens=n_tokens, outcome=outcome,
                     speedup=speedup if outcome == "correct" else None, speedup_lo=lo, flags=flags or [])


def random_task(rng, n, task="t"):
    out = []
    for i in range(n):
        outcome = rng.choice(["correct", "correct", "incorrect"])
        out.append(cand(i, rng.choice([None] + [float(rng.randint(1, 9))] * 6), outcome,
                        round(rng.uniform(0.3, 2.5), 2), code=rng.choice(["a", "b", None, None, None]) and None,
                        task=task))
    return out


# -- best-of-K: every exact formula against enumeration of the K-subsets --
@pytest.mark.parametrize("strategy", ["oracle", "random", "surprisal", "most-confident", "surprisal-top3"])
def test_exact_best_of_k_equals_enumerating_subsets(strategy):
    rng = random.Random(7)
    chooser = STRATEGIES.get(strategy)
    for trial in range(6):
        cands = random_task(rng, 7)
        curve = best_of_k({"t": cands}, strategy, ks=range(1, 8))
        assert curve.exact
        for k in range(1, 8):
            subsets = list(itertools.combinations(cands, k))
            want = sum(sum(w * (c.correct and c.speedup > 1) for c, w in chooser.pick(list(s), "surprisal"))
                       for s in subsets) / len(subsets)
            assert curve.fast_1[k - 1] == pytest.approx(want, abs=1e-12), (trial, k)


def test_oracle_curve_is_the_hypergeometric_formula():
    by_task = {"t": [cand(0, 1.0, speedup=2.0), cand(1, 2.0, speedup=0.5), cand(2, 3.0, "incorrect"),
                     cand(3, 4.0, speedup=0.7)]}
    assert sample_fast_1(by_task) == 0.25
    curve = dict(best_of_k_curve(by_task))
    assert curve[1] == pytest.approx(0.25)
    assert curve[2] == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))
    assert curve[4] == pytest.approx(1.0)


def test_subsampled_best_of_k_brackets_the_truth():
    rng = random.Random(3)
    by_task = {f"t{j}": random_task(rng, 8, f"t{j}") for j in range(4)}
    sub = best_of_k(by_task, "surprisal-top3-distinct", ks=[1, 4, 8], n_sub=400, seed=1)
    assert not sub.exact and sub.lo is not None
    # with every sample distinct the distinct variant is surprisal-top3, whose curve is exact
    exact = best_of_k(by_task, "surprisal-top3", ks=[1, 4, 8])
    for m, lo, hi, want in zip(sub.fast_1, sub.lo, sub.hi, exact.fast_1):
        assert lo - 0.02 <= want <= hi + 0.02
    assert sub.fast_1[-1] == pytest.approx(exact.fast_1[-1])    # K = n: one subset, no noise


# -- equivalent K --------------------------------------------------------
def test_equivalent_k_interpolates_in_log_k():
    curve = [(1, 0.2), (2, 0.4), (4, 0.6), (8, 0.7)]
    assert equivalent_k(curve, 0.5).value == pytest.approx(math.sqrt(8))   # halfway between log 2 and log 4
    assert equivalent_k(curve, 0.4).value == pytest.approx(2.0)
    assert equivalent_k(curve, 0.1).label == "< 1"     # below sample fast_1 (the paper's TTT result)
    assert equivalent_k(curve, 0.9).label == "> 8"


# -- effect size and tests ------------------------------------------------
def test_cohens_h():
    assert cohens_h(0.8, 0.5) == pytest.approx(0.6435, abs=1e-4)
    assert round(cohens_h(0.8, 0.5), 2) == 0.64
    assert cohens_h(0.5, 0.8) == pytest.approx(-cohens_h(0.8, 0.5))
    assert cohens_h(0.3, 0.3) == 0.0


def test_wilcoxon_matches_scipy_on_log_ratios():
    a = [2.0, 1.5, 0.9, 3.0, 1e-6, 1.2, 2.2, 0.8]
    b = [1.0, 1.6, 0.5, 1.1, 1.0, 1.2, 1.0, 0.7]
    got = wilcoxon_log_ratio(a, b)
    d = [math.log(x) - math.log(y) for x, y in zip(a, b) if x != y]
    want = sps.wilcoxon(d, alternative="two-sided")
    assert got["p_value"] == pytest.approx(want.pvalue) and got["statistic"] == pytest.approx(want.statistic)
    assert got["n"] == 7   # the tie is dropped


def test_sign_test_is_exact_binomial_on_discordant_pairs():
    fa = [1, 1, 1, 1, 1, 0, 1, 0, 1, 1]
    fb = [0, 0, 0, 0, 0, 0, 1, 1, 0, 1]
    got = sign_test(fa, fb)
    assert (got["a_only"], got["b_only"]) == (6, 1)
    assert got["p_value"] == pytest.approx(2 * sum(math.comb(7, i) for i in range(0, 2)) / 2 ** 7)   # 0.125


def test_compare_strategies_puts_incorrect_picks_in_at_1e6():
    # task b: no correct sample -> both strategies' picks are "incorrect"
    by_task = {"a": [cand(0, 9.0, speedup=3.0, task="a"), cand(1, 1.0, speedup=0.5, task="a")],
               "b": [cand(0, 5.0, "incorrect", task="b")],
               "c": [cand(0, 9.0, speedup=2.0, task="c"), cand(1, 1.0, speedup=1.5, task="c")]}
    cmp = compare_strategies(by_task, "surprisal", "most-confident")
    assert cmp.fast_1_a == pytest.approx(2 / 3) and cmp.fast_1_b == pytest.approx(1 / 3)
    assert cmp.cohens_h == pytest.approx(cohens_h(2 / 3, 1 / 3))
    assert cmp.wilcoxon_n == 2              # task b is a tie (1e-6 vs 1e-6)
    assert (cmp.sign_a_only, cmp.sign_b_only) == (1, 0)
    assert compare_strategies(by_task, "surprisal", "random").sign_p is None


# -- bootstrap over tasks ------------------------------------------------
def test_bootstrap_ci_over_tasks_matches_scipy():
    values = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1]
    lo, hi = bootstrap_mean_ci(values, n_boot=20000, seed=0)
    want = sps.bootstrap((np.array(values, float),), np.mean, n_resamples=20000, method="percentile",
                         random_state=0).confidence_interval
    assert lo == pytest.approx(want.low, abs=0.03) and hi == pytest.approx(want.high, abs=0.03)


def test_clustered_bootstrap_resamples_tasks_not_seeds():
    # 5 tasks x 2 seeds: the seeds of a task agree, so the interval must be as wide as over 5 tasks
    task_values = [1, 0, 1, 1, 0]
    values = [v for v in task_values for _ in range(2)]
    clusters = [t for t in range(5) for _ in range(2)]
    by_cluster = bootstrap_mean_ci(values, clusters, seed=1)
    by_task = bootstrap_mean_ci(task_values, seed=1)
    naive = bootstrap_mean_ci(values, seed=1)
    assert by_cluster == pytest.approx(by_task, abs=0.05)
    assert naive[1] - naive[0] < by_cluster[1] - by_cluster[0]


def test_pooling_runs_gives_task_seed_units():
    run1 = {"x": [cand(0, 2.0, speedup=2.0, task="x")], "y": [cand(0, 2.0, speedup=0.5, task="y")]}
    run2 = {"x": [cand(0, 2.0, speedup=1.5, task="x")], "y": [cand(0, 2.0, "incorrect", task="y")]}
    units, clusters = pool_runs([run1, run2], ["s1", "s2"])
    assert sorted(units) == ["s1:x", "s1:y", "s2:x", "s2:y"] and clusters["s2:y"] == "y"
    row = strategy_row(units, "surprisal", clusters=clusters)
    assert row.fast_1 == 0.5 and row.n_tasks == 4 and row.fast_1_ci is not None


# -- the paired block bootstrap of a speedup -----------------------------
def simulate_paired(rng, true_speedup, n_blocks=30, per_block=8, drift=0.1, noise=0.01):
    """Interleaved blocks on a machine whose speed drifts (AR(1) in log), shared by the two sides of a block."""
    level, ref, cnd = 0.0, [], []
    for _ in range(n_blocks):
        level = 0.9 * level + rng.normal(0, drift)
        ref.append(list(1.0 * np.exp(level + rng.normal(0, noise, per_block))))
        level = 0.9 * level + rng.normal(0, drift * 0.1)
        cnd.append(list(1.0 / true_speedup * np.exp(level + rng.normal(0, noise, per_block))))
    return ref, cnd


def independent_ci(ref, cnd, rng, n_boot=1000):
    """The interval the evaluator gave before: each side's calls resampled on their own."""
    r, c = np.concatenate(ref), np.concatenate(cnd)
    reps = np.median(rng.choice(r, (n_boot, r.size)), axis=1) / np.median(rng.choice(c, (n_boot, c.size)), axis=1)
    return np.quantile(reps, [0.025, 0.975])


def test_paired_block_bootstrap_covers_the_true_speedup():
    rng = np.random.default_rng(11)
    truth = 1.3
    paired, indep = [], []
    for i in range(200):
        ref, cnd = simulate_paired(rng, truth)
        paired.append(paired_block_bootstrap_ci(ref, cnd, n_boot=500, seed=i))
        if i < 40:
            indep.append(independent_ci(ref, cnd, rng))
    coverage = interval_coverage(paired, truth)
    assert 0.88 <= coverage <= 0.99, coverage
    width_paired = np.mean([hi - lo for lo, hi in paired])
    width_indep = np.mean([hi - lo for lo, hi in indep])
    # ignoring the pairing counts the shared drift twice: an interval several times too wide
    assert width_paired < 0.6 * width_indep


def test_paired_block_bootstrap_median_is_that_of_the_calls():
    # one replicate drawing every block once gives the plain medians; a constant ratio gives a point
    ref = [[2.0, 2.0, 2.2], [1.8, 2.0]]
    cnd = [[1.0, 1.0, 1.1], [0.9, 1.0]]
    lo, hi = paired_block_bootstrap_ci(ref, cnd, n_boot=200)
    assert lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
    assert paired_block_bootstrap_ci([[1.0]], [[1.0]]) is None


# -- correlation ---------------------------------------------------------
def test_spearman_overall_and_in_the_top_quartile():
    cands = [cand(i, float(i), speedup=1.0 + i, n_tokens=10) for i in range(8)]
    cands[7] = cand(7, 7.0, speedup=0.1)                    # in the tail: the highest-surprisal sample is slow
    corr = surprisal_speedup_correlation({"t": cands}, "mean_nll")
    xs = [c.mean_nll for c in cands]
    ys = [c.speedup for c in cands]
    assert corr["pooled_rho"] == pytest.approx(sps.spearmanr(xs, ys).statistic)
    assert corr["pooled_p"] == pytest.approx(sps.spearmanr(xs, ys).pvalue)
    # the top quartile by surprisal: samples 6 and 7 -> two points, too few for a rho
    assert corr["tail_n_samples"] == 2 and corr["tail_pooled_rho"] is None


def test_correlation_is_positive_when_surprisal_tracks_speedup():
    corr = surprisal_speedup_correlation({"t": [cand(i, float(i), speedup=1.0 + i) for i in range(6)]})
    assert corr["within_task_mean_rho"] == pytest.approx(1.0) and corr["pooled_rho"] == pytest.approx(1.0)


# -- budget --------------------------------------------------------------
def test_strategies_a_budget_cannot_compute_are_marked():
    budget = Budget(time_top=3)
    assert computable("surprisal-top3", "surprisal", budget) and computable("most-confident", "surprisal", budget)
    assert not computable("oracle", "surprisal", budget) and not computable("random", "surprisal", budget)
    assert not computable("surprisal-top3", "mean_nll", budget)      # ranked by another key than the budget's
    assert not computable("surprisal-top3", "surprisal", Budget(time_top=1))
    rows = {r.strategy: r for r in strategy_table({"t": [cand(0, 1.0, speedup=2.0)]}, budget=budget)}
    assert rows["oracle"].fast_1 is None and not rows["oracle"].computable
    assert rows["surprisal-top3"].fast_1 == 1.0


def test_audit_estimates_what_the_budget_missed():
    cands = [cand(0, 9.0, speedup=1.5), cand(1, 8.0, speedup=1.2), cand(2, 7.0, speedup=1.1),
             cand(3, 5.0, speedup=3.0, flags=["audit"]), cand(4, 4.0, "incorrect", flags=["audit"]),
             cand(5, 3.0, "skipped", flags=["outside_budget"]), cand(6, 2.0, "skipped", flags=["outside_budget"]),
             cand(7, 1.0, speedup=0.9)]
    a = audit_summary({"t": cands})
    assert (a["n_audited"], a["n_correct"], a["n_beats_pick"], a["n_not_evaluated"]) == (2, 1, 1, 4)
    assert a["estimated_missed"] == pytest.approx(2.0)


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_scipy_with_ties(seed):
    from sgs.core.statistics import spearman

    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 6, 40).astype(float), rng.normal(size=40)
    rho, p = spearman(x, y)
    want = sps.spearmanr(x, y)
    assert rho == pytest.approx(want.statistic) and p == pytest.approx(want.pvalue)
    assert spearman([1, 1, 1], [1, 2, 3]) == (None, None)


def test_speedup_interval_is_recomputed_from_a_stored_paired_timing():
    from sgs.core.statistics import speedup_interval

    rng = np.random.default_rng(5)
    ref, cnd = simulate_paired(rng, 1.5, n_blocks=12, per_block=4)
    result = {"reference_trials_ms": [t for b in ref for t in b], "candidate_trials_ms": [t for b in cnd for t in b],
              "timing_blocks": {"reference": [4] * 12, "candidate": [4] * 12}}
    assert speedup_interval(result, seed=3) == paired_block_bootstrap_ci(ref, cnd, seed=3)
    assert speedup_interval({"speedup": 1.2}) is None
    assert speedup_interval({**result, "timing_blocks": {"reference": [4] * 11, "candidate": [4] * 12}}) is None
