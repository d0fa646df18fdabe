from __future__ import annotations

from .base import Group, Pick


class Oracle:
    name = "oracle"
    description = "the fastest correct sample (needs every sample timed)"

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        if not groups:
            return []
        best = max(groups, key=lambda g: (g.speedup, -g.representative.sample_idx))
        return [(best, 1.0)]
