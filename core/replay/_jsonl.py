"""Shared line loop for the JSON-lines formats: one object per line, bad lines reported."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .records import BadRecord, ReplayFile, ReplayRecord, dedupe


def read_lines(path: str, format_name: str,
               parse: Callable[[dict, int], ReplayRecord]) -> ReplayFile:
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path}: is a folder; format {format_name!r} reads one JSONL file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"replay file not found: {path}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    records: list[ReplayRecord] = []
    errors: list[str] = []
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            try:
                # utf-8-sig: a byte-order mark some editors put before line 1
                obj = json.loads(line.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError:
                raise BadRecord("not UTF-8 text") from None
            except json.JSONDecodeError as e:
                raise BadRecord(f"not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise BadRecord(f"expected a JSON object, got {type(obj).__name__}")
            records.append(parse(obj, lineno))
        except BadRecord as e:
            errors.append(f"{path}:{lineno}: {e}")
    return ReplayFile(format_name, dedupe(records, errors, path), errors)


def first_object(path: str) -> dict | None:
    """The first non-blank line as a JSON object, or None; used to sniff the format."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    obj = json.loads(line.decode("utf-8-sig"))
                    return obj if isinstance(obj, dict) else None
    except (OSError, ValueError):
        return None
    return None
