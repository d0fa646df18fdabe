"""Typed events the engine emits, to consumers in the engine's own process.

Two ways of following a run, on purpose:

- In-process consumers (the CLI's printer, a run's log, a notebook) subscribe
  to these events through `Engine(sinks=...)`: they see each step as it
  happens and add nothing to the database.
- The terminal app follows runs through the store (SQLite) and never through
  this stream: it usually runs in another process, often another SSH session,
  and must show a run started before it opened, by someone else, or by a
  process that died. The store is the source of truth; everything a reader
  needs is written there (samples, evaluations, and `run_progress` for what
  happens between them, such as a model loading).

So an event carries nothing that is not also persisted, and a new kind of
progress is shown in the app by writing it to the store, not by adding an
event for the app to receive.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    task_ids: tuple[str, ...]
    k: int


@dataclass(frozen=True)
class SampleGenerated:
    run_id: int
    task_id: str
    sample_idx: int
    sample_id: int
    n_tokens: int
    surprisal: float | None
    has_code: bool


@dataclass(frozen=True)
class EvalStarted:
    run_id: int
    task_id: str
    sample_idx: int
    sample_id: int


@dataclass(frozen=True)
class EvalFinished:
    run_id: int
    task_id: str
    sample_idx: int
    sample_id: int
    outcome: str
    speedup: float | None
    error: str | None
    surprisal: float | None


@dataclass(frozen=True)
class TaskFinished:
    run_id: int
    task_id: str
    n_samples: int
    n_correct: int


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str          # "finished", "interrupted", "failed"
    error: str | None = None


Event = Union[RunStarted, SampleGenerated, EvalStarted, EvalFinished, TaskFinished, RunFinished]
EventSink = Callable[[Event], None]
