"""What a selection strategy sees and returns.

A strategy sees one task's samples (`Candidate`s) and picks among the
correct ones. The paper's rules are over *samples*: two samples that wrote
the same code are two samples (a random draw lands on that code twice as
often, and both can sit in a top 3). Variants over distinct codes carry
their own names.

Samples without a surprisal (imported without logprobs and never scored)
cannot be ranked: the strategies that rank by surprisal leave them out, and
the tables say how many were left out. A correct sample that was never
timed has no speedup: a strategy keeping the fastest prefers a timed one,
and the statistics count an untimed pick apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..store import Candidate
from ..surprisal import rank_value
from .identity import code_identity

# A pick is a distribution over samples: one entry of weight 1 for a
# deterministic strategy, several for `random` (its exact expectation).
Pick = list[tuple[Candidate, float]]


class Strategy(Protocol):
    name: str
    description: str
    # Under a surprisal budget (`--time-top N`) only the N highest-ranked
    # correct samples and the most confident one are checked and timed:
    # `needs_top` is how many top-ranked correct samples the strategy reads
    # (None: it needs every sample), `needs_confident` whether it reads the
    # lowest-ranked correct one.
    needs_top: int | None
    needs_confident: bool
    ranks: bool  # whether it ranks by surprisal (and so leaves unscored samples out)

    def pick(self, candidates: list[Candidate], rank_by: str) -> Pick:
        ...


def is_timed(cand: Candidate) -> bool:
    return cand.speedup is not None


def correct_samples(candidates: list[Candidate]) -> list[Candidate]:
    """A task's correct samples, by sample index."""
    return sorted((c for c in candidates if c.outcome == "correct"), key=lambda c: c.sample_idx)


def is_scored(cand: Candidate, rank_by: str) -> bool:
    return rank_value(cand.surprisal, cand.mean_nll, rank_by) is not None


def ranked_correct(candidates: list[Candidate], rank_by: str, descending: bool = True) -> list[Candidate]:
    """Correct samples that have a rank value, highest first (lowest with `descending=False`).

    Ties go to the lower sample index either way; unscored samples are left out.
    """
    rank_value(None, None, rank_by)  # checks the key
    scored = [c for c in candidates if c.outcome == "correct" and getattr(c, rank_by) is not None]
    sign = -1.0 if descending else 1.0
    return sorted(scored, key=lambda c: (sign * getattr(c, rank_by), c.sample_idx))


def fastest(cands: list[Candidate]) -> Candidate | None:
    """The fastest timed sample (ties: the first in the given order); with none timed, the first one."""
    if not cands:
        return None
    timed = [c for c in cands if is_timed(c)]
    if not timed:
        return cands[0]
    best = timed[0]
    for c in timed[1:]:
        if c.speedup > best.speedup:
            best = c
    return best


@dataclass
class Group:
    """Correct samples of one task that wrote the same code (see identity.py)."""

    identity: str
    members: list[Candidate] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)


def correct_groups(candidates: list[Candidate]) -> list[Group]:
    """A task's correct samples grouped by code identity, groups in order of their first sample."""
    groups: dict[str, Group] = {}
    for cand in correct_samples(candidates):
        if cand.code is None:
            continue
        key = code_identity(cand.code)
        groups.setdefault(key, Group(key)).members.append(cand)
    return list(groups.values())
