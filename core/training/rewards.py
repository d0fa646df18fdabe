"""Rewards and advantages of batch TTT.

The reward of a correct sample is its speedup over the median of the task's
last `window` correct speedups, floored at 0, plus `correct_bonus`; the
median starts at 1.0 (no history yet), so the first correct samples of a task
earn their plain speedup. Each correct sample with a positive speedup joins
the history *after* its own reward is taken, in a fixed order (tasks in run
order, samples by index), and the history carries over from step to step.
An incorrect sample earns 0. This is the paper's RLVR reward.

Advantages are normalised over all samples of all tasks of a step at once
(not per task): (r - mean) / stdev, the sample standard deviation floored at
1e-6, so a step in which every reward is equal gives no update signal.
"""
from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

MEDIAN_FLOOR = 1e-6
STDEV_FLOOR = 1e-6


@dataclass(frozen=True)
class Outcome:
    """What the reward sees of one sample."""

    task_id: str
    sample_idx: int
    correct: bool
    speedup: float | None


@dataclass(frozen=True)
class Reward:
    task_id: str
    sample_idx: int
    reward: float
    baseline: float          # the median the sample's speedup was divided by


class RunningMedianReward:
    """Per-task history of correct speedups; `state()` / `from_state()` persist it between steps."""

    def __init__(self, window: int = 32, correct_bonus: float = 0.0):
        if window < 1:
            raise ValueError("the reward's median window must be at least 1")
        self.window = window
        self.correct_bonus = correct_bonus
        self.history: dict[str, deque] = {}

    def baseline(self, task_id: str) -> float:
        history = self.history.get(task_id)
        return float(statistics.median(history)) if history else 1.0

    def reward(self, outcome: Outcome) -> Reward:
        """The reward of one sample; a correct one then joins its task's history."""
        baseline = self.baseline(outcome.task_id)
        if not outcome.correct or outcome.speedup is None or not math.isfinite(outcome.speedup):
            return Reward(outcome.task_id, outcome.sample_idx, 0.0, baseline)
        value = max(0.0, outcome.speedup / max(baseline, MEDIAN_FLOOR)) + self.correct_bonus
        if outcome.speedup > 0:
            self.history.setdefault(outcome.task_id, deque(maxlen=self.window)).append(float(outcome.speedup))
        return Reward(outcome.task_id, outcome.sample_idx, value, baseline)

    def rewards(self, outcomes: list[Outcome], task_order: list[str]) -> list[Reward]:
        """Rewards of a step's samples, taken in the fixed order: tasks as listed, then sample index."""
        position = {t: i for i, t in enumerate(task_order)}
        ordered = sorted(outcomes, key=lambda o: (position.get(o.task_id, len(position)), o.task_id, o.sample_idx))
        return [self.reward(o) for o in ordered]

    def state(self) -> dict:
        return {"window": self.window, "correct_bonus": self.correct_bonus,
                "history": {task: list(h) for task, h in self.history.items()}}

    @classmethod
    def from_state(cls, state: dict) -> "RunningMedianReward":
        r = cls(window=state["window"], correct_bonus=state["correct_bonus"])
        r.history = {task: deque(h, maxlen=r.window) for task, h in state.get("history", {}).items()}
        return r


def global_advantages(rewards: list[float]) -> list[float]:
    """(r - mean) / stdev over every sample of the step (all tasks together)."""
    if not rewards:
        return []
    mean = statistics.fmean(rewards)
    stdev = statistics.stdev(rewards) if len(rewards) > 1 else 1.0
    stdev = max(stdev, STDEV_FLOOR)
    return [(r - mean) / stdev for r in rewards]


__all__ = ["Outcome", "Reward", "RunningMedianReward", "global_advantages"]
