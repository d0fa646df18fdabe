from __future__ import annotations

from .base import Group, Pick, by_rank_desc


class SurprisalTop3:
    name = "surprisal-top3"
    description = "time the 3 highest-surprisal correct samples, keep the fastest"
    width = 3

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        top = by_rank_desc(groups, rank_by)[: self.width]
        if not top:
            return []
        best = max(top, key=lambda g: (g.speedup, -g.representative.sample_idx))
        return [(best, 1.0)]
