"""Plain data shared across the engine: tasks, generations, evaluation outcomes."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

from .errors import TaskError  # noqa: F401 - re-exported: task modules import it from here


def source_hash(text: str) -> str:
    """Content hash used to key reference timings and build caches."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """One KernelBench-style problem: a reference `Model` plus its inputs."""

    id: str                 # "L1/19", "builtin/relu"
    source: str             # task source name: "builtin", "kernelbench", "hf-dataset"
    level: int | None
    problem_id: int | None
    name: str
    reference_src: str
    path: str | None = None  # file the task came from, for error messages

    @property
    def reference_hash(self) -> str:
        return source_hash(self.reference_src)


@dataclass
class Generation:
    """One sampled (or scored) completion with its per-token logprobs.

    `logprobs[i]` is log p(token i | prefix) under the model's raw distribution
    (temperature 1, before top-k/top-p), in fp32. `offsets[i]` is the character
    offset of token i in `text`. The stop token is not included.
    """

    text: str
    tokens: list[str] = field(default_factory=list)
    logprobs: list[float] | None = None
    offsets: list[int] | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    latency_s: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        return len(self.logprobs) if self.logprobs is not None else len(self.tokens)


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 512
    seed: int | None = None


class Outcome(str, Enum):
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    INCORRECT = "incorrect"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    CORRECT = "correct"
    NO_CODE = "no_code"          # the reply held no extractable code
    SKIPPED = "skipped"          # e.g. a CUDA candidate on a machine without a GPU
