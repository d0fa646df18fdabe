"""Noise-aware best-of-K: the strategy's own pick, counted when its speedup interval is above 1."""
import itertools
import random

import pytest

from sgs.core.selection import STRATEGIES
from sgs.core.statistics import best_of_k, best_of_k_curve
from sgs.core.store import Candidate


def cand(idx, surprisal, outcome="correct", speedup=1.0, lo=None, task="t"):
    return Candidate(sample_id=idx, sample_idx=idx, task_id=task, code=f"{task}{idx}", surprisal=surprisal,
                     mean_nll=surprisal / 10, n_tokens=10, outcome=outcome,
                     speedup=speedup if outcome == "correct" else None, speedup_lo=lo if outcome == "correct" else None)


def test_noise_aware_oracle_counts_the_fastest_pick_by_hand():
    # a is the fastest but its interval reaches below 1; b is fast by its interval; c slow; d wrong
    task = [cand(0, 1.0, speedup=3.0, lo=0.9), cand(1, 2.0, speedup=2.0, lo=1.5), cand(2, 3.0, speedup=0.5, lo=0.4),
            cand(3, 4.0, "incorrect")]
    curve = dict(best_of_k_curve({"t": task}, noise_aware=True))
    # the pick is b only when b is drawn and a is not: K=1 1/4, K=2 {b,c},{b,d} of 6, K=3 {b,c,d} of 4, K=4 never
    assert curve[1] == pytest.approx(1 / 4)
    assert curve[2] == pytest.approx(2 / 6)      # "any noise-aware sample drawn" would give 3/6
    assert curve[3] == pytest.approx(1 / 4)
    assert curve[4] == pytest.approx(0.0)
    assert dict(best_of_k_curve({"t": task}))[2] == pytest.approx(5 / 6)   # the plain curve: a or b drawn


def random_task(rng, n, speedups=None):
    out = []
    for i in range(n):
        outcome = rng.choice(["correct", "correct", "incorrect"])
        speedup = rng.choice(speedups) if speedups else round(rng.uniform(0.3, 2.5), 2)
        surprisal = rng.choice([None, *[float(rng.randint(1, 9))] * 6])
        c = cand(i, 1.0, outcome, speedup, lo=round(speedup * rng.uniform(0.4, 1.0), 2))
        c.surprisal, c.mean_nll = surprisal, None if surprisal is None else surprisal / 10
        if outcome == "correct" and rng.random() < 0.1:
            c.speedup = c.speedup_lo = None     # correct but never timed
        out.append(c)
    return out


def enumerate_subsets(cands, chooser, k):
    subsets = list(itertools.combinations(cands, k))
    return sum(sum(w * (c.correct and c.speedup_lo is not None and c.speedup_lo > 1)
                   for c, w in chooser.pick(list(s), "surprisal")) for s in subsets) / len(subsets)


@pytest.mark.parametrize("strategy", ["oracle", "random", "surprisal", "most-confident", "surprisal-top3"])
@pytest.mark.parametrize("speedups", [None, [0.5, 1.5, 2.0, 3.0]], ids=["distinct", "ties"])
def test_exact_noise_aware_best_of_k_equals_enumerating_subsets(strategy, speedups):
    rng = random.Random(11)
    chooser = STRATEGIES.get(strategy)
    for trial in range(8):
        cands = random_task(rng, 8, speedups)
        curve = best_of_k({"t": cands}, strategy, ks=range(1, 9), noise_aware=True)
        assert curve.exact
        for k in range(1, 9):
            assert curve.fast_1[k - 1] == pytest.approx(enumerate_subsets(cands, chooser, k), abs=1e-12), (trial, k)


def test_top3_noise_aware_counts_the_pick_not_any_of_the_three_by_hand():
    # ranked by surprisal: a (3.0x, interval below 1), b (2.0x, interval above 1); c wrong
    task = [cand(0, 9.0, speedup=3.0, lo=0.8), cand(1, 8.0, speedup=2.0, lo=1.4), cand(2, 7.0, "incorrect")]
    curve = best_of_k({"t": task}, "surprisal-top3", ks=[1, 2, 3], noise_aware=True)
    # b is the pick only without a: K=1 {b} of 3, K=2 {b,c} of 3, K=3 never
    assert curve.fast_1 == pytest.approx([1 / 3, 1 / 3, 0.0])
    assert best_of_k({"t": task}, "surprisal-top3", ks=[3]).fast_1 == [1.0]
