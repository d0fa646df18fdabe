"""The result of pulling a candidate module out of a model reply."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Extraction:
    code: str | None     # full module source ready to evaluate; None when unusable
    start: int           # span of the extracted code in the raw reply
    end: int
    error: str | None    # one line when code is None
    kind: str            # "torch" | "cuda" | "triton"

    @property
    def ok(self) -> bool:
        return self.code is not None


@dataclass
class Reading:
    """One way of reading one block; the best-scoring reading wins."""

    score: float
    code: str | None
    error: str | None
    start: int
    end: int
    kind: str

    def result(self) -> Extraction:
        return Extraction(self.code, self.start, self.end, self.error, self.kind)


NO_CODE = "no code in reply"


def best(readings: list[Reading]) -> Extraction:
    if not readings:
        return Extraction(None, 0, 0, NO_CODE, "torch")
    # max() keeps the first of equal scores: the earliest block wins a tie.
    return max(readings, key=lambda r: r.score).result()
