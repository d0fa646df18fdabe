from __future__ import annotations

from .base import Pick, correct_samples


class RandomPick:
    """A uniformly random correct sample, as its exact expectation.

    Every correct sample weighs the same, so a code written by two samples
    weighs twice; no single draw is made.
    """

    name = "random"
    description = "a random correct sample (exact expected value)"
    needs_top = None
    needs_confident = False
    ranks = False

    def pick(self, candidates, rank_by: str) -> Pick:
        correct = correct_samples(candidates)
        return [(c, 1.0 / len(correct)) for c in correct]
