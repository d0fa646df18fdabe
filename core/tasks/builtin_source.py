"""Tasks shipped with sgs in `sgs.core.tasks.builtin` (KernelBench format, read as text)."""
from __future__ import annotations

from importlib import resources

from ..types import Task, TaskError
from .parse import BrokenTask, check_task_source


class BuiltinSource:
    name = "builtin"

    def scan(self) -> tuple[list[Task], list[TaskError]]:
        tasks: list[Task] = []
        errors: list[TaskError] = []
        folder = resources.files("sgs.core.tasks.builtin")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".py") or entry.name.startswith("_"):
                continue
            name = entry.name[:-3]
            task_id = f"builtin/{name}"
            src = entry.read_text(encoding="utf-8")
            path = str(entry)
            try:
                check_task_source(src, path, task_id)
            except BrokenTask as e:
                errors.append(e)
                continue
            tasks.append(Task(task_id, self.name, None, None, name, src, path))
        return tasks, errors
