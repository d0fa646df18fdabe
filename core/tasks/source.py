"""The interface every task source implements."""
from __future__ import annotations

from typing import Protocol

from ..types import Task, TaskError


class TaskSource(Protocol):
    """A place tasks come from (built-in files, a KernelBench checkout, dataset rows).

    `scan` never raises for a single broken task: it returns the usable tasks
    and one `TaskError` per broken one, so callers choose strict or lenient
    listing. It raises `TaskError` only when the source as a whole is unusable
    (missing folder, unreadable dataset).
    """

    name: str

    def scan(self) -> tuple[list[Task], list[TaskError]]:
        ...
