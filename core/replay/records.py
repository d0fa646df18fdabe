"""What every replay format produces: records plus the lines it could not use."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class ReplayRecord:
    """One sample generated elsewhere, ready to become a sample of a run.

    `text` is the model's whole reply; `code` the program the source built from
    it (and evaluated), imported verbatim: None means "extract it from `text`",
    "" means the source found no program in the reply (the sample counts as no-code).
    `tokens`/`logprobs` are present only when the source recorded them.
    `line` is the 1-based line of the source file (None for one-file-per-sample
    sources). `extra` keeps fields the format does not interpret (e.g. a note).
    """

    task_id: str
    sample_idx: int | None
    text: str
    code: str | None
    tokens: list[str] | None = None
    logprobs: list[float] | None = None
    line: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class ReplayFile:
    """The result of reading one replay source.

    `errors` holds one "path:LINE: what is wrong" per unusable line or file;
    every other record is imported, so one bad line never loses the rest.
    `prompt_style` is the style the replies were written in when the format
    implies one (the paper's actions log holds forward bodies: "body").
    """

    format: str
    records: list[ReplayRecord]
    errors: list[str] = field(default_factory=list)
    prompt_style: str | None = None


class BadRecord(ValueError):
    """One unusable line or file; the reader turns it into an `errors` entry."""


# Logprobs printed by other tools can round to a hair above zero.
_LOGPROB_SLACK = 1e-4


def check_logprobs(value, where: str = "logprobs") -> list[float]:
    if not isinstance(value, list):
        raise BadRecord(f"{where} must be a list of numbers")
    out = []
    for i, lp in enumerate(value):
        if isinstance(lp, bool) or not isinstance(lp, (int, float)) or not math.isfinite(lp):
            raise BadRecord(f"{where}[{i}] is {lp!r}, not a finite number")
        if lp > _LOGPROB_SLACK:
            raise BadRecord(f"{where}[{i}] is {lp}, but a log probability is at most 0")
        out.append(float(min(lp, 0.0)))
    return out


def check_tokens(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise BadRecord("tokens must be a list of strings")
    return list(value)


def check_sample_idx(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRecord(f"sample_idx must be a whole number >= 0, got {value!r}")
    return value


def kernelbench_task_id(problem_id, level: int | None) -> str:
    """KernelBench problem number -> task id 'L{level}/{id}' (level 1 unless given)."""
    if isinstance(problem_id, str) and problem_id.strip().isdigit():
        problem_id = int(problem_id.strip())
    if isinstance(problem_id, bool) or not isinstance(problem_id, int) or problem_id < 1:
        raise BadRecord(f"problem_id must be a KernelBench problem number, got {problem_id!r}")
    return f"L{level or 1}/{problem_id}"


def dedupe(records: list[ReplayRecord], errors: list[str], path: str) -> list[ReplayRecord]:
    """Drop a later record that repeats (task, sample_idx): importing it twice would
    double-count a sample. The first one wins and the repeat is reported."""
    seen: dict[tuple[str, int], int | None] = {}
    kept = []
    for rec in records:
        if rec.sample_idx is not None:
            key = (rec.task_id, rec.sample_idx)
            if key in seen:
                first = seen[key]
                where = f"{path}:{rec.line}" if rec.line is not None else path
                errors.append(f"{where}: duplicate sample {rec.sample_idx} of task {rec.task_id}"
                              + (f" (first on line {first})" if first is not None else ""))
                continue
            seen[key] = rec.line
        kept.append(rec)
    return kept
