"""Best-of-K curves (exact where a formula exists, subsampled otherwise) and equivalent K."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..selection import STRATEGIES
from ..selection.base import ranked_correct
from ..store import Candidate
from .strategies import is_fast, is_fast_noise_aware


# -- best-of-K -----------------------------------------------------------
@dataclass
class BestOfK:
    strategy: str
    ks: list[int]
    fast_1: list[float]
    exact: bool
    lo: list[float] | None = None   # subsampled curves: 95% interval of the Monte Carlo mean
    hi: list[float] | None = None
    rank_by: str = "surprisal"


_LGAMMA: list[float] = [0.0]


def _log_comb(n, k):
    """log C(n, k) elementwise (-inf outside 0 <= k <= n), from a table of log factorials."""
    n, k = np.broadcast_arrays(np.asarray(n, float), np.asarray(k, float))
    top = int(max(n.max(initial=0), 0)) + 1
    while len(_LGAMMA) <= top:
        _LGAMMA.append(math.lgamma(len(_LGAMMA) + 1))
    table = np.asarray(_LGAMMA)
    valid = (k >= 0) & (k <= n)
    out = np.full(n.shape, -np.inf)
    ni, ki = n[valid].astype(int), k[valid].astype(int)
    out[valid] = table[ni] - table[ki] - table[ni - ki]
    return out


def prob_none_drawn(n: int, bad: int, draws) -> np.ndarray:
    """P(none of `bad` marked items among `draws` drawn without replacement from n) = C(n-bad, d)/C(n, d)."""
    return _prob_none_drawn(int(n), int(bad), tuple(int(k) for k in np.atleast_1d(draws))).copy()


@functools.lru_cache(maxsize=4096)
def _prob_none_drawn(n: int, bad: int, draws: tuple[int, ...]) -> np.ndarray:
    # tasks of one run share n and often the count: each (n, count) is computed once
    d = np.minimum(np.asarray(draws), n)
    return np.exp(_log_comb(n - bad, d) - _log_comb(n, d))


def _top_m_fast(fast_in_rank_order: list[bool], n: int, m: int, ks) -> np.ndarray:
    """P(the fastest of the first m ranked correct samples drawn is fast), per K.

    For a fast sample at rank j, with a_j non-fast correct samples ranked
    above it: it is the first fast one drawn and among the first m correct
    drawn when none of the fast ones above it is drawn and s <= m-1 of the
    a_j are: C(a_j, s) * C(n-j, d-1-s) / C(n, d) subsets, summed.
    """
    return _top_m_fast_tasks([fast_in_rank_order], [n], m, ks)[0]


def _top_m_fast_tasks(orders: list[list[bool]], ns: list[int], m: int, ks) -> np.ndarray:
    """`_top_m_fast` of many tasks at once (tasks x K): one array expression over every task's fast samples."""
    ks = np.asarray(ks)
    out = np.zeros((len(orders), len(ks)))
    task, ranks, slow_above, n_of = [], [], [], []
    for t, (order, n) in enumerate(zip(orders, ns)):
        slow = 0
        for j, fast in enumerate(order, start=1):
            if fast:
                task.append(t)
                ranks.append(j)
                slow_above.append(slow)
                n_of.append(n)
            else:
                slow += 1
    if not ranks:
        return out
    # (fast sample x s x K): C(a_j, s) is 0 for s > a_j, C(n-j, d-1-s) for d-1-s < 0
    n = np.asarray(n_of, float)[:, None, None]
    j = np.asarray(ranks, float)[:, None, None]
    a = np.asarray(slow_above, float)[:, None, None]
    s = np.arange(m, dtype=float)[None, :, None]
    d = np.minimum(ks[None, None, :], n)
    terms = np.exp(_log_comb(a, s) + _log_comb(n - j, d - 1 - s) - _log_comb(n, d))
    np.add.at(out, np.asarray(task), terms.sum(axis=1))
    return out


def _top_m_pick(ranked: list[Candidate], test, n: int, m: int, ks) -> np.ndarray:
    """P(the pick - the fastest of the first m ranked correct samples drawn - passes `test`), per K.

    Unlike `_top_m_fast` this does not assume that the pick passes whenever
    one of the m does (true of "fast", not of "fast by its interval": a
    3.0x whose interval reaches below 1 is picked over a 2.0x whose interval
    does not). For a passing sample j, with A the ranked samples above it and
    B those below: j is the pick when none of A that would be kept over it is
    drawn, a <= m-1 of the others in A are, and the first m-1-a of B drawn
    (in rank order) would not be kept over it either. The first t drawn of B
    are all such samples in C(g, b) subsets of size b < t (g of them in B),
    else summed over the position q of the t-th one drawn:
    C(such samples before q, t-1) * C(|B|-q, b-t), with B[q] such a sample.
    """
    d = np.minimum(np.asarray(ks), n).astype(float)
    total = np.zeros_like(d)
    n_other = n - len(ranked)   # incorrect and unscored samples: drawn freely
    for j, cand in enumerate(ranked):
        if not test(cand) or cand.speedup is None:
            continue

        def kept_over(x, above: bool) -> bool:   # `fastest`: the strictly faster, on a tie the earlier in rank
            return x.speedup is not None and (x.speedup > cand.speedup or (above and x.speedup == cand.speedup))

        above, below = ranked[:j], ranked[j + 1:]
        free_above = sum(not kept_over(x, True) for x in above)
        good = np.array([not kept_over(x, False) for x in below], dtype=float)
        size = len(below)
        b = np.arange(size + 1, dtype=float)
        good_before = np.concatenate([[0.0], np.cumsum(good)])[:-1]     # such samples before position q
        q = np.arange(1, size + 1, dtype=float)
        for a in range(min(m - 1, free_above) + 1):
            t = m - 1 - a
            if t == 0:
                count_b = np.exp(_log_comb(size, b))
            else:
                weight = good * np.exp(_log_comb(good_before, t - 1))
                count_b = (weight[:, None] * np.exp(_log_comb(size - q[:, None], b[None, :] - t))).sum(axis=0)
                count_b += np.where(b < t, np.exp(_log_comb(good.sum(), b)), 0.0)
            rest = np.exp(_log_comb(n_other, d[None, :] - 1 - a - b[:, None]))          # (b, K)
            total += np.exp(_log_comb(free_above, a)) * (count_b[:, None] * rest).sum(axis=0)
    return total / np.exp(_log_comb(n, d))


# rank-and-keep-the-fastest strategies with an exact best-of-K: how many top samples each keeps
_TOP_WIDTH = {"surprisal": 1, "most-confident": 1, "surprisal-top3": 3}
EXACT_BEST_OF_K = ("oracle", "random", *_TOP_WIDTH)


def best_of_k_exact(candidates: list[Candidate], strategy: str, ks, rank_by: str = "surprisal", *,
                    noise_aware: bool = False) -> np.ndarray | None:
    """One task's expected fast_1 for each K of `ks`, drawing K of its n samples; None where no formula is known.

    `noise_aware`: the pick counts when the lower end of its speedup interval
    exceeds 1. The pick is still the strategy's (the fastest by measured
    speedup): the single-pick rules keep their formulas with that test (the
    oracle's pick is the first correct sample drawn in speedup order), and
    surprisal-top3 sums over which sample is the pick (`_top_m_pick`).
    """
    n = len(candidates)
    ks = np.asarray(ks)
    if n == 0:
        return np.zeros(len(ks))
    fast = is_fast_noise_aware if noise_aware else is_fast
    s = STRATEGIES.get(strategy)
    if strategy == "oracle":
        if not noise_aware:
            n_fast = sum(is_fast(c) for c in candidates)
            return 1.0 - prob_none_drawn(n, n_fast, ks)
        # the oracle's pick is the first correct sample drawn in order of measured speedup (untimed last)
        timed = sorted((c for c in candidates if c.correct and c.speedup is not None),
                       key=lambda c: (-c.speedup, c.sample_idx))
        return _top_m_fast([fast(c) for c in timed], n, 1, ks)
    if strategy == "random":
        correct = [c for c in candidates if c.correct]
        if not correct:
            return np.zeros(len(ks))
        # given one correct sample drawn, the pick is uniform over all correct ones (exchangeability)
        share = sum(fast(c) for c in correct) / len(correct)
        return share * (1.0 - prob_none_drawn(n, len(correct), ks))
    width = _TOP_WIDTH.get(strategy)
    if width is None or not s.ranks:
        return None
    ranked = ranked_correct(candidates, rank_by, descending=strategy != "most-confident")
    if noise_aware and width > 1:
        return _top_m_pick(ranked, fast, n, width, ks)
    return _top_m_fast([fast(c) for c in ranked], n, width, ks)


def best_of_k(candidates_by_task: dict[str, list[Candidate]], strategy: str, ks=None, rank_by: str = "surprisal", *,
              n_sub: int = 64, seed: int = 0, noise_aware: bool = False) -> BestOfK:
    """Expected fast_1 when only K of each task's samples had been drawn, for each K.

    Exact where a formula exists (oracle, random, surprisal, most-confident,
    surprisal-top3; see `best_of_k_exact` for the noise-aware variant);
    otherwise the mean over `n_sub` random K-subsets per task, with a 95%
    interval of that Monte Carlo mean.
    """
    if not candidates_by_task:
        return BestOfK(strategy, [], [], True, rank_by=rank_by)
    if ks is None:
        ks = list(range(1, max(len(c) for c in candidates_by_task.values()) + 1))
    ks = list(ks)
    width = _TOP_WIDTH.get(strategy)
    if width is not None and STRATEGIES.get(strategy).ranks and not (noise_aware and width > 1):
        # every task in one array expression (a Python loop per task made large runs slow)
        fast = is_fast_noise_aware if noise_aware else is_fast
        tasks = list(candidates_by_task.values())
        descending = strategy != "most-confident"
        orders = [[fast(c) for c in ranked_correct(cands, rank_by, descending=descending)] for cands in tasks]
        mean = _top_m_fast_tasks(orders, [len(c) for c in tasks], width, ks).mean(axis=0)
        return BestOfK(strategy, ks, [float(v) for v in mean], True, rank_by=rank_by)
    per_task = [best_of_k_exact(c, strategy, ks, rank_by, noise_aware=noise_aware) for c in candidates_by_task.values()]
    if all(p is not None for p in per_task):
        mean = np.mean(per_task, axis=0)
        return BestOfK(strategy, ks, [float(v) for v in mean], True, rank_by=rank_by)
    chooser = STRATEGIES.get(strategy)
    fast = is_fast_noise_aware if noise_aware else is_fast
    rng = np.random.default_rng(seed)
    reps = np.zeros((n_sub, len(ks)))
    tasks = list(candidates_by_task.values())
    for ki, k in enumerate(ks):
        for r in range(n_sub):
            total = 0.0
            for cands in tasks:
                if not cands:
                    continue
                take = rng.choice(len(cands), size=min(k, len(cands)), replace=False)
                total += sum(w * fast(c) for c, w in chooser.pick([cands[i] for i in take], rank_by))
            reps[r, ki] = total / len(tasks)
    mean = reps.mean(axis=0)
    half = 1.96 * reps.std(axis=0, ddof=1) / math.sqrt(n_sub) if n_sub > 1 else np.zeros(len(ks))
    return BestOfK(strategy, ks, [float(v) for v in mean], False, [float(v) for v in mean - half],
                   [float(v) for v in mean + half], rank_by=rank_by)


def best_of_k_curve(candidates_by_task: dict[str, list[Candidate]], ks: list[int] | None = None, *,
                    noise_aware: bool = False) -> list[tuple[int, float]]:
    """The oracle's best-of-K curve as (K, fast_1) points: `1 - C(n-c, K)/C(n, K)` per task, averaged
    (noise-aware: the chance that the fastest sample drawn has its speedup interval above 1)."""
    curve = best_of_k(candidates_by_task, "oracle", ks, noise_aware=noise_aware)
    return list(zip(curve.ks, curve.fast_1))


@dataclass
class EquivalentK:
    value: float | None   # None: outside the curve (see label)
    label: str            # "< 1", "> 64", or the value


def equivalent_k(curve: list[tuple[int, float]], target: float) -> EquivalentK:
    """The K at which the oracle's best-of-K curve reaches `target`, interpolated linearly in log K.

    Below the curve's start (K=1, the sample fast_1) it is "< 1"; above its
    end, "> K_max".
    """
    if not curve:
        return EquivalentK(None, "-")
    ks = [k for k, _ in curve]
    vals = [v for _, v in curve]
    if target < vals[0] - 1e-12:
        return EquivalentK(None, f"< {ks[0]}")
    if target > vals[-1] + 1e-12:
        return EquivalentK(None, f"> {ks[-1]}")
    for i, v in enumerate(vals):
        if v >= target - 1e-12:
            if i == 0 or v == vals[i - 1]:
                k = float(ks[i])
            else:
                t = (target - vals[i - 1]) / (v - vals[i - 1])
                k = math.exp(math.log(ks[i - 1]) + t * (math.log(ks[i]) - math.log(ks[i - 1])))
            return EquivalentK(k, f"{k:.1f}")
    return EquivalentK(None, f"> {ks[-1]}")
