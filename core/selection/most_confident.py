from __future__ import annotations

from .base import Group, Pick


class MostConfident:
    name = "most-confident"
    description = "the correct sample the model was surest of (lowest surprisal)"

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        if not groups:
            return []
        ordered = sorted((g.lowest(rank_by) for g in groups), key=lambda g: (g.rank(rank_by), g.representative.sample_idx))
        return [(ordered[0], 1.0)]

