"""The tinker backend against an offline stand-in of the Tinker SDK.

The stand-in mirrors the SDK's shapes (tinker 0.38): ServiceClient.create_sampling_client
returns a future of a SamplingClient; sample() and compute_logprobs() return futures;
SampleResponse.sequences holds SampledSequence(stop_reason, sequence_id, tokens, logprobs);
compute_logprobs gives None for the first token (and for tokens before
prompt_logprobs_last_n). Where the real SDK is installed its own `tinker.types`
(ModelInput, SamplingParams) build the requests. A live test runs with $TINKER_API_KEY.
"""
import concurrent.futures as cf
import math
import os
import sys
import types as pytypes
from dataclasses import dataclass

import pytest

from sgs.core.backends import BACKENDS, BackendError, Prompt, parse_model_spec
from sgs.core.surprisal import surprisal_of
from sgs.core.types import SamplingParams

PROMPT = Prompt(messages=({"role": "system", "content": "Be fast."}, {"role": "user", "content": "ReLU?"}))
EOS, IM_START, IM_END = 0, 1, 2
SPECIAL = {EOS: "<eos>", IM_START: "<|im_start|>", IM_END: "<|im_end|>"}


# -- a character-level tokenizer with a chat template -------------------------------

class CharTokenizer:
    eos_token_id = IM_END
    all_special_ids = [EOS, IM_START, IM_END]

    def __init__(self, batch_encoding=False):
        self.batch_encoding = batch_encoding      # transformers 5 returns a BatchEncoding
        self.templates = []

    def encode(self, text, add_special_tokens=False):
        return [ord(c) + 10 for c in text]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(SPECIAL.get(i, "") if i in SPECIAL else chr(i - 10) for i in ids)

    def convert_ids_to_tokens(self, ids):
        return [SPECIAL.get(i) or chr(i - 10) for i in ids]

    def apply_chat_template(self, messages, add_generation_prompt, tokenize, **kwargs):
        self.templates.append((messages, kwargs))
        ids = []
        for m in messages:
            ids += [IM_START] + self.encode(f"{m['role']}\n{m['content']}") + [IM_END]
        if add_generation_prompt:
            ids += [IM_START] + self.encode("assistant\n")
        return {"input_ids": ids} if self.batch_encoding else ids


def raw_logprob(prev: int, tok: int) -> float:
    """The stand-in model's raw log p(tok | ..., prev)."""
    return -(((prev * 7 + tok * 13) % 50) / 10 + 0.01)


# -- the SDK stand-in ----------------------------------------------------------------

@dataclass(frozen=True)
class PlainSampledSequence:
    stop_reason: str
    sequence_id: str
    tokens: list
    logprobs: list | None


@dataclass(frozen=True)
class PlainSampleResponse:
    sequences: list


def sampled_sequence(stop_reason, sequence_id, tokens, logprobs):
    """A SampledSequence as the SDK builds it (numpy int32/float32 arrays) where installed."""
    try:
        import numpy as np
        from tinker.types import SampledSequence
    except ImportError:
        return PlainSampledSequence(stop_reason, sequence_id, tokens, logprobs)
    return SampledSequence(stop_reason=stop_reason, sequence_id=sequence_id,
                           tokens_np=np.asarray(tokens, dtype=np.int32),
                           logprobs_np=None if logprobs is None else np.asarray(logprobs, dtype=np.float32))


def sample_response(sequences):
    try:
        from tinker.types import SampleResponse
    except ImportError:
        return PlainSampleResponse(sequences)
    return SampleResponse(sequences=sequences)


def fake_types():
    try:   # the real SDK's request types where installed
        from tinker import types as real

        return real
    except ImportError:
        pass

    class ModelInput:
        def __init__(self, chunks):
            self.chunks = chunks

        @classmethod
        def from_ints(cls, tokens):
            return cls(chunks=[list(tokens)])

        def to_ints(self):
            return [t for c in self.chunks for t in c]

    @dataclass
    class TinkerSamplingParams:
        max_tokens: int | None = None
        seed: int | None = None
        stop: object = None
        temperature: float = 1
        top_k: int = -1
        top_p: float = 1

    return pytypes.SimpleNamespace(ModelInput=ModelInput, SamplingParams=TinkerSamplingParams)


def to_ints(model_input):
    if hasattr(model_input, "to_ints"):
        return model_input.to_ints()
    return [t for c in model_input.chunks for t in c.tokens]


class FakeSamplingClient:
    def __init__(self, tokenizer, reply="def f(x):\n    return x", stop=True, sampler_logprobs=True,
                 fail=None):
        self.tokenizer, self.reply, self.stop = tokenizer, reply, stop
        self.sampler_logprobs, self.fail = sampler_logprobs, fail
        self.samples, self.scored = [], []
        self.pool = cf.ThreadPoolExecutor(4)
        self.serial = 0

    def get_tokenizer(self):
        return self.tokenizer

    def sample(self, prompt, num_samples, sampling_params, include_prompt_logprobs=False,
               topk_prompt_logprobs=0):
        self.samples.append((to_ints(prompt), num_samples, sampling_params))

        def run():
            if self.fail:
                raise self.fail
            seqs = []
            for _ in range(num_samples):
                text = f"{self.reply} #{self.serial}"
                self.serial += 1
                toks = self.tokenizer.encode(text)[: sampling_params.max_tokens]
                stopped = self.stop and len(toks) < sampling_params.max_tokens
                if stopped:
                    toks = toks + [IM_END]
                ids = to_ints(prompt) + toks
                # the sampler's logprobs are tempered: not the raw ones
                lps = [raw_logprob(ids[len(ids) - len(toks) + i - 1], t) / sampling_params.temperature
                       for i, t in enumerate(toks)]
                seqs.append(sampled_sequence("stop" if stopped else "length", f"seq-{self.serial}", toks,
                                             lps if self.sampler_logprobs else None))
            return sample_response(seqs)

        return self.pool.submit(run)

    def compute_logprobs(self, prompt, prompt_logprobs_last_n=None):
        ids = to_ints(prompt)
        self.scored.append((ids, prompt_logprobs_last_n))
        out = [None] + [raw_logprob(ids[i - 1], ids[i]) for i in range(1, len(ids))]
        if prompt_logprobs_last_n:
            out = [None] * (len(ids) - prompt_logprobs_last_n) + out[-prompt_logprobs_last_n:]
        return self.pool.submit(lambda: out)


class FakeServiceClient:
    def __init__(self, sampling_client):
        self.sampling_client = sampling_client
        self.created = []

    def create_sampling_client(self, model_path=None, base_model=None, retry_config=None):
        self.created.append((model_path, base_model))
        fut = cf.Future()
        fut.set_result(self.sampling_client)
        return fut


@pytest.fixture
def sdk(monkeypatch):
    """Make `import tinker` find the stand-in (or the real SDK's types)."""
    mod = pytypes.ModuleType("tinker")
    mod.types = fake_types()

    def no_network():
        raise AssertionError("offline tests pass service_client")

    mod.ServiceClient = no_network
    monkeypatch.setitem(sys.modules, "tinker", mod)
    monkeypatch.setitem(sys.modules, "tinker.types", mod.types)
    return mod


def make(sdk, tokenizer=None, **client_options):
    tok = tokenizer or CharTokenizer()
    sc = FakeSamplingClient(tok, **client_options)
    service = FakeServiceClient(sc)
    return service, sc, tok


PAPER = SamplingParams(temperature=0.25, max_tokens=1024, seed=5)


def expected_raw(prompt_ids, toks):
    ids = prompt_ids + toks
    return [raw_logprob(ids[len(prompt_ids) + i - 1], t) for i, t in enumerate(toks)]


def test_generate_rescored_raw_logprobs_with_chat_template(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    service, sc, tok = make(sdk, CharTokenizer(batch_encoding=True))
    b = TinkerBackend(model="openai/gpt-oss-120b", max_n=2, service_client=service,
                      chat_template_kwargs={"reasoning_effort": "high"})
    assert b.logprob_mode == "raw"
    gens = list(b.generate(PROMPT, 5, PAPER))
    assert service.created == [(None, "openai/gpt-oss-120b")]
    assert sorted(n for _, n, _ in sc.samples) == [1, 2, 2]
    # distinct seeds per call, the paper's temperature, the max tokens
    assert sorted(p.seed for _, _, p in sc.samples) == [5, 7, 9]
    assert {(p.temperature, p.max_tokens, p.top_k, p.top_p) for _, _, p in sc.samples} == {(0.25, 1024, -1, 1)}
    prompt_ids = sc.samples[0][0]
    assert tok.decode(prompt_ids).endswith("<|im_start|>assistant\n")       # the model's own template
    assert tok.templates[0][1] == {"reasoning_effort": "high"}
    assert len({g.text for g in gens}) == 5
    for g in gens:
        toks = tok.encode(g.text)
        assert g.text.startswith("def f(x):")
        assert g.logprobs == pytest.approx(expected_raw(prompt_ids, toks))      # raw, not tempered
        assert g.extra["sampler_surprisal"] == pytest.approx(-sum(expected_raw(prompt_ids, toks)) / 0.25)
        assert surprisal_of(g.logprobs)[0] == pytest.approx(-math.fsum(g.logprobs))
        assert g.tokens == list(g.text) and g.offsets == list(range(len(g.text)))
        assert g.finish_reason == "stop" and g.extra["stop_token_dropped"]
        assert g.prompt_tokens == len(prompt_ids)
    # rescoring asked only for the sample's own tokens
    assert all(last_n == len(ids) - len(prompt_ids) for ids, last_n in sc.scored)


def test_sampler_logprobs_are_recorded_as_their_own_mode(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    service, sc, tok = make(sdk)
    b = TinkerBackend(model="tinker://run-1/sampler_weights/final", logprobs="sampler", service_client=service)
    assert b.logprob_mode == "tinker-sampler"
    (g,) = b.generate(PROMPT, 1, SamplingParams(temperature=0.5, max_tokens=64))
    assert service.created == [("tinker://run-1/sampler_weights/final", None)]
    assert sc.scored == []
    prompt_ids = sc.samples[0][0]
    assert g.logprobs == pytest.approx([x / 0.5 for x in expected_raw(prompt_ids, tok.encode(g.text))])


def test_length_cut_sample_keeps_its_last_token(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    service, sc, tok = make(sdk)
    b = TinkerBackend(model="m", service_client=service)
    (g,) = b.generate(PROMPT, 1, SamplingParams(max_tokens=6))
    assert g.finish_reason == "length" and len(g.logprobs) == 6 and g.text == "def f("


def test_score_gives_raw_logprobs_of_the_completion(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    service, sc, tok = make(sdk)
    b = TinkerBackend(model="m", service_client=service)
    g = b.score(PROMPT, "return x")
    prompt_ids = b.prompt_tokens(PROMPT)
    assert g.text == "return x" and g.logprobs == pytest.approx(expected_raw(prompt_ids, tok.encode("return x")))
    assert g.prompt_tokens == len(prompt_ids)


def test_sdk_errors_become_one_line(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    class APIStatusError(Exception):
        status_code = 401

    service, sc, tok = make(sdk, fail=APIStatusError("bad key\nmore"))
    b = TinkerBackend(model="m", service_client=service)
    with pytest.raises(BackendError, match=r"^tinker: sampling failed: the API key was refused \(check \$TINKER_API_KEY\)$"):
        list(b.generate(PROMPT, 1, PAPER))
    service, sc, tok = make(sdk, sampler_logprobs=False)
    b = TinkerBackend(model="m", logprobs="sampler", service_client=service)
    with pytest.raises(BackendError, match="no logprobs"):
        list(b.generate(PROMPT, 1, PAPER))


def test_without_key_refuses_in_one_line(sdk, monkeypatch):
    from sgs.core.backends.tinker import TinkerBackend

    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    with pytest.raises(BackendError, match=r"^the tinker backend needs a Tinker API key: set \$TINKER_API_KEY$"):
        TinkerBackend(model="openai/gpt-oss-120b")


def test_key_from_another_variable_goes_to_the_sdk_only(sdk, monkeypatch):
    from sgs.core.backends.tinker import TinkerBackend

    made = []

    class ServiceClient:
        def __init__(self, api_key=None):
            made.append(api_key)
            self.inner = FakeServiceClient(FakeSamplingClient(CharTokenizer()))

        def create_sampling_client(self, **kw):
            return self.inner.create_sampling_client(**kw)

    sdk.ServiceClient = ServiceClient
    monkeypatch.delenv("MY_TINKER_KEY", raising=False)
    with pytest.raises(BackendError, match=r"set \$MY_TINKER_KEY$"):
        TinkerBackend(model="m", api_key_env="MY_TINKER_KEY")
    monkeypatch.setenv("MY_TINKER_KEY", "tml-secret-42")
    b = TinkerBackend(model="m", api_key_env="MY_TINKER_KEY")
    assert len(list(b.generate(PROMPT, 1, PAPER))) == 1
    assert made == ["tml-secret-42"]
    assert "tml-secret-42" not in repr(b) and "tml-secret-42" not in repr(vars(b))


def test_without_the_package_says_how_to_install(monkeypatch):
    from sgs.core.backends.tinker import TinkerBackend

    monkeypatch.setitem(sys.modules, "tinker", None)     # import tinker -> ImportError
    monkeypatch.setenv("TINKER_API_KEY", "tml-x")
    with pytest.raises(BackendError, match=r"^the tinker backend needs the Tinker SDK: pip install 'sgs\[tinker\]'$"):
        TinkerBackend(model="openai/gpt-oss-120b")


def test_registry_and_bad_options(sdk):
    from sgs.core.backends.tinker import TinkerBackend

    assert BACKENDS.get("tinker") is TinkerBackend
    assert parse_model_spec("tinker/openai/gpt-oss-120b") == ("tinker", "openai/gpt-oss-120b")
    service, _, _ = make(sdk)
    with pytest.raises(BackendError, match="logprobs must be one of"):
        TinkerBackend(model="m", logprobs="maybe", service_client=service)
    with pytest.raises(BackendError, match="unknown option"):
        TinkerBackend(model="m", lora_rank=8, service_client=service)


@pytest.mark.skipif(not os.environ.get("TINKER_API_KEY"), reason="live test: needs $TINKER_API_KEY")
def test_live_tinker_sampling():
    pytest.importorskip("tinker", reason="live test: needs pip install 'sgs[tinker]'")
    from sgs.core.backends.tinker import TinkerBackend

    model = os.environ.get("SGS_TINKER_MODEL", "openai/gpt-oss-120b")
    b = TinkerBackend(model=model, max_n=2)
    try:
        gens = list(b.generate(PROMPT, 2, SamplingParams(temperature=0.25, max_tokens=64, seed=1)))
    finally:
        b.close()
    assert len(gens) == 2
    for g in gens:
        assert len(g.logprobs) == len(g.tokens) > 0 and all(lp <= 0 for lp in g.logprobs)
