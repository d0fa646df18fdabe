"""Tasks from rows of the `ScalingIntelligence/KernelBench` dataset.

A row has the columns code, level, name, problem_id. Rows come either from
a local JSON-lines file (one row object per line; no extra packages needed)
or from the Hugging Face Hub through the optional `datasets` package.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from ..types import Task, TaskError
from .parse import BrokenTask, check_task_source

DATASET_NAME = "ScalingIntelligence/KernelBench"
_COLUMNS = ("code", "level", "name", "problem_id")


def _clean_name(name: str, problem_id: int) -> str:
    # Dataset names repeat the file name ("19_ReLU.py"); keep the part a
    # KernelBench folder would give ("ReLU").
    name = name.strip()
    if name.endswith(".py"):
        name = name[:-3]
    return re.sub(rf"^0*{problem_id}_", "", name) or name


def row_to_task(row: dict, where: str = DATASET_NAME) -> Task:
    """Convert one dataset row to a Task; BrokenTask (one line) for a bad row."""
    missing = [c for c in _COLUMNS if c not in row or row[c] is None]
    if missing:
        raise BrokenTask(f"{where}: row lacks {', '.join(missing)}", None, where)
    try:
        level, problem_id = int(row["level"]), int(row["problem_id"])
    except (TypeError, ValueError):
        raise BrokenTask(
            f"{where}: row has non-integer level/problem_id "
            f"{row['level']!r}/{row['problem_id']!r}", None, where) from None
    task_id = f"L{level}/{problem_id}"
    label = f"{where} [{task_id}]"
    code = str(row["code"])
    check_task_source(code, label, task_id)
    return Task(task_id, "hf-dataset", level, problem_id,
                _clean_name(str(row["name"]), problem_id), code, label)


def rows_to_tasks(rows: Iterable[dict], where: str = DATASET_NAME
                  ) -> tuple[list[Task], list[TaskError]]:
    tasks: list[Task] = []
    errors: list[TaskError] = []
    for row in rows:
        try:
            tasks.append(row_to_task(row, where))
        except BrokenTask as e:
            errors.append(e)
    return tasks, errors


def read_rows_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskError(f"{path}:{lineno}: not a JSON row: {e.msg}") from None
            if not isinstance(row, dict):
                raise TaskError(f"{path}:{lineno}: not a JSON object")
            rows.append(row)
    return rows


def _import_datasets():
    try:
        import datasets  # noqa: PLC0415 - optional dependency, imported on use
    except ImportError:
        raise TaskError(
            "the hf-dataset task source needs the datasets package: pip install 'sgs[datasets]'"
        ) from None
    return datasets


def read_rows_hub(name: str = DATASET_NAME) -> list[dict]:
    datasets = _import_datasets()
    try:
        splits = datasets.load_dataset(name)
    except Exception as e:  # network, auth, missing dataset: one line for the CLI
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TaskError(f"cannot load dataset {name}: {first}") from None
    return [dict(row) for split in splits.values() for row in split]


class HFDatasetSource:
    name = "hf-dataset"

    def __init__(self, dataset_file: str | None = None):
        self.dataset_file = Path(dataset_file).expanduser() if dataset_file else None
        if self.dataset_file is not None and not self.dataset_file.is_file():
            raise TaskError(f"dataset file not found: {self.dataset_file}")

    def _rows(self) -> tuple[list[dict], str]:
        if self.dataset_file is None:
            return read_rows_hub(), DATASET_NAME
        if self.dataset_file.suffix in (".jsonl", ".json"):
            return read_rows_jsonl(self.dataset_file), str(self.dataset_file)
        # Other formats (parquet, arrow, csv) go through `datasets`.
        datasets = _import_datasets()
        fmt = self.dataset_file.suffix.lstrip(".")
        try:
            split = datasets.load_dataset(fmt, data_files=str(self.dataset_file), split="train")
        except Exception as e:
            raise TaskError(f"cannot read dataset file {self.dataset_file}: {e}") from None
        return [dict(r) for r in split], str(self.dataset_file)

    def scan(self) -> tuple[list[Task], list[TaskError]]:
        rows, where = self._rows()
        return rows_to_tasks(rows, where)
