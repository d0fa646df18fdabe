from __future__ import annotations

from .base import Pick, ranked_correct


class MostConfident:
    name = "most-confident"
    description = "the correct sample the model was surest of (lowest surprisal)"
    needs_top = 0
    needs_confident = True
    ranks = True

    def pick(self, candidates, rank_by: str) -> Pick:
        ranked = ranked_correct(candidates, rank_by, descending=False)
        return [(ranked[0], 1.0)] if ranked else []
