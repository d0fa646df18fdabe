"""The paper's compute-optimal rule, and its distinct-code variant."""
from __future__ import annotations

from .base import Pick, fastest, ranked_correct
from .identity import code_identity


class SurprisalTop3:
    name = "surprisal-top3"
    description = "time the 3 highest-surprisal correct samples, keep the fastest"
    width = 3
    needs_top = 3
    needs_confident = False
    ranks = True

    def pick(self, candidates, rank_by: str) -> Pick:
        best = fastest(ranked_correct(candidates, rank_by)[: self.width])
        return [(best, 1.0)] if best is not None else []


class SurprisalTop3Distinct:
    """Like surprisal-top3, over the 3 highest-surprisal distinct codes.

    A code written by several samples is ranked by its highest-surprisal
    sample. Not the paper's rule: where the top samples share code it looks
    further down the ranking than the paper's top 3 does.
    """

    name = "surprisal-top3-distinct"
    description = "time the 3 highest-surprisal distinct correct codes, keep the fastest"
    width = 3
    needs_top = None   # how deep it reads depends on the duplicates
    needs_confident = False
    ranks = True

    def pick(self, candidates, rank_by: str) -> Pick:
        seen: set[str] = set()
        top = []
        for cand in ranked_correct(candidates, rank_by):
            key = code_identity(cand.code) if cand.code is not None else f"#{cand.sample_idx}"
            if key in seen:
                continue
            seen.add(key)
            top.append(cand)
            if len(top) == self.width:
                break
        best = fastest(top)
        return [(best, 1.0)] if best is not None else []
