"""Which sample each deterministic strategy picks, for tables that mark picks per row."""
from __future__ import annotations

from . import DEFAULT_ORDER, STRATEGIES


def picks_by_sample(candidates, rank_by: str = "surprisal", strategies: list[str] | None = None) -> dict[int, list[str]]:
    """sample_idx -> names of the deterministic strategies that pick it (in table order).

    `random` picks no single sample (it is an expectation over all correct
    ones), so it never appears.
    """
    picked: dict[int, list[str]] = {}
    for name in strategies or DEFAULT_ORDER:
        if name == "random":
            continue
        for cand, _weight in STRATEGIES.get(name).pick(candidates, rank_by):
            picked.setdefault(cand.sample_idx, []).append(name)
    return picked


def picks_by_strategy(candidates, rank_by: str = "surprisal") -> dict[str, int]:
    """strategy name -> the sample_idx it picks (deterministic strategies with a pick only)."""
    out: dict[str, int] = {}
    for idx, names in picks_by_sample(candidates, rank_by).items():
        for name in names:
            out[name] = idx
    return out
