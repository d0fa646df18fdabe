"""What a selection strategy sees and returns."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from ..store import Candidate
from ..surprisal import rank_value


@dataclass
class Group:
    """Correct samples of one task with identical extracted code.

    They share one evaluation. `count` keeps how many samples wrote this code
    (a random sample lands on it that much more often). The representative is
    the lowest sample index; a strategy that ranks by surprisal sees the group
    through the member it ranks by (`highest` / `lowest`), so the code the
    model wrote least surely is picked by the sample that wrote it so.
    """

    representative: Candidate
    count: int
    sample_idxs: list[int] = field(default_factory=list)
    members: list[Candidate] = field(default_factory=list)

    def _value(self, cand: Candidate, rank_by: str) -> float:
        value = rank_value(cand.surprisal, cand.mean_nll, rank_by)
        return float("-inf") if value is None else value

    def highest(self, rank_by: str) -> "Group":
        best = max(self.members or [self.representative], key=lambda c: (self._value(c, rank_by), -c.sample_idx))
        return replace(self, representative=best)

    def lowest(self, rank_by: str) -> "Group":
        best = min(self.members or [self.representative], key=lambda c: (self._value(c, rank_by), c.sample_idx))
        return replace(self, representative=best)

    @property
    def speedup(self) -> float:
        return self.representative.speedup or 0.0

    def rank(self, rank_by: str) -> float:
        value = rank_value(self.representative.surprisal, self.representative.mean_nll, rank_by)
        return float("-inf") if value is None else value


# A pick is a distribution over groups: one entry of weight 1 for a
# deterministic strategy, several for `random` (its exact expectation).
Pick = list[tuple[Group, float]]


class Strategy(Protocol):
    name: str
    description: str

    def pick(self, groups: list[Group], rank_by: str) -> Pick:
        ...


def normalise_code(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def correct_groups(candidates: list[Candidate]) -> list[Group]:
    """Deduplicate a task's correct candidates by code, ordered by sample index."""
    groups: dict[str, Group] = {}
    for cand in sorted(candidates, key=lambda c: c.sample_idx):
        if not cand.correct or cand.code is None:
            continue
        key = normalise_code(cand.code)
        if key in groups:
            groups[key].count += 1
            groups[key].sample_idxs.append(cand.sample_idx)
            groups[key].members.append(cand)
        else:
            groups[key] = Group(representative=cand, count=1, sample_idxs=[cand.sample_idx], members=[cand])
    return list(groups.values())


def by_rank_desc(groups: list[Group], rank_by: str) -> list[Group]:
    """Highest surprisal first (each group seen through its highest member); ties go to the lower index."""
    return sorted((g.highest(rank_by) for g in groups), key=lambda g: (-g.rank(rank_by), g.representative.sample_idx))
