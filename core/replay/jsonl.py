"""Plain JSONL: one sample per line as {task, text or code, [tokens, logprobs], [sample_idx]}.

`task` is an sgs task id ("L1/19", "builtin/relu"); a bare KernelBench problem
number is taken as level 1 unless a level is given. `text` is the model's whole
reply, `code` an already-extracted program; a line with only `code` uses it for
both. Per-token logprobs go in `logprobs` (or `token_logprobs`), with the
matching `tokens` if known. Any other field (e.g. `note`) is kept in `extra`.
"""
from __future__ import annotations

from .records import (BadRecord, ReplayFile, ReplayRecord, check_logprobs, check_sample_idx,
                      check_tokens, kernelbench_task_id)
from ._jsonl import first_object, read_lines

NAME = "jsonl"
_KNOWN = {"task", "text", "code", "tokens", "logprobs", "token_logprobs", "sample_idx"}


def _task_id(value, level: int | None) -> str:
    if isinstance(value, str) and value.strip():
        value = value.strip()
        return kernelbench_task_id(value, level) if value.isdigit() else value
    if isinstance(value, int) and not isinstance(value, bool):
        return kernelbench_task_id(value, level)
    raise BadRecord("missing 'task' (a task id such as \"L1/19\")")


def _optional_str(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRecord(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def parse_record(obj: dict, line: int, level: int | None = None) -> ReplayRecord:
    task_id = _task_id(obj.get("task"), level)
    text, code = _optional_str(obj, "text"), _optional_str(obj, "code")
    if not (text or code):
        raise BadRecord("needs a non-empty 'text' or 'code'")
    if "logprobs" in obj and "token_logprobs" in obj:
        raise BadRecord("give either 'logprobs' or 'token_logprobs', not both")
    lp_key = "token_logprobs" if "token_logprobs" in obj else "logprobs"
    logprobs = None if obj.get(lp_key) is None else check_logprobs(obj[lp_key], lp_key)
    tokens = None if obj.get("tokens") is None else check_tokens(obj["tokens"])
    if tokens is not None and logprobs is not None and len(tokens) != len(logprobs):
        raise BadRecord(f"{len(tokens)} tokens but {len(logprobs)} logprobs")
    return ReplayRecord(
        task_id=task_id,
        sample_idx=check_sample_idx(obj.get("sample_idx")),
        text=text or code,
        code=code,
        tokens=tokens,
        logprobs=logprobs,
        line=line,
        extra={k: v for k, v in obj.items() if k not in _KNOWN},
    )


def read(path: str, level: int | None = None) -> ReplayFile:
    return read_lines(path, NAME, lambda obj, line: parse_record(obj, line, level))


def sniff(path: str) -> bool:
    obj = first_object(path)
    return obj is not None and "task" in obj
