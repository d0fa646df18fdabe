"""Typed events of a training run. Consumers also receive the engine's events
(`core.events`) of each step's sampling and evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class TrainingStarted:
    training_run_id: int
    method: str              # ttt, sdpo, sdpo-prompt-only
    task_ids: tuple[str, ...]
    k: int
    steps: int


@dataclass(frozen=True)
class StepStarted:
    training_run_id: int
    step: int
    run_id: int              # the run that holds the step's samples
    checkpoint: str


@dataclass(frozen=True)
class StepEvaluated:
    """The step's samples are evaluated and rewarded (and probed); `row` is its StepRow as a dict."""

    training_run_id: int
    step: int
    row: dict


@dataclass(frozen=True)
class StepUpdated:
    training_run_id: int
    step: int                # the update was made on this step's samples
    loss: float
    checkpoint: str          # the weights the next step samples with
    seconds: float


@dataclass(frozen=True)
class TrainingFinished:
    training_run_id: int
    status: str              # finished, interrupted, failed
    error: str | None = None
    best: dict | None = None  # best-of-adaptation


TrainingEvent = Union[TrainingStarted, StepStarted, StepEvaluated, StepUpdated, TrainingFinished]

__all__ = ["StepEvaluated", "StepStarted", "StepUpdated", "TrainingEvent", "TrainingFinished", "TrainingStarted"]
