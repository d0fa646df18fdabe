"""Import samples generated elsewhere (another tool's run, the paper's logs).

Formats live in REPLAY_FORMATS, one module each with `NAME`, `read(path, level)`
and `sniff(path)`; adding one is a new module plus one register line here.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..registry import Registry, lazy
from .records import BadRecord, ReplayFile, ReplayRecord

REPLAY_FORMATS: Registry = Registry("replay format")
REPLAY_FORMATS.register("jsonl", lazy(f"{__name__}.jsonl"))
REPLAY_FORMATS.register("actions", lazy(f"{__name__}.actions"))
REPLAY_FORMATS.register("kernelbench-folder", lazy(f"{__name__}.kernelbench_folder"))

# Sniffing order: the most specific format first (an actions line would never
# carry `task`, but a plain line might carry extra fields).
_DETECT_ORDER = ("kernelbench-folder", "actions", "jsonl")


def detect_format(path: str) -> str:
    if not Path(path).exists():
        raise FileNotFoundError(f"replay file not found: {path}")
    for name in _DETECT_ORDER:
        if REPLAY_FORMATS.get(name).sniff(path):
            return name
    raise InputError(
        f"{path}: cannot tell its format from the first line; "
        f"pass --format ({', '.join(REPLAY_FORMATS.names())})")


def read_replay(path: str, format: str | None = None, level: int | None = None) -> ReplayFile:
    """Read samples from `path`; the format is detected when not given.

    Raises (one-line messages) only when the source as a whole is unusable;
    single bad lines are listed in `ReplayFile.errors` and the rest imported.
    """
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 1):
        raise InputError(f"level must be a whole number >= 1, got {level!r}")
    name = format or detect_format(str(path))
    return REPLAY_FORMATS.get(name).read(str(path), level)


__all__ = ["REPLAY_FORMATS", "BadRecord", "ReplayFile", "ReplayRecord", "detect_format", "read_replay"]
