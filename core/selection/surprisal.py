from __future__ import annotations

from .base import Pick, ranked_correct


class Surprisal:
    name = "surprisal"
    description = "the correct sample the model was least sure of (highest surprisal)"
    needs_top = 1
    needs_confident = False
    ranks = True

    def pick(self, candidates, rank_by: str) -> Pick:
        ranked = ranked_correct(candidates, rank_by)
        return [(ranked[0], 1.0)] if ranked else []
