"""Tasks from a KernelBench checkout: `levelN/ID_Name.py` -> id `LN/ID`."""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..types import Task, TaskError
from .parse import BrokenTask, check_task_source

ENV_VAR = "SGS_KERNELBENCH"
_LEVEL_DIR = re.compile(r"^level(\d+)$")
_TASK_FILE = re.compile(r"^(\d+)_(.+)\.py$")


def kernelbench_root(path: str | None) -> Path | None:
    """The checkout folder given, else $SGS_KERNELBENCH, else None."""
    chosen = path or os.environ.get(ENV_VAR) or None
    return Path(chosen).expanduser() if chosen else None


def _task_files(root: Path) -> list[tuple[int, Path]]:
    found = []
    for level_dir in root.iterdir():
        m = _LEVEL_DIR.match(level_dir.name)
        if m and level_dir.is_dir():
            found += [(int(m.group(1)), f) for f in level_dir.iterdir() if f.suffix == ".py"]
    return found


class KernelBenchSource:
    name = "kernelbench"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_dir():
            raise TaskError(f"KernelBench folder not found: {self.root}")
        if not any(_LEVEL_DIR.match(p.name) for p in self.root.iterdir() if p.is_dir()):
            raise TaskError(f"{self.root}: no levelN/ folders; is this a KernelBench checkout?")

    def scan(self) -> tuple[list[Task], list[TaskError]]:
        tasks: list[Task] = []
        errors: list[TaskError] = []
        for level, path in _task_files(self.root):
            if path.name == "__init__.py":
                continue
            m = _TASK_FILE.match(path.name)
            if not m:
                errors.append(BrokenTask(
                    f"{path}: file name does not match level{level}/ID_Name.py", None, str(path)))
                continue
            problem_id, name = int(m.group(1)), m.group(2)
            task_id = f"L{level}/{problem_id}"
            try:
                src = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                errors.append(BrokenTask(f"{path}: cannot read: {e}", task_id, str(path)))
                continue
            try:
                check_task_source(src, str(path), task_id)
            except BrokenTask as e:
                errors.append(e)
                continue
            tasks.append(Task(task_id, self.name, level, problem_id, name, src, str(path)))
        return tasks, errors
