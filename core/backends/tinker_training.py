"""Training a LoRA adapter through Tinker's training client.

The update is Tinker's built-in `importance_sampling` loss: each sample is a
Datum in next-token layout (`core.training.losses.shifted_arrays`):
model_input = (prompt + completion)[:-1], and `target_tokens`, `logprobs`
(the sampler's raw logprobs) and `advantages` aligned with it, zero over the
prompt. No `weights` go with it (that loss takes none). Adam runs with
Tinker's own AdamParams (beta 0.9/0.95, eps 1e-12, no weight decay by
default). Sampling uses the ordinary tinker backend on the sampler weights
saved at every checkpoint (`tinker://.../sampler_weights/NAME`), rescored for
raw logprobs, so `sgs run --backend tinker --adapter PATH` samples from any
checkpoint. The full training state (with Adam's moments) is saved beside it
(`save_state`) so a stopped training run resumes from it.
"""
from __future__ import annotations

import os
import time

from ..types import Generation
from .base import BackendError, Prompt
from .tinker import KEY_ENV, TinkerBackend, _one_line, import_tinker

LOSS = "importance_sampling"


def _resolved(obj):
    """Newer SDKs hand back futures of clients and responses; older ones the things themselves."""
    return obj.result() if callable(getattr(obj, "result", None)) else obj


class TinkerTrainer:
    name = "tinker"

    def __init__(self, model: str, *, checkpoint_dir: str | None = None, adapter: str | None = None,
                 lora_rank: int = 16, lora_alpha: float | None = None, api_key_env: str = KEY_ENV,
                 service_client=None, **sampling_options: object):
        """
        model: the base model (e.g. openai/gpt-oss-120b).
        adapter: a training state to continue from (tinker://.../weights/NAME, from save_state).
        sampling_options: passed to the tinker backend that samples (max_n, concurrency, tokenizer, ...).
        lora_alpha is Tinker's to choose; checkpoint_dir names nothing here (checkpoints live on Tinker).
        """
        self.tinker = import_tinker()
        if service_client is None and not os.environ.get(api_key_env):
            raise BackendError(f"tinker training needs a Tinker API key: set ${api_key_env}")
        if adapter and "/sampler_weights/" in adapter:
            raise BackendError("tinker: a sampler path cannot be trained from; give the training state "
                               "(tinker://.../weights/NAME) it was saved with")
        if sampling_options.get("logprobs", "rescore") != "rescore":
            raise BackendError("tinker training needs raw logprobs of the sampled tokens (logprobs='rescore')")
        self.model = model
        self.api_key_env = api_key_env
        self.sampling_options = dict(sampling_options)
        self.label = os.path.basename(str(checkpoint_dir or "")) or "sgs"
        try:
            self.service = service_client or (self.tinker.ServiceClient() if api_key_env == KEY_ENV else
                                              self.tinker.ServiceClient(api_key=os.environ.get(api_key_env)))
            if adapter:
                create = (getattr(self.service, "create_training_client_from_state_with_optimizer", None)
                          or self.service.create_training_client_from_state)
                self.training = _resolved(create(adapter))
            else:
                self.training = _resolved(self.service.create_lora_training_client(base_model=model, rank=lora_rank))
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001 - one line for the user
            raise self._fail("cannot open a training client", e) from None
        self.resume_path = adapter
        self._backend: TinkerBackend | None = None

    def _fail(self, what: str, exc: BaseException) -> BackendError:
        msg = _one_line(f"{type(exc).__name__}: {exc}")
        key = os.environ.get(self.api_key_env)
        if key:
            msg = msg.replace(key, "***")
        return BackendError(f"tinker: {what}: {msg}")

    # -- sampling and scoring -------------------------------------------------------------
    def _sampler(self, path: str) -> TinkerBackend:
        return TinkerBackend(model=self.model, adapter=path, service_client=self.service,
                             api_key_env=self.api_key_env, **self.sampling_options)

    @property
    def backend(self) -> TinkerBackend:
        if self._backend is None:  # resumed: sample with the state's weights
            self.save_checkpoint("resumed")
        return self._backend  # type: ignore[return-value]

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        return self.backend.prompt_tokens(prompt)

    def token_logprobs(self, prompt_ids: list[int], completions: list[list[int]]) -> list[list[float]]:
        backend = self.backend
        client = backend._sampling_client()
        futures = [backend._compute_logprobs(client, list(prompt_ids) + list(c), len(c)) if c else None
                   for c in completions]
        out = []
        for c, fut in zip(completions, futures):
            lps = [] if fut is None else list(fut.result(timeout=backend.timeout_s))[-len(c):]
            if any(x is None for x in lps):
                raise BackendError("tinker returned logprobs that do not cover the completion")
            out.append([float(x) for x in lps])
        return out

    def score_texts(self, prompt: Prompt, texts: list[str]) -> list[Generation]:
        return [self.backend.score(prompt, t) for t in texts]

    # -- the update -------------------------------------------------------------------------
    def datum(self, seq):
        """One sequence as Tinker's Datum for the importance-sampling loss."""
        import numpy as np

        from ..training.losses import shifted_arrays

        types = self.tinker.types
        a = shifted_arrays(seq)
        tensor = getattr(types, "TensorData", None)

        def data(values, dtype):
            array = np.asarray(values, dtype=dtype)
            return tensor.from_numpy(array) if tensor is not None else array

        return types.Datum(model_input=types.ModelInput.from_ints(a["model_input"]), loss_fn_inputs={
            "target_tokens": data(a["target_tokens"], np.int64),
            "logprobs": data(a["logprobs"], np.float32),
            "advantages": data(a["advantages"], np.float32),
        })

    def adam_params(self, optim):
        types = self.tinker.types
        values = {"learning_rate": optim.learning_rate, "beta1": optim.beta1, "beta2": optim.beta2, "eps": optim.eps,
                  "weight_decay": optim.weight_decay}
        fields = getattr(types.AdamParams, "model_fields", None)
        if fields is not None:
            if "weight_decay" not in fields and optim.weight_decay:
                raise BackendError("this Tinker SDK's Adam has no weight decay")
            values = {k: v for k, v in values.items() if k in fields}
        return types.AdamParams(**values)

    def train_step(self, batch, optim):
        from ..training.losses import importance_sampling_loss_value, ratio_stats
        from ..training.trainer import UpdateStats

        started = time.perf_counter()
        batch = [s for s in batch if s.completion_ids]
        try:
            fb = self.training.forward_backward([self.datum(s) for s in batch], LOSS)
            step = self.training.optim_step(self.adam_params(optim))
            result = _resolved(fb)
            _resolved(step)
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._fail("the update failed", e) from None
        # the server's logprobs of every target position, before the step; the completion's are the last ones
        new = []
        for seq, out in zip(batch, result.loss_fn_outputs):
            lps = out["logprobs"]
            lps = lps.tolist() if hasattr(lps, "tolist") else list(lps)
            new.append([float(x) for x in lps[-len(seq.completion_ids):]])
        metrics = {k: float(v) for k, v in (getattr(result, "metrics", None) or {}).items()}
        return UpdateStats(loss=importance_sampling_loss_value(new, batch), n_sequences=len(batch),
                           n_tokens=sum(len(s.completion_ids) for s in batch), seconds=time.perf_counter() - started,
                           extra={"server_metrics": metrics}, **ratio_stats(new, batch))

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, name: str) -> str:
        tag = f"{self.label}-{name}"
        try:
            sampler = _resolved(self.training.save_weights_for_sampler(tag)).path
            state = _resolved(self.training.save_state(tag)).path
        except Exception as e:  # noqa: BLE001
            raise self._fail("saving a checkpoint failed", e) from None
        self.resume_path = state
        if self._backend is not None:
            self._backend.close()  # its sampler's weights are the previous checkpoint's
        self._backend = self._sampler(sampler)
        return sampler

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


__all__ = ["TinkerTrainer"]
