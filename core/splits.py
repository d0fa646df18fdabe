"""Train/eval splits of KernelBench problem ids (the paper's format).

For level L and seed S the ids 1..100 are shuffled with `random.Random(S)`;
the first 80 are train, the last 20 eval, each list sorted. Shipped files
live in the `sgs.splits` package as ``l{L}_seed{S}.json``.
"""
from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

from .types import TaskError

N_PROBLEMS = 100
N_TRAIN = 80
SUBSETS = ("train", "eval", "all")


class SplitError(TaskError):
    """A split that cannot be found or read (one-line message)."""


def make_split(level: int, seed: int) -> dict:
    ids = sorted(range(1, N_PROBLEMS + 1))
    random.Random(seed).shuffle(ids)
    return {
        "level": level,
        "seed": seed,
        "problem_ids": {"train": sorted(ids[:N_TRAIN]), "eval": sorted(ids[N_TRAIN:])},
    }


def split_filename(level: int, seed: int) -> str:
    return f"l{level}_seed{seed}.json"


def write_split(level: int, seed: int, folder: str | Path) -> Path:
    path = Path(folder) / split_filename(level, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_split(level, seed), indent=2) + "\n", encoding="utf-8")
    return path


def shipped_splits() -> list[str]:
    """Names of the splits shipped with sgs, e.g. ['l1_seed42', ...]."""
    folder = resources.files("sgs.splits")
    return sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".json"))


def _validate(data: object, where: str) -> dict:
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("level"), int)
        and isinstance(data.get("problem_ids"), dict)
        and all(isinstance(data["problem_ids"].get(k), list) for k in ("train", "eval"))
    )
    if not ok:
        raise SplitError(f"{where}: not a split file (needs level and problem_ids.train/eval)")
    return data


def load_split(name_or_path: str | Path) -> dict:
    """A shipped split by name ('l1_seed42') or a split file by path."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        raw, where = path.read_text(encoding="utf-8"), str(path)
    else:
        stem = text[:-5] if text.endswith(".json") else text
        entry = resources.files("sgs.splits") / f"{stem}.json"
        if "/" in stem or not entry.is_file():
            raise SplitError(
                f"unknown split {text!r}; shipped: {', '.join(shipped_splits())} (or give a file path)")
        raw, where = entry.read_text(encoding="utf-8"), f"{stem}.json"
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SplitError(f"{where}: not valid JSON: line {e.lineno}: {e.msg}") from None
    return _validate(data, where)


def split_task_ids(name_or_path: str | Path, subset: str = "eval") -> list[str]:
    """Task ids ('L1/4', ...) of one subset: 'train', 'eval' or 'all' (all ids, sorted)."""
    if subset not in SUBSETS:
        raise SplitError(f"unknown split subset {subset!r}; use one of {', '.join(SUBSETS)}")
    split = load_split(name_or_path)
    ids = split["problem_ids"]
    chosen = sorted(ids["train"] + ids["eval"]) if subset == "all" else ids[subset]
    return [f"L{split['level']}/{pid}" for pid in chosen]
