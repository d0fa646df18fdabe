"""Comparisons between two strategies over tasks: Cohen's h, the paired Wilcoxon test, the sign test."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..store import Candidate
from .strategies import INCORRECT_SPEEDUP, Budget, TaskPick, computable, task_picks


# -- comparisons between strategies --------------------------------------
def cohens_h(p1: float, p2: float) -> float:
    """Effect size between two proportions: 2 asin(sqrt p1) - 2 asin(sqrt p2)."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def wilcoxon_log_ratio(speedups_a, speedups_b) -> dict:
    """Two-sided paired Wilcoxon signed-rank test on log(speedup_a / speedup_b).

    Incorrect picks must already be given as INCORRECT_SPEEDUP. Pairs with
    equal speedups carry no sign and are dropped (scipy's zero_method
    "wilcox"); `n` counts the pairs used.
    """
    from scipy.stats import wilcoxon

    d = np.log(np.asarray(speedups_a, float)) - np.log(np.asarray(speedups_b, float))
    nonzero = d[np.abs(d) > 1e-12]
    if nonzero.size == 0:
        return {"statistic": None, "p_value": None, "n": 0}
    res = wilcoxon(nonzero, alternative="two-sided")
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "n": int(nonzero.size)}


def sign_test(fast_a, fast_b) -> dict:
    """Exact two-sided sign test on the discordant pairs (one fast, the other not)."""
    from scipy.stats import binomtest

    a_only = sum(1 for a, b in zip(fast_a, fast_b) if a and not b)
    b_only = sum(1 for a, b in zip(fast_a, fast_b) if b and not a)
    n = a_only + b_only
    p = float(binomtest(a_only, n, 0.5, alternative="two-sided").pvalue) if n else None
    return {"a_only": a_only, "b_only": b_only, "n_discordant": n, "p_value": p}


@dataclass
class Comparison:
    a: str
    b: str
    rank_by: str
    fast_1_a: float | None
    fast_1_b: float | None
    cohens_h: float | None
    wilcoxon_statistic: float | None = None
    wilcoxon_p: float | None = None
    wilcoxon_n: int = 0
    sign_a_only: int | None = None
    sign_b_only: int | None = None
    sign_p: float | None = None
    n_untimed_pairs: int = 0      # tasks left out: a correct pick without a timing
    note: str = ""


def compare_strategies(candidates_by_task: dict[str, list[Candidate]], a: str, b: str, rank_by: str = "surprisal",
                       *, budget: Budget | None = None) -> Comparison:
    """Cohen's h on fast_1, Wilcoxon on log speedup ratios and the sign test, over tasks, for a against b.

    `random` enters the Wilcoxon test by its expected log speedup; it has no
    single pick to be fast or not, so it takes no sign test.
    """
    if not (computable(a, rank_by, budget) and computable(b, rank_by, budget)):
        return Comparison(a, b, rank_by, None, None, None, note="not computable under the run's budget")
    pa, pb = task_picks(candidates_by_task, a, rank_by), task_picks(candidates_by_task, b, rank_by)
    n = len(pa)
    f_a = sum(p.fast for p in pa) / n if n else 0.0
    f_b = sum(p.fast for p in pb) / n if n else 0.0
    cmp = Comparison(a, b, rank_by, f_a, f_b, cohens_h(f_a, f_b) if n else None)
    sa, sb, fa, fb = [], [], [], []
    for x, y in zip(pa, pb):
        if x.untimed > 0 or y.untimed > 0:
            cmp.n_untimed_pairs += 1
            continue
        sa.append(_wilcoxon_speedup(x))
        sb.append(_wilcoxon_speedup(y))
        fa.append(x.fast)
        fb.append(y.fast)
    w = wilcoxon_log_ratio(sa, sb) if sa else {"statistic": None, "p_value": None, "n": 0}
    cmp.wilcoxon_statistic, cmp.wilcoxon_p, cmp.wilcoxon_n = w["statistic"], w["p_value"], w["n"]
    if "random" in (a, b):
        cmp.note = "random is an expectation: no sign test"
    else:
        s = sign_test([v >= 0.5 for v in fa], [v >= 0.5 for v in fb])
        cmp.sign_a_only, cmp.sign_b_only, cmp.sign_p = s["a_only"], s["b_only"], s["p_value"]
    return cmp


def _wilcoxon_speedup(p: TaskPick) -> float:
    if not p.has_pick or p.log_speedup is None:
        return INCORRECT_SPEEDUP
    return math.exp(p.log_speedup)
