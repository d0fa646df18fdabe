"""Surprisal-budgeted evaluation (`--time-top N`): which samples to check and time, in which order.

The paper's compute-optimal search evaluates 3 candidates instead of 64.
For each task, once all its samples exist, samples are checked in
descending surprisal (the run's rank key) until N correct ones are found;
those are timed, and so is the most confident correct sample (found by
checking from the bottom of the ranking), so that the comparison with it
stays possible. Nothing else is compiled, checked or timed, except an
optional random audit of M of the samples left out, which estimates what
the budget missed.

Every evaluation submitted is a full one (check, then time if correct):
a sample is only submitted while, were every sample still in flight above
it correct, it would still be among the top N. So any sample found correct
is one that must be timed, and no check is run twice. Up to N samples of a
task are in flight at once (the number still needed), and tasks run side by
side, which keeps the evaluator busy.

The scheduler is plain state: the engine feeds it outcomes and dispatches
the actions it returns. On resume it is rebuilt from the stored outcomes
and comes to the same decisions (the audit draw is seeded by run and task).
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from .store import Candidate
from .surprisal import rank_value

AUDIT_FLAG = "audit"
OUTSIDE_FLAG = "outside_budget"

UNKNOWN, PENDING, CORRECT, INCORRECT, OUTSIDE = "unknown", "pending", "correct", "incorrect", "outside"


@dataclass(frozen=True)
class Action:
    kind: str          # "evaluate" or "skip"
    sample_id: int
    role: str          # "top", "confident", "audit" or "outside"
    reason: str = ""   # why a skipped sample was not evaluated


@dataclass
class TaskBudget:
    task_id: str
    order: list[int]               # sample ids with code and a rank value, highest rank first
    ascending: list[int]           # the same, lowest first (ties: lower sample index first, as most-confident)
    unranked: list[int]            # sample ids with code but no rank value: never in the fronts
    time_top: int
    audit: int
    seed: str
    state: dict[int, str] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)
    audited: set[int] = field(default_factory=set)   # from an earlier, interrupted pass
    finalised: bool = False

    # -- the two fronts --------------------------------------------------
    def _top_front(self, out: list[Action]) -> bool:
        """Submit down the ranking while the top N is still open; True once it is settled."""
        correct = pending = 0
        exhausted = True
        for sid in self.order:
            st = self.state[sid]
            if st == CORRECT:
                correct += 1
            elif st == PENDING:
                pending += 1
            elif st in (UNKNOWN, OUTSIDE):
                if correct + pending >= self.time_top:
                    exhausted = False
                    break
                self._submit(sid, "top", out)
                pending += 1
            if correct >= self.time_top:
                exhausted = False
                break
        return pending == 0 and (correct >= self.time_top or exhausted)

    def _confident_front(self, out: list[Action]) -> bool:
        """Check up from the bottom of the ranking, one at a time, until a correct sample; True once found (or none)."""
        for sid in self.ascending:
            st = self.state[sid]
            if st == CORRECT:
                return True
            if st == INCORRECT:
                continue
            if st == PENDING:
                return False
            self._submit(sid, "confident", out)
            return False
        return True

    def _submit(self, sid: int, role: str, out: list[Action]) -> None:
        self.state[sid] = PENDING
        self.roles.setdefault(sid, role)
        out.append(Action("evaluate", sid, self.roles[sid]))

    def _finalise(self, out: list[Action]) -> None:
        """Audit M of the samples the fronts never reached; mark the rest as not evaluated."""
        self.finalised = True
        untouched = sorted(sid for sid in self.order + self.unranked
                           if self.state[sid] in (UNKNOWN, OUTSIDE) or sid in self.audited)
        chosen = set(random.Random(self.seed).sample(untouched, min(self.audit, len(untouched))))
        ranked = set(self.order)
        for sid in untouched:
            if sid in chosen:
                if self.state[sid] in (UNKNOWN, OUTSIDE):
                    self._submit(sid, "audit", out)
                else:
                    self.roles[sid] = "audit"
            elif self.state[sid] == UNKNOWN:
                self.state[sid] = OUTSIDE
                self.roles[sid] = "outside"
                why = "outside the surprisal budget" if sid in ranked else "no surprisal to rank it by"
                out.append(Action("skip", sid, "outside",
                                  f"not evaluated: {why} (--time-top {self.time_top})"))

    def step(self) -> list[Action]:
        if self.finalised:
            return []
        out: list[Action] = []
        top_done = self._top_front(out)
        confident_done = self._confident_front(out)
        if top_done and confident_done and not any(s == PENDING for s in self.state.values()):
            self._finalise(out)
        return out


class BudgetScheduler:
    """The budget of every task of a run; thread-safe (outcomes arrive from evaluation callbacks)."""

    def __init__(self, time_top: int, *, audit: int = 0, rank_by: str = "surprisal", seed: int = 0):
        if time_top < 1:
            raise ValueError("--time-top must be at least 1")
        if audit < 0:
            raise ValueError("--audit must be at least 0")
        self.time_top = int(time_top)
        self.audit = int(audit)
        self.rank_by = rank_by
        self.seed = seed
        self._tasks: dict[str, TaskBudget] = {}
        self._lock = threading.RLock()

    def start(self, task_id: str, candidates: list[Candidate]) -> list[Action]:
        """Take a task whose samples all exist (with any outcomes already stored); returns the first actions."""
        with self._lock:
            with_code = [c for c in candidates if c.code]
            ranked = [c for c in with_code if rank_value(c.surprisal, c.mean_nll, self.rank_by) is not None]
            ranked.sort(key=lambda c: (-rank_value(c.surprisal, c.mean_nll, self.rank_by), c.sample_idx))
            ranked_ids = [c.sample_id for c in ranked]
            ascending = [c.sample_id for c in sorted(ranked, key=lambda c: (
                rank_value(c.surprisal, c.mean_nll, self.rank_by), c.sample_idx))]
            budget = TaskBudget(task_id, ranked_ids, ascending,
                                [c.sample_id for c in with_code if c.sample_id not in set(ranked_ids)],
                                self.time_top, self.audit, f"{self.seed}:{task_id}")
            for c in with_code:
                budget.state[c.sample_id] = _stored_state(c)
                if AUDIT_FLAG in c.flags:
                    budget.audited.add(c.sample_id)
            self._tasks[task_id] = budget
            return budget.step()

    def record(self, task_id: str, sample_id: int, correct: bool) -> list[Action]:
        """An evaluation finished; returns what to do next for its task."""
        with self._lock:
            budget = self._tasks.get(task_id)
            if budget is None or budget.state.get(sample_id) != PENDING:
                return []
            budget.state[sample_id] = CORRECT if correct else INCORRECT
            return budget.step()

    def role(self, task_id: str, sample_id: int) -> str | None:
        with self._lock:
            budget = self._tasks.get(task_id)
            return budget.roles.get(sample_id) if budget else None

    def describe(self, task_id: str, sample_id: int) -> dict | None:
        """What the stored result records about the budget (None outside a budgeted task)."""
        role = self.role(task_id, sample_id)
        if role is None:
            return None
        return {"role": role, "time_top": self.time_top, "audit": self.audit, "rank_by": self.rank_by}


def _stored_state(c: Candidate) -> str:
    if c.outcome is None:
        return UNKNOWN
    if OUTSIDE_FLAG in c.flags:
        return OUTSIDE
    return CORRECT if c.correct else INCORRECT


def skipped_result(action: Action) -> dict:
    """The stored result of a sample the budget left out."""
    return {"outcome": "skipped", "error": action.reason, "flags": [OUTSIDE_FLAG],
            "budget": {"role": "outside"}}


__all__ = ["AUDIT_FLAG", "OUTSIDE_FLAG", "Action", "BudgetScheduler", "TaskBudget", "skipped_result"]
