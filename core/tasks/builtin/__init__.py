"""Built-in tasks: KernelBench-format files in this folder, read as text (never imported).

`pool/pool.jsonl` holds shipped candidate implementations for these tasks.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def pool_path() -> Path:
    """Path of the shipped candidate pool (JSON lines: task, code, note, expect)."""
    return Path(str(resources.files(__name__) / "pool" / "pool.jsonl"))


# What each shipped candidate is expected to do when evaluated.
POOL_EXPECTATIONS = (
    "faster", "correct", "slower",           # correct outputs
    "incorrect", "wrong_shape", "raises",   # evaluated, rejected
    "crash", "hang",                         # kill the evaluating process / time out
)


class PoolError(ValueError):
    """A malformed pool file (one-line message naming the line)."""


def load_pool(path: str | Path | None = None) -> list[dict]:
    """Entries of the candidate pool: {"task", "code", "note", "expect"} per line."""
    path = Path(path) if path is not None else pool_path()
    entries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise PoolError(f"{path}:{lineno}: not JSON: {e.msg}") from None
        missing = [k for k in ("task", "code", "note") if not isinstance(entry.get(k), str)]
        if missing:
            raise PoolError(f"{path}:{lineno}: missing {', '.join(missing)}")
        if entry.get("expect", "correct") not in POOL_EXPECTATIONS:
            raise PoolError(f"{path}:{lineno}: unknown expect {entry['expect']!r}")
        entries.append(entry)
    return entries
