"""App-wide messages: results of thread workers, posted back to the screens."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class Loaded(Message):
    """A worker finished loading something for a screen (`what` names it)."""

    what: str
    value: Any


@dataclass
class Failed(Message):
    """A worker's blocking call failed; the one-line reason is shown as a notification."""

    bubble = False  # shown once, by whoever it was posted to
    what: str
    error: str


@dataclass
class RunLaunched(Message):
    """A run started (or resumed) in its own detached process."""

    run_id: int
    pid: int
    resumed: bool
    replaces: int | None = None    # a run that failed to start, retried with edited settings
