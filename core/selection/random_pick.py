from __future__ import annotations

from .base import Group, Pick


class RandomPick:
    """A uniformly random correct sample, as its exact expectation.

    Each distinct code is weighted by how many samples wrote it, which is what
    drawing one correct sample at random gives; no single draw is made.
    """

    name = "random"
    description = "a random correct sample (exact expected value)"

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        total = sum(g.count for g in groups)
        return [(g, g.count / total) for g in groups] if total else []
