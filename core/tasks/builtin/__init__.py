"""Built-in tasks: KernelBench-format files in this folder, read as text (never imported).

`pool/pool.jsonl` holds shipped candidate implementations for these tasks.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def pool_path() -> Path:
    """Path of the shipped candidate pool (JSON lines: task, code, note, expect)."""
    return Path(str(resources.files(__name__) / "pool" / "pool.jsonl"))
