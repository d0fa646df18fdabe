from __future__ import annotations

from .base import Group, Pick, by_rank_desc


class Surprisal:
    name = "surprisal"
    description = "the correct sample the model was least sure of (highest surprisal)"

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        if not groups:
            return []
        return [(by_rank_desc(groups, rank_by)[0], 1.0)]
