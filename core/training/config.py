"""The settings of a training run, with the paper's defaults.

The paper's batch TTT (and its SDPO runs) used: 5 tasks per batch, K=32
samples per task and step, 8 steps, temperature 0.25, 1,024 new tokens, a
LoRA adapter of rank 16, learning rate 1e-5, Adam with beta=(0.9, 0.95),
eps=1e-12 and no weight decay (Tinker's optimiser), the speedup reward
normalised by the median of the task's last 32 correct speedups, no bonus for
a correct sample, and an SDPO strength of 1.0.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field

METHODS = ("ttt", "sdpo")


@dataclass(frozen=True)
class OptimSettings:
    """Adam as Tinker runs it."""

    learning_rate: float = 1e-5
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    weight_decay: float = 0.0


@dataclass
class TrainingConfig:
    task_ids: list[str]
    method: str = "ttt"                    # "ttt" (batch TTT) or "sdpo"
    prompt_only: bool = False              # sdpo: the teacher sees the task and the instruction only
    steps: int = 8                         # updates; steps 0..steps are sampled and evaluated
    k: int = 32                            # samples per task and step
    temperature: float = 0.25
    max_tokens: int = 1024
    backend: str = "hf"                    # "hf" (local peft) or "tinker"
    model: str = "embedded"
    backend_options: dict = field(default_factory=dict)  # dtype, device, api_key_env, ... (never a secret)
    adapter: str | None = None             # start from this adapter (hf folder, or a tinker:// state path)
    lora_rank: int = 16
    lora_alpha: float = 32.0               # hf only; Tinker fixes its own scaling
    optim: OptimSettings = field(default_factory=OptimSettings)
    correct_bonus: float = 0.0
    baseline_window: int = 32              # the running median covers the task's last N correct speedups
    sdpo_coef: float = 1.0
    prompt_style: str = "body"
    eval: dict = field(default_factory=dict)   # EvalOptions of the step runs (device, mode, timeout_s, ...)
    probe_run: int | None = None           # a best-of-N run whose samples every checkpoint scores
    probe_samples: int = 320
    baseline_run: int | None = None        # best-of-N run for equivalent K (default: step 0's samples)
    checkpoint_dir: str | None = None
    kernelbench: str | None = None
    dataset_file: str | None = None
    seed: int = field(default_factory=lambda: secrets.randbits(31))
    name: str | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown training method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.prompt_only and self.method != "sdpo":
            raise ValueError("prompt-only is an SDPO variant (use it with the sdpo method)")

    @property
    def method_label(self) -> str:
        """'ttt', 'sdpo' (with feedback) or 'sdpo-prompt-only': the name tables and reports use."""
        return "sdpo-prompt-only" if self.prompt_only else self.method

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingConfig":
        d = dict(d)
        d["optim"] = OptimSettings(**d.get("optim", {}))
        return cls(**d)


__all__ = ["METHODS", "OptimSettings", "TrainingConfig"]
