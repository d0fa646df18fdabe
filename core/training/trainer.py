"""What a backend supplies for training: sampling with the current weights, the
gradient step, logprobs of given tokens, and checkpoints.

Two implementations, registered in TRAINERS: `core/backends/hf_lora.py` (a
local peft LoRA adapter, CPU or GPU) and `core/backends/tinker_training.py`
(Tinker's training client). The training loop talks only to this protocol.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..backends.base import Backend, Prompt
from ..registry import Registry, lazy
from ..types import Generation
from .config import OptimSettings
from .losses import TrainingSequence


@dataclass
class UpdateStats:
    """What one update did: its loss (before the step) and how far the learner was from the sampler."""

    loss: float
    n_sequences: int
    n_tokens: int
    ratio_mean: float | None = None
    ratio_max_dev: float | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)   # peak memory, server metrics, ...


@runtime_checkable
class Trainer(Protocol):
    name: str                 # backend name: "hf", "tinker"
    resume_path: str | None   # where the last checkpoint's full training state is (adapter + optimiser)

    @property
    def backend(self) -> Backend:
        """A backend that samples (and scores) with the current weights; its
        generations carry `extra["token_ids"]`, the exact sampled tokens."""
        ...

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """The prompt as the backend encodes it for sampling."""
        ...

    def token_logprobs(self, prompt_ids: list[int], completions: list[list[int]]) -> list[list[float]]:
        """Raw (T=1) logprobs of each completion's tokens after `prompt_ids`, current weights, no gradient."""
        ...

    def score_texts(self, prompt: Prompt, texts: list[str]) -> list[Generation]:
        """Raw logprobs of whole texts as answers to `prompt` (the over-sharpening probe)."""
        ...

    def train_step(self, batch: list[TrainingSequence], optim: OptimSettings) -> UpdateStats:
        """One forward/backward pass of the importance-sampling loss over `batch`, then one Adam step."""
        ...

    def save_checkpoint(self, name: str) -> str:
        """Save the adapter (and the optimiser's state); returns where the weights for sampling are: a
        folder or a tinker:// path. From then on `backend` samples with these weights."""
        ...

    def close(self) -> None:
        ...


TRAINERS: Registry = Registry("training backend")
TRAINERS.register("hf", lazy("sgs.core.backends.hf_lora", "HFLoRATrainer"))
TRAINERS.register("tinker", lazy("sgs.core.backends.tinker_training", "TinkerTrainer"))


def make_trainer(config, *, checkpoint_dir: str, resume_from: str | None = None) -> Trainer:
    """The trainer of a TrainingConfig, starting from `resume_from` (a checkpoint's training state) or the
    configured starting adapter."""
    cls = TRAINERS.get(config.backend)
    return cls(config.model, checkpoint_dir=checkpoint_dir, adapter=resume_from or config.adapter,
               lora_rank=config.lora_rank, lora_alpha=config.lora_alpha, **config.backend_options)


__all__ = ["TRAINERS", "Trainer", "UpdateStats", "make_trainer"]
