"""The backend protocol: generate K samples with per-token logprobs; score given text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, runtime_checkable

from ..errors import BackendError  # noqa: F401 - re-exported to the backends
from ..types import Generation, SamplingParams


@dataclass(frozen=True)
class Prompt:
    """A prompt as chat messages; backends without chat apply their own template."""

    messages: tuple[dict, ...]          # ({"role": "system"|"user"|"assistant", "content": str}, ...)

    @property
    def text(self) -> str:
        """A plain rendering for completion endpoints that take no messages."""
        return "\n\n".join(m["content"] for m in self.messages)


@dataclass(frozen=True)
class Capabilities:
    logprobs: bool = True     # generate() returns per-token logprobs
    scoring: bool = True      # score() works
    n: bool = True            # several samples from one request
    local_device: str | None = None  # "cpu" / "cuda:0" when the model runs in this process
    progress: bool = False    # generate() takes progress=callback (see Progress)


@dataclass(frozen=True)
class Progress:
    """How far one generate() call has got, reported while a model writes (a local model
    writes all k samples in one batch, so nothing else shows for minutes on a CPU)."""

    samples_done: int         # samples of this call that are complete
    samples_total: int        # k of this call
    tokens: int               # tokens written so far, over all its samples
    elapsed_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed_s if self.elapsed_s > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


def generate(backend: "Backend", prompt: Prompt, k: int, params: SamplingParams,
             progress: ProgressCallback | None = None) -> Iterator[Generation]:
    """`backend.generate`, passing `progress` to the backends that report it."""
    if progress is not None and getattr(backend.capabilities, "progress", False):
        return backend.generate(prompt, k, params, progress=progress)
    return backend.generate(prompt, k, params)


def check_counts(backend: str, **counts) -> None:
    """Options that must be whole numbers >= 1 (max_n, concurrency, ...)."""
    for label, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BackendError(f"{backend} backend: {label} must be a whole number >= 1, got {value!r}")


@runtime_checkable
class Backend(Protocol):
    name: str               # registry name, e.g. "hf"
    model: str              # model id as given by the user
    capabilities: Capabilities
    # What the logprobs mean. "raw": log softmax of the unprocessed logits at
    # temperature 1 (the only mode surprisal is defined on); anything else
    # (e.g. "processed") is recorded and never pooled with "raw".
    logprob_mode: str

    def generate(self, prompt: Prompt, k: int, params: SamplingParams) -> Iterator[Generation]:
        """Yield k generations, each as soon as it is complete. A backend whose capabilities
        say `progress` also takes `progress=` (a ProgressCallback) and calls it as it writes."""
        ...

    def score(self, prompt: Prompt, completion: str) -> Generation:
        """Per-token logprobs of `completion` following `prompt` (raw mode)."""
        ...

    def close(self) -> None:
        ...
