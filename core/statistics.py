"""The paper's statistics: estimators only, pure functions, no I/O.

Inputs are a run's candidates grouped by task (`{task: [Candidate]}`); for
several runs pooled, the keys are (run, task) units and `clusters` maps each
unit to its task, so that intervals resample tasks, not seeds.

- fast_1 of a strategy: share of tasks whose pick is correct and faster than
  the reference (speedup > 1); a task without a correct sample counts 0;
  `random` enters as its exact expectation. Noise-aware: the lower end of
  the pick's speedup interval must exceed 1. Intervals: percentile bootstrap
  over tasks (clusters of task x seed units when runs are pooled).
- A correct pick that was never timed has no speedup: it is not fast, it is
  counted apart (`n_untimed`), and it stays out of the speedup means.
- Mean speedup: arithmetic over tasks, 0 where there is no correct pick;
  geometric mean: over timed picks only.
- Best-of-K: exact expectations over the K-of-n subsets for oracle, random
  and the rank-and-keep-the-fastest strategies; subsampling otherwise.
- Paired tests between strategies: Wilcoxon signed-rank on per-task log
  speedup ratios (an incorrect pick enters as speedup 1e-6), exact sign
  test on the tasks where one pick is fast and the other not.

`best_of_k_exact`, `strategy_table` and the rest take plain Candidates and
return dataclasses or dicts, so the CLI, the report and the terminal app
all read the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .budget import AUDIT_FLAG, OUTSIDE_FLAG
from .review import needs_review
from .selection import DEFAULT_ORDER, STRATEGIES
from .selection.base import is_scored, ranked_correct
from .store import Candidate

INCORRECT_SPEEDUP = 1e-6   # the paper's stand-in for an incorrect pick in the Wilcoxon test
N_BOOT = 2000
LEVEL = 0.95


# -- budget --------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """A surprisal-budgeted run (`--time-top N`): only the N highest-ranked
    correct samples (by `rank_by`) and the most confident one were timed."""

    time_top: int
    rank_by: str = "surprisal"
    audit: int = 0


def computable(strategy: str, rank_by: str, budget: Budget | None) -> bool:
    """Whether a strategy's pick can be read off a run evaluated under `budget`."""
    if budget is None:
        return True
    s = STRATEGIES.get(strategy)
    if s.needs_top is None:
        return False
    if s.ranks and rank_by != budget.rank_by:
        return False
    return s.needs_top <= budget.time_top


# -- per-task outcome of a pick -----------------------------------------
def is_fast(cand: Candidate) -> bool:
    return cand.outcome == "correct" and cand.speedup is not None and cand.speedup > 1.0


def is_fast_noise_aware(cand: Candidate) -> bool:
    return cand.correct and cand.speedup_lo is not None and cand.speedup_lo > 1.0


@dataclass
class TaskPick:
    """One strategy's pick on one task; fractional for `random` (an expectation)."""

    unit: str
    has_pick: bool
    fast: float = 0.0
    fast_noise_aware: float = 0.0
    untimed: float = 0.0               # weight of correct picks without a timing
    speedup: float = 0.0               # expected speedup over timed picks (weights renormalised)
    log_speedup: float | None = None   # expected log speedup over timed picks
    flagged: float = 0.0
    fast_unflagged: float = 0.0
    sample_idx: int | None = None      # the pick (deterministic strategies)


def task_picks(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str = "surprisal") -> list[TaskPick]:
    chooser = STRATEGIES.get(strategy)
    out = []
    for unit, cands in candidates_by_task.items():
        # every strategy picks among correct samples: hand it those only (the stats screen's hot path)
        pick = chooser.pick([c for c in cands if c.outcome == "correct"], rank_by)
        tp = TaskPick(unit=unit, has_pick=bool(pick))
        timed_w = 0.0
        speed = logs = 0.0
        for cand, w in pick:
            flagged = needs_review(cand.flags)
            tp.fast += w * is_fast(cand)
            tp.fast_noise_aware += w * is_fast_noise_aware(cand)
            tp.flagged += w * flagged
            tp.fast_unflagged += w * (is_fast(cand) and not flagged)
            if cand.speedup is None:
                tp.untimed += w
            else:
                timed_w += w
                speed += w * cand.speedup
                logs += w * math.log(max(cand.speedup, INCORRECT_SPEEDUP))
        if timed_w > 0:
            tp.speedup = speed / timed_w
            tp.log_speedup = logs / timed_w
        if len(pick) == 1:
            tp.sample_idx = pick[0][0].sample_idx
        out.append(tp)
    return out


# -- bootstrap -----------------------------------------------------------
def bootstrap_mean_ci(values, clusters=None, *, n_boot: int = N_BOOT, level: float = LEVEL,
                      seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a mean.

    With `clusters` (one label per value) whole clusters are resampled (e.g.
    a task with all its seeds), and each replicate's mean is over the values
    its clusters hold. None for no values.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0 or n_boot <= 0:
        return None
    if clusters is None:
        sums, counts = x, np.ones_like(x)
    else:
        labels = {}
        idx = np.array([labels.setdefault(c, len(labels)) for c in clusters])
        sums = np.bincount(idx, weights=x)
        counts = np.bincount(idx).astype(float)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, sums.size, size=(n_boot, sums.size))
    reps = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(lo), float(hi)


def paired_block_bootstrap_ci(reference_blocks, candidate_blocks, *, n_boot: int = N_BOOT, level: float = LEVEL,
                              seed: int = 0) -> tuple[float, float] | None:
    """Interval of the speedup median(reference) / median(candidate) from paired, interleaved timing blocks.

    Block i of the candidate and block i of the reference were timed one
    after the other (gpu_eval/measure.py), so a drift of the machine moves
    both alike. A replicate draws block *indices* with replacement and takes
    both sides' blocks at those indices: the pairing and the correlation
    inside a block are kept, which resampling each side's single calls
    independently throws away. Percentile interval; None without two pairs.
    """
    pairs = [(np.asarray(r, float), np.asarray(c, float)) for r, c in zip(reference_blocks, candidate_blocks)
             if len(r) and len(c)]
    if len(pairs) < 2 or n_boot <= 0:
        return None
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(pairs), [1 / len(pairs)] * len(pairs), size=n_boot)   # (n_boot, blocks)
    ref = _weighted_medians([p[0] for p in pairs], counts)
    cand = _weighted_medians([p[1] for p in pairs], counts)
    ok = cand > 0
    if not ok.any():
        return None
    ratios = ref[ok] / cand[ok]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _weighted_medians(blocks: list[np.ndarray], counts: np.ndarray) -> np.ndarray:
    """Median of each replicate's concatenation, block b repeated counts[r, b] times (as statistics.median)."""
    values = np.concatenate(blocks)
    block_of = np.concatenate([np.full(len(b), i) for i, b in enumerate(blocks)])
    order = np.argsort(values, kind="stable")
    values, block_of = values[order], block_of[order]
    weights = counts[:, block_of]                    # (n_boot, calls)
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    lower = np.argmax(cum >= ((total + 1) // 2)[:, None], axis=1)   # 1-based position ceil(T/2)
    upper = np.argmax(cum >= (total // 2 + 1)[:, None], axis=1)     # 1-based position T/2 + 1
    return (values[lower] + values[upper]) / 2


def speedup_interval(result: dict, *, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float] | None:
    """The paired block-bootstrap interval of a stored evaluation result, from its per-block times
    (`timing_blocks`: {"reference": [[ms, ...], ...], "candidate": [...]}); None when it has none."""
    blocks = result.get("timing_blocks") or {}
    if not blocks.get("reference") or not blocks.get("candidate"):
        return None
    return paired_block_bootstrap_ci(blocks["reference"], blocks["candidate"], n_boot=n_boot, seed=seed)


def interval_coverage(intervals, truth: float) -> float | None:
    """Share of intervals [lo, hi] that hold `truth` (a coverage check over repeated evaluations)."""
    held = [lo <= truth <= hi for lo, hi in intervals if lo is not None and hi is not None]
    return sum(held) / len(held) if held else None


# -- strategy table ------------------------------------------------------
@dataclass
class StrategyRow:
    strategy: str
    fast_1: float | None
    fast_1_noise_aware: float | None
    mean_speedup: float | None
    geomean_speedup: float | None
    n_tasks: int
    n_picks: int            # tasks with a pick
    n_flagged: float        # picks held for review (expected count for random)
    fast_1_unflagged: float | None  # fast_1 with flagged picks counted as misses
    rank_by: str = "surprisal"
    fast_1_ci: tuple[float, float] | None = None
    fast_1_noise_aware_ci: tuple[float, float] | None = None
    n_untimed: float = 0.0  # correct picks without a timing: counted apart, no speedup
    n_unscored: int = 0     # samples without a surprisal, left out (ranking strategies only)
    computable: bool = True  # False: the run's surprisal budget did not evaluate what it needs


def strategy_row(candidates_by_task: dict[str, list[Candidate]], strategy: str, rank_by: str = "surprisal", *,
                 budget: Budget | None = None, clusters: dict[str, str] | None = None, n_boot: int = N_BOOT,
                 seed: int = 0, n_unscored: int | None = None) -> StrategyRow:
    n = len(candidates_by_task)
    ranks = STRATEGIES.get(strategy).ranks
    if n_unscored is None:
        n_unscored = sum(unscored_count(c, rank_by) for c in candidates_by_task.values())
    unscored = n_unscored if ranks else 0
    if not computable(strategy, rank_by, budget):
        return StrategyRow(strategy, None, None, None, None, n, 0, 0.0, None, rank_by, n_unscored=unscored,
                           computable=False)
    picks = task_picks(candidates_by_task, strategy, rank_by)
    labels = [clusters.get(p.unit, p.unit) for p in picks] if clusters else None
    fast = [p.fast for p in picks]
    noise = [p.fast_noise_aware for p in picks]
    untimed = sum(p.untimed for p in picks)
    # mean over tasks, 0 where no correct pick; an untimed pick's share of its task stays out
    speed_num = sum(p.speedup * (1 - p.untimed) for p in picks)
    speed_den = n - untimed
    logs = [p.log_speedup for p in picks if p.log_speedup is not None]
    return StrategyRow(
        strategy=strategy,
        fast_1=sum(fast) / n if n else 0.0,
        fast_1_noise_aware=sum(noise) / n if n else 0.0,
        mean_speedup=speed_num / speed_den if speed_den > 0 else None,
        geomean_speedup=math.exp(sum(logs) / len(logs)) if logs else None,
        n_tasks=n,
        n_picks=sum(p.has_pick for p in picks),
        n_flagged=round(sum(p.flagged for p in picks), 6),
        fast_1_unflagged=sum(p.fast_unflagged for p in picks) / n if n else 0.0,
        rank_by=rank_by,
        fast_1_ci=bootstrap_mean_ci(fast, labels, n_boot=n_boot, seed=seed),
        fast_1_noise_aware_ci=bootstrap_mean_ci(noise, labels, n_boot=n_boot, seed=seed),
        n_untimed=round(untimed, 6),
        n_unscored=unscored,
    )


def strategy_table(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal",
                   strategies: list[str] | None = None, *, budget: Budget | None = None,
                   clusters: dict[str, str] | None = None, n_boot: int = N_BOOT, seed: int = 0) -> list[StrategyRow]:
    unscored = sum(unscored_count(c, rank_by) for c in candidates_by_task.values())
    return [strategy_row(candidates_by_task, s, rank_by, budget=budget, clusters=clusters, n_boot=n_boot, seed=seed,
                         n_unscored=unscored) for s in (strategies or DEFAULT_ORDER)]


def unscored_count(candidates: list[Candidate], rank_by: str = "surprisal") -> int:
    """Samples of a task without a rank value: left out of the ranking strategies."""
    return sum(1 for c in candidates if getattr(c, rank_by) is None)


def sample_fast_1(candidates_by_task: dict[str, list[Candidate]]) -> float:
    """Share of all samples that are correct and faster than the reference."""
    all_cands = [c for cands in candidates_by_task.values() for c in cands]
    if not all_cands:
        return 0.0
    return sum(is_fast(c) for c in all_cands) / len(all_cands)


# -- several runs --------------------------------------------------------
def pool_runs(runs: list[dict[str, list[Candidate]]], labels: list[str] | None = None
              ) -> tuple[dict[str, list[Candidate]], dict[str, str]]:
    """Pool runs (e.g. the same tasks under 2 seeds) into task x run units.

    Returns the units' candidates (keys "LABEL:TASK") and the unit -> task map
    that the bootstrap resamples by.
    """
    labels = labels or [str(i) for i in range(len(runs))]
    units, clusters = {}, {}
    for label, by_task in zip(labels, runs):
        for task, cands in by_task.items():
            key = f"{label}:{task}"
            units[key] = cands
            clusters[key] = task
    return units, clusters


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
    d = np.minimum(np.asarray(draws), n)
    return np.exp(_log_comb(n - bad, d) - _log_comb(n, d))


def _top_m_fast(fast_in_rank_order: list[bool], n: int, m: int, ks) -> np.ndarray:
    """P(the fastest of the first m ranked correct samples drawn is fast), per K.

    For a fast sample at rank j, with a_j non-fast correct samples ranked
    above it: it is the first fast one drawn and among the first m correct
    drawn when none of the fast ones above it is drawn and s <= m-1 of the
    a_j are: C(a_j, s) * C(n-j, d-1-s) / C(n, d) subsets, summed.
    """
    d = np.minimum(np.asarray(ks), n).astype(float)
    total = np.zeros_like(d)
    slow_above = 0
    for j, fast in enumerate(fast_in_rank_order, start=1):
        if fast:
            for s in range(min(m - 1, slow_above) + 1):
                total += np.exp(_log_comb(slow_above, s) + _log_comb(n - j, d - 1 - s) - _log_comb(n, d))
        else:
            slow_above += 1
    return total


# rank-and-keep-the-fastest strategies with an exact best-of-K: how many top samples each keeps
_TOP_WIDTH = {"surprisal": 1, "most-confident": 1, "surprisal-top3": 3}
EXACT_BEST_OF_K = ("oracle", "random", *_TOP_WIDTH)


def best_of_k_exact(candidates: list[Candidate], strategy: str, ks, rank_by: str = "surprisal") -> np.ndarray | None:
    """One task's expected fast_1 for each K of `ks`, drawing K of its n samples; None where no formula is known."""
    n = len(candidates)
    ks = np.asarray(ks)
    if n == 0:
        return np.zeros(len(ks))
    s = STRATEGIES.get(strategy)
    if strategy == "oracle":
        n_fast = sum(is_fast(c) for c in candidates)
        return 1.0 - prob_none_drawn(n, n_fast, ks)
    if strategy == "random":
        correct = [c for c in candidates if c.correct]
        if not correct:
            return np.zeros(len(ks))
        # given one correct sample drawn, the pick is uniform over all correct ones (exchangeability)
        share = sum(is_fast(c) for c in correct) / len(correct)
        return share * (1.0 - prob_none_drawn(n, len(correct), ks))
    width = _TOP_WIDTH.get(strategy)
    if width is None or not s.ranks:
        return None
    ranked = ranked_correct(candidates, rank_by, descending=strategy != "most-confident")
    return _top_m_fast([is_fast(c) for c in ranked], n, width, ks)


def best_of_k(candidates_by_task: dict[str, list[Candidate]], strategy: str, ks=None, rank_by: str = "surprisal", *,
              n_sub: int = 64, seed: int = 0) -> BestOfK:
    """Expected fast_1 when only K of each task's samples had been drawn, for each K.

    Exact where a formula exists (oracle, random, surprisal, most-confident,
    surprisal-top3); otherwise the mean over `n_sub` random K-subsets per
    task, with a 95% interval of that Monte Carlo mean.
    """
    if not candidates_by_task:
        return BestOfK(strategy, [], [], True, rank_by=rank_by)
    if ks is None:
        ks = list(range(1, max(len(c) for c in candidates_by_task.values()) + 1))
    ks = list(ks)
    per_task = [best_of_k_exact(c, strategy, ks, rank_by) for c in candidates_by_task.values()]
    if all(p is not None for p in per_task):
        mean = np.mean(per_task, axis=0)
        return BestOfK(strategy, ks, [float(v) for v in mean], True, rank_by=rank_by)
    chooser = STRATEGIES.get(strategy)
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
                total += sum(w * is_fast(c) for c, w in chooser.pick([cands[i] for i in take], rank_by))
            reps[r, ki] = total / len(tasks)
    mean = reps.mean(axis=0)
    half = 1.96 * reps.std(axis=0, ddof=1) / math.sqrt(n_sub) if n_sub > 1 else np.zeros(len(ks))
    return BestOfK(strategy, ks, [float(v) for v in mean], False, [float(v) for v in mean - half],
                   [float(v) for v in mean + half], rank_by=rank_by)


def best_of_k_curve(candidates_by_task: dict[str, list[Candidate]], ks: list[int] | None = None) -> list[tuple[int, float]]:
    """The oracle's best-of-K curve as (K, fast_1) points: `1 - C(n-c, K)/C(n, K)` per task, averaged."""
    curve = best_of_k(candidates_by_task, "oracle", ks)
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


# -- surprisal / mean NLL against speedup --------------------------------
def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, xs.size])
    ranks = np.empty(x.size)
    ranks[order] = first[group] + (counts[group] + 1) / 2
    return ranks


def spearman(x, y, *, p_value: bool = True) -> tuple[float | None, float | None]:
    """Spearman rho (Pearson on average ranks) and its two-sided p-value from the t distribution, as scipy's
    spearmanr computes them; (None, None) for fewer than 3 points or no variation."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 3:
        return None, None
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0:
        return None, None
    rho = max(-1.0, min(1.0, float(rx @ ry) / denom))
    if not p_value:
        return rho, None
    from scipy.stats import t as t_dist

    dof = x.size - 2
    if abs(rho) >= 1.0:
        return rho, 0.0
    t = rho * math.sqrt(dof / ((1.0 - rho) * (1.0 + rho)))
    return rho, float(2 * t_dist.sf(abs(t), dof))


def _spearman(x, y, p_value: bool = True):
    return spearman(x, y, p_value=p_value)


def _timed_correct(cands: list[Candidate], key: str) -> list[Candidate]:
    return [c for c in cands if c.correct and c.speedup is not None and getattr(c, key) is not None]


def expert_tail(candidates: list[Candidate], rank_by: str = "surprisal") -> set[int]:
    """Sample indices of the top quarter (rounded up) of a task's correct samples by the rank key."""
    correct = [c for c in candidates if c.correct and getattr(c, rank_by) is not None]
    correct.sort(key=lambda c: (-getattr(c, rank_by), c.sample_idx))
    return {c.sample_idx for c in correct[: math.ceil(len(correct) / 4)]}


def surprisal_speedup_correlation(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal",
                                  *, tail_by: str = "surprisal", p_values: bool = True) -> dict:
    """Spearman rho of `rank_by` (surprisal or mean_nll) against speedup among correct, timed samples.

    Overall: pooled over every task's samples, and the mean of per-task rhos
    (tasks with >= 3 samples and some variation; tasks differ in scale).
    Tail: the same over the top quartile (rounded up) of each task's correct
    samples by `tail_by`, the samples surprisal-top3 chooses among.
    """
    per_task, px, py, tail_tasks, tx, ty = [], [], [], [], [], []
    for cands in candidates_by_task.values():
        pts = _timed_correct(cands, rank_by)
        px += [getattr(c, rank_by) for c in pts]
        py += [c.speedup for c in pts]
        rho, _ = _spearman([getattr(c, rank_by) for c in pts], [c.speedup for c in pts], False)
        if rho is not None:
            per_task.append(rho)
        tail = expert_tail([c for c in pts if getattr(c, tail_by) is not None], tail_by)
        tpts = [c for c in pts if c.sample_idx in tail]
        tx += [getattr(c, rank_by) for c in tpts]
        ty += [c.speedup for c in tpts]
        rho, _ = _spearman([getattr(c, rank_by) for c in tpts], [c.speedup for c in tpts], False)
        if rho is not None:
            tail_tasks.append(rho)
    pooled, pooled_p = _spearman(px, py, p_values)
    tail_rho, tail_p = _spearman(tx, ty, p_values)
    return {
        "key": rank_by,
        "within_task_mean_rho": sum(per_task) / len(per_task) if per_task else None,
        "n_tasks": len(per_task),
        "pooled_rho": pooled,
        "pooled_p": pooled_p,
        "n_samples": len(px),
        "tail_by": tail_by,
        "tail_pooled_rho": tail_rho,
        "tail_pooled_p": tail_p,
        "tail_n_samples": len(tx),
        "tail_within_task_mean_rho": sum(tail_tasks) / len(tail_tasks) if tail_tasks else None,
        "tail_n_tasks": len(tail_tasks),
    }


# -- what a budget left out ----------------------------------------------
def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    from scipy.stats import norm

    if n == 0:
        return None
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def audit_summary(candidates_by_task: dict[str, list[Candidate]], rank_by: str = "surprisal") -> dict:
    """What the random audit of a budgeted run says about the samples the budget never evaluated.

    `beats_pick`: audited samples correct and faster than their task's
    surprisal-top3 pick; scaled by the samples left out, an estimate of how
    many such samples the budget missed.
    """
    n_audited = n_correct = n_beats = n_outside = 0
    for cands in candidates_by_task.values():
        audited = [c for c in cands if AUDIT_FLAG in c.flags]
        n_outside += sum(1 for c in cands if OUTSIDE_FLAG in c.flags) + len(audited)
        if not audited:
            continue
        pick = STRATEGIES.get("surprisal-top3").pick(cands, rank_by)
        best = pick[0][0].speedup if pick and pick[0][0].speedup is not None else 0.0
        n_audited += len(audited)
        n_correct += sum(c.correct for c in audited)
        n_beats += sum(1 for c in audited if c.correct and c.speedup is not None and c.speedup > max(best, 1.0))
    share = n_beats / n_audited if n_audited else None
    return {
        "n_tasks": len(candidates_by_task), "n_not_evaluated": n_outside, "n_audited": n_audited,
        "n_correct": n_correct, "n_beats_pick": n_beats,
        "correct_share": n_correct / n_audited if n_audited else None,
        "beats_pick_share": share, "beats_pick_ci": wilson_interval(n_beats, n_audited),
        "estimated_missed": share * n_outside if share is not None else None,
    }


__all__ = [
    "AUDIT_FLAG", "BestOfK", "Budget", "Comparison", "EXACT_BEST_OF_K", "EquivalentK", "INCORRECT_SPEEDUP", "OUTSIDE_FLAG",
    "StrategyRow", "TaskPick", "audit_summary", "best_of_k", "best_of_k_curve", "best_of_k_exact",
    "bootstrap_mean_ci", "cohens_h", "compare_strategies", "computable", "equivalent_k", "expert_tail",
    "interval_coverage", "is_fast", "is_fast_noise_aware", "paired_block_bootstrap_ci", "pool_runs",
    "prob_none_drawn", "sample_fast_1", "sign_test", "strategy_row", "strategy_table",
    "spearman", "speedup_interval", "surprisal_speedup_correlation", "task_picks", "unscored_count", "wilson_interval", "wilcoxon_log_ratio",
]
