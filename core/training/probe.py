"""The over-sharpening probe and the diversity of a step's samples.

Probe: a fixed set of best-of-N samples with known speedups (the paper used
320) is scored by every checkpoint of a training run. Per checkpoint we give
the Spearman correlation between each sample's mean NLL under that
checkpoint and its speedup, over the whole set and over its bottom quartile
(the samples whose speedup is at or below the set's 25th percentile). The
samples and their speedups never change, only the scorer, so a correlation
that grows more negative step after step means the adapted model grows more
sure of its slower solutions: over-sharpening (paper: -0.198 -> -0.275
overall, -0.24 -> -0.44 in the bottom quartile).

Diversity of a step: how many distinct codes its samples wrote, and the mean
edit distance between two correct samples of the same task, counted in code
tokens (identifiers, numbers, single punctuation marks) of the code the model
wrote.
"""
from __future__ import annotations

import itertools
import math
import random
import re

MAX_PAIRS_PER_TASK = 500
_CODE_TOKEN = re.compile(r"\w+|[^\w\s]")


def select_probe_samples(candidates, n: int) -> list:
    """Up to `n` correct samples with a speedup, spread evenly over the tasks (index order within each)."""
    by_task: dict[str, list] = {}
    for c in sorted(candidates, key=lambda c: (c.task_id, c.sample_idx)):
        if c.correct and c.speedup is not None and math.isfinite(c.speedup):
            by_task.setdefault(c.task_id, []).append(c)
    picked = []
    for round_ in itertools.zip_longest(*by_task.values()):
        picked += [c for c in round_ if c is not None]
    return picked[:n]


def _spearman(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    from scipy.stats import spearmanr

    result = spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    return (None, None) if math.isnan(rho) else (rho, p)


def probe_correlation(mean_nlls: list[float], speedups: list[float]) -> dict:
    """Spearman rho (mean NLL vs speedup) over all probe samples and over the bottom speedup quartile."""
    pairs = [(n, s) for n, s in zip(mean_nlls, speedups) if n is not None and s is not None]
    rho, p = _spearman([a for a, _ in pairs], [b for _, b in pairs])
    out = {"rho": rho, "p": p, "n": len(pairs), "mean_nll": (math.fsum(a for a, _ in pairs) / len(pairs)) if pairs else None,
           "rho_bottom_quartile": None, "p_bottom_quartile": None, "n_bottom_quartile": 0}
    if pairs:
        import numpy as np

        cut = float(np.quantile([b for _, b in pairs], 0.25))
        bottom = [(a, b) for a, b in pairs if b <= cut]
        rho_b, p_b = _spearman([a for a, _ in bottom], [b for _, b in bottom])
        out.update(rho_bottom_quartile=rho_b, p_bottom_quartile=p_b, n_bottom_quartile=len(bottom))
    return out


def code_tokens(code: str) -> list[str]:
    return _CODE_TOKEN.findall(code or "")


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two token lists (one numpy pass per row)."""
    import numpy as np

    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    vocab: dict = {}
    av = np.array([vocab.setdefault(t, len(vocab)) for t in a])
    bv = np.array([vocab.setdefault(t, len(vocab)) for t in b])
    prev = np.arange(len(bv) + 1)
    idx = np.arange(len(bv) + 1)
    for i, token in enumerate(av, 1):
        # substitution or match, and deletion; then insertions as a running minimum along the row
        row = np.empty(len(bv) + 1, dtype=prev.dtype)
        row[0] = i
        row[1:] = np.minimum(prev[:-1] + (bv != token), prev[1:] + 1)
        prev = np.minimum.accumulate(row - idx) + idx
    return int(prev[-1])


def diversity(samples: list[dict]) -> dict:
    """Distinct codes and mean pairwise edit distance of correct samples, from rows with task_id, code,
    correct, and the model's own code text as `written` (else `code`)."""
    by_task: dict[str, list[dict]] = {}
    for s in samples:
        by_task.setdefault(s["task_id"], []).append(s)
    distinct = with_code = 0
    distances: list[int] = []
    for task_id, rows in by_task.items():
        codes = [r["code"] for r in rows if r.get("code")]
        with_code += len(codes)
        distinct += len(set(codes))
        correct = [code_tokens(r.get("written") or r.get("code") or "") for r in rows if r.get("correct")]
        pairs = list(itertools.combinations(range(len(correct)), 2))
        if len(pairs) > MAX_PAIRS_PER_TASK:  # a fixed subset, the same on every run
            pairs = random.Random(task_id).sample(pairs, MAX_PAIRS_PER_TASK)
        distances += [edit_distance(correct[i], correct[j]) for i, j in pairs]
    return {
        "n_samples": len(samples),
        "samples_with_code": with_code,
        "distinct_codes": distinct,
        "distinct_share": distinct / len(samples) if samples else None,
        "mean_edit_distance": math.fsum(distances) / len(distances) if distances else None,
        "n_pairs": len(distances),
    }


__all__ = ["code_tokens", "diversity", "edit_distance", "probe_correlation", "select_probe_samples"]
