"""Training a LoRA adapter of a local transformers model with peft (CPU or GPU).

The adapter sits on every linear projection of the attention and MLP blocks
(peft's "all-linear": q/k/v/o and gate/up/down on Llama-style models; the
output head is left alone), with no dropout, so the policy that samples and
the policy that learns are the same function. Sampling goes through the
ordinary `HFBackend` on the same model object, so samples carry the same raw
(T=1) logprobs as any run and the first update sees a ratio of 1.

A checkpoint is a peft adapter folder (`adapter_config.json` and
`adapter_model.safetensors`), loadable with `sgs run --adapter DIR`, plus the
optimiser's state (`optimizer.pt`) so a stopped training run continues with
Adam's moments intact.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path

from ..types import Generation
from .base import BackendError, Prompt
from .hf import HFBackend, _quiet_cache_kwarg, load_model, pick_dtype

OPTIMIZER_FILE = "optimizer.pt"
INFO_FILE = "sgs_checkpoint.json"


class HFLoRATrainer:
    name = "hf"

    def __init__(self, model: str = "embedded", *, checkpoint_dir: str | os.PathLike, device: str | None = None,
                 dtype: str = "auto", adapter: str | None = None, lora_rank: int = 16, lora_alpha: float = 32.0,
                 micro_batch_tokens: int = 16384, gradient_checkpointing: bool = False, share_prompt: bool = True,
                 **unknown: object):
        """
        model: as for `sgs run --model` (embedded, a HF id, a folder, a .gguf).
        checkpoint_dir: where `save_checkpoint(name)` writes `name/`.
        adapter: start from this adapter folder (its optimiser state too, if it has one).
        micro_batch_tokens: rows x tokens per forward/backward pass; gradients accumulate over passes.
        share_prompt: run a task's prompt once per pass and share its keys/values across the samples
            (off: the prompt is repeated in every row, the plain way; benchmarks compare the two).
        """
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model

        unknown = {k: v for k, v in unknown.items() if v is not None}
        if unknown:
            raise BackendError(f"hf training: unknown option(s) {', '.join(sorted(unknown))}")
        self.model = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.checkpoint_dir = Path(checkpoint_dir)
        self.micro_batch_tokens = int(micro_batch_tokens)
        tokenizer, base = load_model(model, self.device, pick_dtype(self.device, dtype))
        if adapter and not (Path(adapter) / "adapter_config.json").is_file():
            raise BackendError(f"no peft adapter in {adapter} (adapter_config.json is missing)")
        with warnings.catch_warnings():  # peft asks transformers a deprecated question; not ours to answer
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            if adapter:
                self.lm = PeftModel.from_pretrained(base, adapter, is_trainable=True)
            else:
                config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules="all-linear",
                                    bias="none", task_type="CAUSAL_LM")
                self.lm = get_peft_model(base, config)
        self.lm.to(self.device)
        self.lm.eval()  # no dropout anywhere: sampler and learner are one function
        self.gradient_checkpointing = gradient_checkpointing
        self.share_prompt = share_prompt
        if gradient_checkpointing:
            self.lm.gradient_checkpointing_enable()
            self.lm.enable_input_require_grads()
        self.tokenizer = tokenizer
        self._backend = HFBackend(model=model, device=self.device, loaded=(tokenizer, self.lm))
        self._optimizer = None
        self._optimizer_state = None
        self.resume_path = adapter
        if adapter and (Path(adapter) / OPTIMIZER_FILE).is_file():
            self._optimizer_state = torch.load(Path(adapter) / OPTIMIZER_FILE, map_location=self.device)
        self.target_modules = sorted(self.lm.peft_config["default"].target_modules or [])

    # -- sampling and scoring -------------------------------------------------------
    @property
    def backend(self) -> HFBackend:
        return self._backend

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        return list(self._backend._encode_prompt(prompt))

    def score_texts(self, prompt: Prompt, texts: list[str]) -> list[Generation]:
        return self._backend.score_many(prompt, texts)

    def _forward_logprobs(self, prompt_ids: list[int], completions: list[list[int]]):
        """(rows, T) raw logprobs of each completion's tokens (right-padded), one forward pass."""
        import torch

        n_prompt, width = len(prompt_ids), max(len(c) for c in completions)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        if n_prompt > 1 and self.share_prompt and not self.gradient_checkpointing:
            # The prompt runs once and its keys/values are shared by every row
            # (gradients flow back through them), as when sampling.
            cache = self._shared_prefix(prompt_ids, len(completions))
            ids = torch.tensor([[prompt_ids[-1], *c, *([pad] * (width - len(c)))] for c in completions],
                               device=self.device)
            mask = torch.ones(len(completions), n_prompt + width, dtype=torch.long, device=self.device)
            for r, c in enumerate(completions):
                mask[r, n_prompt + len(c):] = 0
            with _quiet_cache_kwarg():
                logits = self.lm(input_ids=ids, past_key_values=cache, attention_mask=mask, use_cache=True).logits
            logits = logits[:, :width].float()
            return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        ids = torch.tensor([prompt_ids + c + [pad] * (width - len(c)) for c in completions], device=self.device)
        mask = torch.ones_like(ids)
        for r, c in enumerate(completions):
            mask[r, n_prompt + len(c):] = 0
        try:
            # only the positions that predict completion tokens need logits
            logits = self.lm(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=width + 1).logits
        except TypeError:  # transformers without logits_to_keep
            logits = self.lm(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, n_prompt - 1:]
        logits = logits[:, :width].float()
        targets = ids[:, n_prompt:]
        return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    def _shared_prefix(self, prompt_ids: list[int], rows: int):
        """Keys/values of all prompt tokens but the last, computed once (with gradients) for `rows` rows."""
        import torch
        from transformers import DynamicCache

        try:
            cache = DynamicCache(config=self.lm.config)
        except TypeError:  # transformers 4.x
            cache = DynamicCache()
        ids = torch.tensor([prompt_ids[:-1]], device=self.device)
        with _quiet_cache_kwarg():
            try:  # no logits for the prompt: the output head over a long prompt is pure waste here
                cache = self.lm(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1).past_key_values
            except TypeError:
                cache = self.lm(input_ids=ids, past_key_values=cache, use_cache=True).past_key_values
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache

    def _chunks(self, prompt_ids: list[int], rows: list):
        """Split rows sharing one prompt into micro-batches of about `micro_batch_tokens`."""
        chunk, width = [], 0
        for row in rows:
            n = len(row[1]) if isinstance(row, tuple) else len(row.completion_ids)
            new_width = max(width, n)
            if chunk and (len(chunk) + 1) * (len(prompt_ids) + new_width) > self.micro_batch_tokens:
                yield chunk
                chunk, new_width = [], n
            chunk.append(row)
            width = new_width
        if chunk:
            yield chunk

    def token_logprobs(self, prompt_ids: list[int], completions: list[list[int]]) -> list[list[float]]:
        import torch

        out: list[list[float] | None] = [[] if not c else None for c in completions]
        rows = [(i, c) for i, c in enumerate(completions) if c]
        with torch.no_grad():
            for chunk in self._chunks(prompt_ids, rows):
                lps = self._forward_logprobs(prompt_ids, [c for _, c in chunk]).cpu()
                for r, (i, c) in enumerate(chunk):
                    out[i] = [float(x) for x in lps[r, :len(c)]]
        return out  # type: ignore[return-value]

    # -- the update -----------------------------------------------------------------
    def _adam(self, optim):
        import torch

        if self._optimizer is None:
            params = [p for p in self.lm.parameters() if p.requires_grad]
            self._optimizer = torch.optim.Adam(params, lr=optim.learning_rate, betas=(optim.beta1, optim.beta2),
                                               eps=optim.eps, weight_decay=optim.weight_decay)
            if self._optimizer_state is not None:
                self._optimizer.load_state_dict(self._optimizer_state)
                self._optimizer_state = None
        for group in self._optimizer.param_groups:  # the run's settings win over a loaded state's
            group.update(lr=optim.learning_rate, betas=(optim.beta1, optim.beta2), eps=optim.eps,
                         weight_decay=optim.weight_decay)
        return self._optimizer

    def train_step(self, batch, optim):
        import torch

        from ..training.losses import importance_sampling_loss, ratio_stats
        from ..training.trainer import UpdateStats

        started = time.perf_counter()
        batch = [s for s in batch if s.completion_ids]
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(self.device)
        adam = self._adam(optim)
        adam.zero_grad(set_to_none=True)
        groups: dict[tuple, list] = {}
        for seq in batch:
            groups.setdefault(tuple(seq.prompt_ids), []).append(seq)
        new_by_seq: dict[int, list[float]] = {}
        total, n_tokens = 0.0, 0
        if self.gradient_checkpointing:
            self.lm.train()
        try:
            for prompt, seqs in groups.items():
                for chunk in self._chunks(list(prompt), seqs):
                    new = self._forward_logprobs(list(prompt), [s.completion_ids for s in chunk])
                    sampled = torch.zeros_like(new)
                    adv = torch.zeros_like(new)
                    mask = torch.zeros_like(new)
                    for r, s in enumerate(chunk):
                        n = len(s.completion_ids)
                        sampled[r, :n] = torch.tensor(s.sampled_logprobs, dtype=new.dtype)
                        adv[r, :n] = torch.tensor(s.advantages, dtype=new.dtype)
                        mask[r, :n] = 1.0
                    loss = importance_sampling_loss(new, sampled, adv, mask)  # padding: A = 0, mask = 0
                    loss.backward()
                    total += float(loss.detach())
                    n_tokens += int(mask.sum())
                    detached = new.detach().cpu()
                    for r, s in enumerate(chunk):
                        new_by_seq[id(s)] = [float(x) for x in detached[r, :len(s.completion_ids)]]
        finally:
            self.lm.eval()
        adam.step()
        adam.zero_grad(set_to_none=True)
        stats = ratio_stats([new_by_seq[id(s)] for s in batch], batch)
        extra = {}
        if self.device.startswith("cuda"):
            extra["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return UpdateStats(loss=total, n_sequences=len(batch), n_tokens=n_tokens, seconds=time.perf_counter() - started,
                           extra=extra, **stats)

    # -- checkpoints ----------------------------------------------------------------
    def save_checkpoint(self, name: str) -> str:
        import torch

        path = self.checkpoint_dir / name
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.lm.save_pretrained(tmp)
        if self._optimizer is not None:
            torch.save(self._optimizer.state_dict(), tmp / OPTIMIZER_FILE)
        elif self._optimizer_state is not None:  # loaded but not yet used: keep it with the weights
            torch.save(self._optimizer_state, tmp / OPTIMIZER_FILE)
        (tmp / INFO_FILE).write_text(json.dumps({"base_model": self.model, "name": name,
                                                 "target_modules": self.target_modules}, indent=2))
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
        self.resume_path = str(path)
        return str(path)

    def close(self) -> None:
        self._backend.lm = None
        self.lm = None
        self._optimizer = None


__all__ = ["HFLoRATrainer"]
