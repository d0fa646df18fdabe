"""Sampling through Tinker (Thinking Machines' hosted training and sampling API).

Install with `pip install 'sgs[tinker]'`; the key is read from $TINKER_API_KEY
by the Tinker SDK itself (or from the variable `api_key_env` names, handed
straight to the SDK's client) and is never stored or shown by sgs. The model is a base
model (`tinker/openai/gpt-oss-120b`) or a saved sampler path
(`tinker/tinker://RUN/sampler_weights/NAME`, e.g. a LoRA rank-8 adapter); the
prompt is rendered with the model's own chat template (its Hugging Face
tokenizer, which the SDK provides).

Logprob mode. Tinker returns a logprob for every sampled token, but does not
document whether it is taken before or after the sampling temperature and
top-p/top-k. So by default (`logprobs="rescore"`) each sample is scored again
with `compute_logprobs` on prompt + sample: prompt logprobs come from a plain
prefill, the raw log-softmax of the model's logits at temperature 1, which is
what surprisal is defined on (logprob_mode "raw"). The sampler's own sum is
kept in `extra["sampler_surprisal"]` for comparison. `logprobs="sampler"`
skips the second pass and records logprob_mode "tinker-sampler", which is
never pooled with raw runs.
"""
from __future__ import annotations

import concurrent.futures as cf
import inspect
import math
import os
import time
from typing import Iterator

from ..types import Generation, SamplingParams
from .base import BackendError, Capabilities, Prompt, check_counts

KEY_ENV = "TINKER_API_KEY"
INSTALL_HINT = "the tinker backend needs the Tinker SDK: pip install 'sgs[tinker]'"
LOGPROB_SOURCES = {"rescore": "raw", "sampler": "tinker-sampler"}


def import_tinker():
    """The `tinker` package, or a one-line BackendError saying how to install it."""
    try:
        import tinker
        from tinker import types  # noqa: F401  (fails on a broken install)
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    return tinker


def _stop_reason(seq) -> str | None:
    """"stop" / "length" (a plain string in the SDK; tolerate an enum too)."""
    reason = getattr(seq, "stop_reason", None)
    reason = getattr(reason, "value", reason)
    return None if reason is None else str(reason).lower().rsplit("_", 1)[-1]


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TinkerBackend:
    name = "tinker"

    def __init__(
        self,
        model: str,
        logprobs: str = "rescore",
        max_n: int = 4,
        concurrency: int = 8,
        timeout_s: float = 1800.0,
        tokenizer: str | None = None,
        chat_template_kwargs: dict | None = None,
        api_key_env: str = KEY_ENV,
        service_client=None,
        adapter: str | None = None,
        **unknown: object,
    ):
        """
        model: a Tinker base model name, or a saved sampler path starting with tinker://.
        logprobs: "rescore" (raw logprobs from a prefill, the default) or "sampler".
        max_n: samples per sample() call; concurrency: calls in flight.
        timeout_s: longest wait for one call.
        tokenizer: Hugging Face id or folder of the tokenizer, when the SDK's
            guess from the base model is not wanted.
        chat_template_kwargs: extra arguments for the chat template
            (e.g. {"reasoning_effort": "high"} for gpt-oss).
        api_key_env: NAME of the environment variable holding the key (default
            TINKER_API_KEY); the key goes straight to the SDK's client.
        service_client: an existing tinker.ServiceClient (tests, notebooks).
        adapter: a saved sampler path (tinker://.../sampler_weights/NAME, e.g. a
            checkpoint of `sgs ttt`) to sample from, with `model` its base model.
        """
        if unknown:
            raise BackendError(f"tinker backend: unknown option(s) {', '.join(sorted(unknown))}")
        if logprobs not in LOGPROB_SOURCES:
            raise BackendError(f"tinker backend: logprobs must be one of {', '.join(LOGPROB_SOURCES)}, "
                               f"got {logprobs!r}")
        check_counts("tinker", max_n=max_n, concurrency=concurrency)
        self.tinker = import_tinker()
        if service_client is None and not os.environ.get(api_key_env):
            raise BackendError(f"the tinker backend needs a Tinker API key: set ${api_key_env}")
        self.api_key_env = api_key_env
        if adapter is not None and not str(adapter).startswith("tinker://"):
            raise BackendError(f"tinker backend: an adapter is a tinker:// sampler path, got {adapter!r}")
        self.model = model
        self.adapter = adapter
        self.logprobs_from = logprobs
        self.logprob_mode = LOGPROB_SOURCES[logprobs]
        self.max_n = max_n
        self.concurrency = concurrency
        self.timeout_s = float(timeout_s)
        self.tokenizer_id = tokenizer
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.capabilities = Capabilities(logprobs=True, scoring=True, n=True, local_device=None)
        self._service = service_client
        self._client = None
        self._tokenizer = None
        self._pool = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sgs-tinker")

    def __repr__(self) -> str:
        return f"TinkerBackend(model={self.model!r}, logprobs={self.logprobs_from!r})"

    __str__ = __repr__

    # -- connection ----------------------------------------------------------------

    def _fail(self, what: str, exc: BaseException) -> BackendError:
        msg = _one_line(f"{type(exc).__name__}: {exc}")
        key = os.environ.get(self.api_key_env)
        if key:
            msg = msg.replace(key, "***")
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return BackendError(f"tinker: {what}: the API key was refused (check ${self.api_key_env})")
        if status == 404 or "not found" in msg.lower():
            return BackendError(f"tinker: {what}: unknown model or sampler path {self.model!r} ({msg})")
        return BackendError(f"tinker: {what}: {msg}")

    def _sampling_client(self):
        if self._client is None:
            try:
                if self._service is None:
                    # the SDK reads $TINKER_API_KEY itself; another variable's key is handed over
                    self._service = (self.tinker.ServiceClient() if self.api_key_env == KEY_ENV else
                                     self.tinker.ServiceClient(api_key=os.environ.get(self.api_key_env)))
                if self.adapter or self.model.startswith("tinker://"):
                    client = self._service.create_sampling_client(model_path=self.adapter or self.model)
                else:
                    client = self._service.create_sampling_client(base_model=self.model)
                # Newer SDKs return a future of the client; older ones the client itself.
                if callable(getattr(client, "result", None)):
                    client = client.result()
            except BackendError:
                raise
            except Exception as e:
                raise self._fail("cannot open a sampling client", e) from None
            self._client = client
        return self._client

    def _tok(self):
        if self._tokenizer is None:
            try:
                if self.tokenizer_id:
                    from transformers import AutoTokenizer

                    self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_id)
                else:
                    self._tokenizer = self._sampling_client().get_tokenizer()
            except BackendError:
                raise
            except Exception as e:
                raise self._fail("cannot load the tokenizer", e) from None
        return self._tokenizer

    # -- request building ----------------------------------------------------------

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """The prompt rendered with the model's own chat template, ready for an answer."""
        tok = self._tok()
        ids = tok.apply_chat_template(list(prompt.messages), add_generation_prompt=True, tokenize=True,
                                      **self.chat_template_kwargs)
        if hasattr(ids, "keys") and "input_ids" in ids:      # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        return [int(t) for t in ids]

    def sampling_params(self, params: SamplingParams, seed: int | None):
        return self.tinker.types.SamplingParams(
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k and params.top_k > 0 else -1,
            seed=seed,
            # stop=None keeps the model's own end-of-sequence stopping
        )

    def model_input(self, ids: list[int]):
        return self.tinker.types.ModelInput.from_ints(list(ids))

    # -- response parsing ------------------------------------------------------------

    def _offsets(self, ids: list[int]) -> tuple[str, list[int]]:
        """Decoded text and each token's character offset in it."""
        tok = self._tok()
        text = tok.decode(ids, skip_special_tokens=False)
        pieces = [tok.decode([t], skip_special_tokens=False) for t in ids]
        if "".join(pieces) == text:
            offsets, pos = [], 0
            for p in pieces:
                offsets.append(pos)
                pos += len(p)
            return text, offsets
        # Tokenizers whose single-token decodes do not concatenate (split
        # characters, SentencePiece spaces): measure decoded prefixes instead.
        return text, [len(tok.decode(ids[:i], skip_special_tokens=False)) for i in range(len(ids))]

    def _stop_ids(self) -> set[int]:
        tok = self._tok()
        ids = set(getattr(tok, "all_special_ids", []) or [])
        eos = getattr(tok, "eos_token_id", None)
        if isinstance(eos, int):
            ids.add(eos)
        return ids

    def generation(self, seq, prompt_ids: list[int], raw_logprobs: list | None, latency: float) -> Generation:
        """A Generation from one SampledSequence (and its rescored logprobs, if any)."""
        tokens = [int(t) for t in seq.tokens]
        sampler_lps = seq.logprobs
        finish = _stop_reason(seq)
        extra: dict = {"server_tokens": len(tokens)}
        if finish == "stop" and tokens and tokens[-1] in self._stop_ids():
            tokens = tokens[:-1]          # surprisal leaves out the end-of-sequence token
            extra["stop_token_dropped"] = True
        extra["token_ids"] = list(tokens)   # what a training update needs exactly
        if sampler_lps is not None:
            sampler_lps = [float(x) for x in sampler_lps[: len(tokens)]]
            extra["sampler_surprisal"] = -math.fsum(sampler_lps) + 0.0
        if self.logprobs_from == "rescore":
            logprobs = raw_logprobs
        else:
            if sampler_lps is None:
                raise BackendError("tinker returned no logprobs for the sampled tokens")
            logprobs = sampler_lps
        if logprobs is None or len(logprobs) != len(tokens) or any(x is None for x in logprobs):
            raise BackendError("tinker returned logprobs that do not match the sampled tokens")
        text, offsets = self._offsets(tokens)
        pieces = self._tok().convert_ids_to_tokens(tokens)
        if getattr(seq, "sequence_id", None):
            extra["sequence_id"] = seq.sequence_id
        return Generation(text=text, tokens=[str(p) for p in pieces], logprobs=[float(x) for x in logprobs],
                          offsets=offsets, finish_reason=finish, prompt_tokens=len(prompt_ids),
                          latency_s=latency, extra=extra)

    # -- generate ----------------------------------------------------------------------

    def _compute_logprobs(self, client, ids: list[int], last_n: int):
        """Future of the raw logprobs of `ids` (only the last `last_n` are needed)."""
        method = client.compute_logprobs
        if last_n >= 1 and "prompt_logprobs_last_n" in inspect.signature(method).parameters:
            # Newer SDKs score only the tail and reuse the cached prompt prefix.
            return method(self.model_input(ids), prompt_logprobs_last_n=last_n)
        return method(self.model_input(ids))

    def _sample_chunk(self, prompt_ids: list[int], n: int, params: SamplingParams, seed: int | None):
        client = self._sampling_client()
        started = time.perf_counter()
        try:
            response = client.sample(prompt=self.model_input(prompt_ids), num_samples=n,
                                     sampling_params=self.sampling_params(params, seed)).result(
                timeout=self.timeout_s)
            sequences = list(response.sequences)
            raw = [None] * len(sequences)
            if self.logprobs_from == "rescore":
                stops = self._stop_ids()
                futures = []
                for seq in sequences:
                    toks = [int(t) for t in seq.tokens]
                    if _stop_reason(seq) == "stop" and toks and toks[-1] in stops:
                        toks = toks[:-1]
                    futures.append((len(toks), self._compute_logprobs(client, prompt_ids + toks, len(toks))
                                    if toks else None))
                for i, (n_toks, fut) in enumerate(futures):
                    raw[i] = [] if fut is None else list(fut.result(timeout=self.timeout_s))[-n_toks:]
        except BackendError:
            raise
        except Exception as e:
            raise self._fail("sampling failed", e) from None
        latency = time.perf_counter() - started
        if len(sequences) != n:
            raise BackendError(f"tinker returned {len(sequences)} samples where {n} were asked for")
        return [self.generation(seq, prompt_ids, raw[i], latency) for i, seq in enumerate(sequences)]

    def generate(self, prompt: Prompt, k: int, params: SamplingParams) -> Iterator[Generation]:
        if k <= 0:
            return
        try:
            prompt_ids = self.prompt_tokens(prompt)
        except BackendError:
            raise
        except Exception as e:
            raise self._fail("cannot apply the chat template", e) from None
        futures = []
        for first in range(0, k, self.max_n):
            n = min(self.max_n, k - first)
            # Distinct seeds per call, or seeded calls would repeat each other's samples.
            seed = None if params.seed is None else params.seed + first
            futures.append(self._pool.submit(self._sample_chunk, prompt_ids, n, params, seed))
        try:
            for fut in cf.as_completed(futures):
                for g in fut.result():
                    yield g
        finally:
            for fut in futures:
                fut.cancel()

    def score(self, prompt: Prompt, completion: str) -> Generation:
        """Raw logprobs of `completion` as the model's answer to `prompt`."""
        try:
            prompt_ids = self.prompt_tokens(prompt)
            ids = [int(t) for t in self._tok().encode(completion, add_special_tokens=False)]
            client = self._sampling_client()
            started = time.perf_counter()
            lps = list(self._compute_logprobs(client, prompt_ids + ids, len(ids)).result(timeout=self.timeout_s))
        except BackendError:
            raise
        except Exception as e:
            raise self._fail("scoring failed", e) from None
        lps = lps[len(prompt_ids):]
        if len(lps) != len(ids) or any(x is None for x in lps):
            raise BackendError("tinker returned prompt logprobs that do not cover the completion")
        text, offsets = self._offsets(ids)
        return Generation(text=text, tokens=[str(p) for p in self._tok().convert_ids_to_tokens(ids)],
                          logprobs=[float(x) for x in lps], offsets=offsets, finish_reason="scored",
                          prompt_tokens=len(prompt_ids), latency_s=time.perf_counter() - started)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
