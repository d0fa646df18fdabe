"""The paper's `actions.jsonl`: {problem_id, sample_idx, raw_action, assembled_code} per line.

`raw_action` is the forward body the paper's script extracted from the model's
reply, `assembled_code` the whole program it built from that body and
evaluated (empty or null when there was none). The program is imported as is;
the replies are forward bodies, so the format implies the `body` prompt style.
Problem ids are KernelBench level-1 ids unless a level is given.
"""
from __future__ import annotations

from .records import BadRecord, ReplayFile, ReplayRecord, check_sample_idx, kernelbench_task_id
from ._jsonl import first_object, read_lines

NAME = "actions"
PROMPT_STYLE = "body"
_KNOWN = {"problem_id", "sample_idx", "raw_action", "assembled_code"}


def parse_record(obj: dict, line: int, level: int | None = None) -> ReplayRecord:
    if "problem_id" not in obj:
        raise BadRecord("missing 'problem_id'")
    task_id = kernelbench_task_id(obj["problem_id"], level)
    raw = obj.get("raw_action")
    if not isinstance(raw, str):
        raise BadRecord("missing 'raw_action' (the extracted forward body as a string)")
    code = obj.get("assembled_code")
    if code is not None and not isinstance(code, str):
        raise BadRecord(f"'assembled_code' must be a string or null, got {type(code).__name__}")
    if "sample_idx" not in obj:
        raise BadRecord("missing 'sample_idx'")
    return ReplayRecord(
        task_id=task_id,
        sample_idx=check_sample_idx(obj["sample_idx"]),
        text=raw,
        # An empty or null assembled_code means the original pipeline found no
        # program in the reply: keep that verdict ("") instead of letting the
        # engine re-extract something the paper's run never evaluated.
        code=code or "",
        line=line,
        extra={k: v for k, v in obj.items() if k not in _KNOWN},
    )


def read(path: str, level: int | None = None) -> ReplayFile:
    replay = read_lines(path, NAME, lambda obj, line: parse_record(obj, line, level))
    replay.prompt_style = PROMPT_STYLE
    return replay


def sniff(path: str) -> bool:
    obj = first_object(path)
    return obj is not None and ("raw_action" in obj or "assembled_code" in obj)
