"""The over-sharpening probe's correlations and the diversity of a step's samples."""
import pytest

from sgs.core.store import Candidate
from sgs.core.training.probe import (code_tokens, diversity, edit_distance, probe_correlation,
                                     select_probe_samples)


def test_edit_distance_of_known_pairs():
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance(list("sitting"), list("kitten")) == 3
    assert edit_distance([], list("abc")) == 3
    assert edit_distance(list("flaw"), list("lawn")) == 2
    assert edit_distance(code_tokens("a = b + 1"), code_tokens("a = c + 1")) == 1


def test_probe_correlation_overall_and_in_the_bottom_quartile():
    speedups = [0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0]
    # the slowest quarter is ranked against its speed (rho -1), the rest with it
    nlls = [0.9, 0.8, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    out = probe_correlation(nlls, speedups)
    assert out["n"] == 8 and out["n_bottom_quartile"] == 2
    assert out["mean_nll"] == pytest.approx(sum(nlls) / 8)
    assert out["rho_bottom_quartile"] is None   # two samples: no correlation
    out = probe_correlation([1.0 - s / 10 for s in speedups], speedups)
    assert out["rho"] == pytest.approx(-1.0)


def test_bottom_quartile_is_the_slowest_quarter():
    speedups = list(range(1, 17))            # quartile cut at 4.75: 1..4
    nlls = [-s for s in speedups[:4]] + [s for s in speedups[4:]]
    out = probe_correlation(nlls, [float(s) for s in speedups])
    assert out["n_bottom_quartile"] == 4
    assert out["rho_bottom_quartile"] == pytest.approx(-1.0)
    assert out["rho"] > 0


def test_probe_samples_are_correct_ones_spread_over_tasks():
    cands = [Candidate(i, idx, task, "c", 1.0, 0.1, 10, outcome, speedup)
             for i, (task, idx, outcome, speedup) in enumerate(
                 [("a", 0, "correct", 1.0), ("a", 1, "correct", 2.0), ("a", 2, "incorrect", None),
                  ("a", 3, "correct", 3.0), ("b", 0, "correct", 0.5), ("b", 1, "correct", None)])]
    picked = select_probe_samples(cands, 3)
    assert [(c.task_id, c.sample_idx) for c in picked] == [("a", 0), ("b", 0), ("a", 1)]
    assert len(select_probe_samples(cands, 100)) == 4


def test_diversity_counts_distinct_codes_and_pairwise_distance_of_correct_samples():
    rows = [
        {"task_id": "a", "code": "x + 1", "correct": True},
        {"task_id": "a", "code": "x + 1", "correct": True},
        {"task_id": "a", "code": "x + 2", "correct": True},
        {"task_id": "a", "code": "y", "correct": False},
        {"task_id": "b", "code": "z * 3", "correct": True},
        {"task_id": "b", "code": None, "correct": False},
    ]
    d = diversity(rows)
    assert d["n_samples"] == 6 and d["samples_with_code"] == 5 and d["distinct_codes"] == 4
    assert d["distinct_share"] == pytest.approx(4 / 6)
    # task a's correct pairs: (x+1, x+1)=0, (x+1, x+2)=1 twice; task b has one correct sample
    assert d["n_pairs"] == 3 and d["mean_edit_distance"] == pytest.approx(2 / 3)
