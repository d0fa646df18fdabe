"""A KernelBench generations folder: one `level_{L}_problem_{P}_sample_{S}_kernel.py` per sample.

This is how KernelBench's own generation scripts lay out their runs. Each file
is one sample's program; other files (prompts, eval logs) are ignored, and a
`.py` file whose name does not follow the pattern is reported.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from .records import ReplayFile, ReplayRecord, dedupe

NAME = "kernelbench-folder"
_KERNEL_FILE = re.compile(r"^level_(\d+)_problem_(\d+)_sample_(\d+)_kernel\.py$")


def read(path: str, level: int | None = None) -> ReplayFile:
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"replay folder not found: {path}")
    if not root.is_dir():
        raise InputError(f"{path}: format {NAME!r} reads a folder of "
                             "level_L_problem_P_sample_S_kernel.py files")
    records: list[ReplayRecord] = []
    errors: list[str] = []
    found = []
    for f in root.iterdir():
        if f.suffix != ".py" or not f.is_file():
            continue
        m = _KERNEL_FILE.match(f.name)
        if not m:
            errors.append(f"{f}: name does not match level_L_problem_P_sample_S_kernel.py")
            continue
        found.append((tuple(int(g) for g in m.groups()), f))
    for (file_level, problem, sample), f in sorted(found):
        if level is not None and file_level != level:
            errors.append(f"{f}: a level-{file_level} sample, but level {level} was asked for")
            continue
        try:
            code = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            errors.append(f"{f}: not UTF-8 text")
            continue
        except OSError as e:
            errors.append(f"{f}: cannot read: {e.strerror or e}")
            continue
        if not code.strip():
            errors.append(f"{f}: empty file")
            continue
        records.append(ReplayRecord(task_id=f"L{file_level}/{problem}", sample_idx=sample,
                                    text=code, code=code, line=None))
    if not found and not errors:
        raise InputError(f"{path}: no level_L_problem_P_sample_S_kernel.py files")
    return ReplayFile(NAME, dedupe(records, errors, path), errors)


def sniff(path: str) -> bool:
    root = Path(path)
    return root.is_dir() and any(_KERNEL_FILE.match(f.name) for f in root.iterdir())
