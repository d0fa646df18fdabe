"""The openai backend against a local server whose faults the test scripts."""
import re
import time

import pytest

from fake_server import EOS, FakeServer, sample_tokens, token_logprob
from sgs.core.backends import BACKENDS, BackendError, Prompt, make_backend, parse_model_spec
from sgs.core.backends.openai import OpenAIBackend
from sgs.core.surprisal import surprisal_of
from sgs.core.types import SamplingParams

PROMPT = Prompt(messages=({"role": "system", "content": "Write kernels."},
                          {"role": "user", "content": "Speed up ReLU."}))
PARAMS = SamplingParams(temperature=0.25, max_tokens=64)
FAST = dict(backoff_s=0.01, max_backoff_s=0.05, timeout_s=5.0)


def serial_of(gen) -> int:
    return int(re.search(r"# sample (\d+)", gen.text).group(1))


def backend(server, **options) -> OpenAIBackend:
    return OpenAIBackend(model="fake-model", base_url=server.url, **{**FAST, **options})


def check_exact(gens, k, server):
    """k samples, none lost or repeated, each one the server finished sending."""
    serials = [serial_of(g) for g in gens]
    assert len(gens) == k
    assert len(set(serials)) == k, f"duplicated samples: {serials}"
    assert set(serials) <= set(server.served)


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_generate_returns_every_token_logprob_and_usage(endpoint):
    with FakeServer(tokens_per_sample=12) as server, backend(server, endpoint=endpoint, max_n=2) as b:
        gens = list(b.generate(PROMPT, 5, SamplingParams(max_tokens=64, seed=7)))
    check_exact(gens, 5, server)
    assert sorted(body["n"] for _, body, _ in server.requests) == [1, 2, 2]
    # distinct seeds per request, else seeded requests repeat each other
    assert sorted(body["seed"] for _, body, _ in server.requests) == [7, 9, 11]
    path = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
    assert all(p == path for p, _, _ in server.requests)
    for g in gens:
        s = serial_of(g)
        want = sample_tokens(s, 12)
        assert g.tokens == want                       # stop token (EOS) left out
        assert g.logprobs == [token_logprob(s, i) for i in range(12)]
        assert "".join(g.tokens) == g.text
        assert g.offsets == [len("".join(want[:i])) for i in range(12)]
        assert surprisal_of(g.logprobs)[0] == pytest.approx(-sum(token_logprob(s, i) for i in range(12)))
        assert g.finish_reason == "stop" and g.extra["stop_token_dropped"]
        assert g.prompt_tokens == 11 and g.extra["usage"]["prompt_tokens"] == 11
        assert g.latency_s is not None and g.latency_s > 0
    body = server.requests[0][1]
    assert body["temperature"] == 1.0 and body["max_tokens"] == 64 and body["model"] == "fake-model"
    if endpoint == "chat":
        assert body["logprobs"] is True and body["messages"][1]["content"] == "Speed up ReLU."
    else:
        assert body["logprobs"] == 1 and body["prompt"] == "Write kernels.\n\nSpeed up ReLU."


def test_length_cut_sample_keeps_its_last_token():
    with FakeServer(tokens_per_sample=20) as server, backend(server) as b:
        (g,) = b.generate(PROMPT, 1, SamplingParams(max_tokens=9))
    assert g.finish_reason == "length" and len(g.logprobs) == 9 and "stop_token_dropped" not in g.extra


def test_server_without_stop_token_in_logprobs_loses_no_token():
    with FakeServer(tokens_per_sample=10, eos_in_logprobs=False) as server, backend(server) as b:
        (g,) = b.generate(PROMPT, 1, PARAMS)
    assert len(g.logprobs) == 10 and g.tokens[-1] == "```"


def test_samples_are_yielded_as_their_request_completes():
    with FakeServer(script=[("slow", 2.0)]) as server, backend(server, max_n=1, concurrency=2) as b:
        start = time.perf_counter()
        it = b.generate(PROMPT, 2, PARAMS)
        first = next(it)
        first_at = time.perf_counter() - start
        second = next(it)
    assert first_at < 1.5, "the fast sample waited for the slow one"
    assert serial_of(first) != serial_of(second)


def test_429_honours_retry_after():
    with FakeServer(script=[("status", 429, {"Retry-After": "0.4"})]) as server, backend(server) as b:
        start = time.perf_counter()
        gens = list(b.generate(PROMPT, 3, PARAMS))
        elapsed = time.perf_counter() - start
    check_exact(gens, 3, server)
    assert elapsed >= 0.4
    assert len(server.requests) == 2
    assert all(g.extra["retries"] == 1 for g in gens)


def test_500_then_success_and_connection_closed_without_answer():
    with FakeServer(script=[("status", 500), "close", ("status", 503)]) as server, backend(server) as b:
        gens = list(b.generate(PROMPT, 4, PARAMS))
    check_exact(gens, 4, server)
    assert len(server.requests) == 4


def test_connection_dropped_mid_response_is_retried_without_duplicates():
    with FakeServer(script=["drop"]) as server, backend(server, max_n=2) as b:
        gens = list(b.generate(PROMPT, 4, PARAMS))
    check_exact(gens, 4, server)
    # the cut-off answer's samples were never delivered; their retry replaced them
    assert len(server.requests) == 3 and len(server.served) == 4


def test_slow_response_past_the_timeout_is_retried():
    with FakeServer(script=[("slow", 1.5)]) as server, backend(server, timeout_s=0.4) as b:
        gens = list(b.generate(PROMPT, 2, PARAMS))
    assert len(gens) == 2 and len({serial_of(g) for g in gens}) == 2
    assert len(server.requests) == 2


def test_gives_up_with_one_line_after_the_retries():
    script = [("slow", 1.0)] * 3
    with FakeServer(script=script) as server, backend(server, timeout_s=0.2, max_retries=2) as b:
        with pytest.raises(BackendError) as err:
            list(b.generate(PROMPT, 1, PARAMS))
    msg = str(err.value)
    assert "gave up after 3 attempts" in msg and "no answer within 0.2 s" in msg and "\n" not in msg


def test_refused_connection_is_a_clear_error():
    with FakeServer() as server:
        url = server.url
    b = OpenAIBackend(model="m", base_url=url, max_retries=1, backoff_s=0.01)
    with pytest.raises(BackendError, match=r"gave up after 2 attempts: connection failed"):
        list(b.generate(PROMPT, 1, PARAMS))
    b.close()


def test_huge_retry_after_fails_at_once():
    with FakeServer(script=[("status", 429, {"Retry-After": "3600"})]) as server, backend(server) as b:
        with pytest.raises(BackendError, match="asks to retry after 3600 s"):
            list(b.generate(PROMPT, 1, PARAMS))
        assert len(server.requests) == 1


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_response_without_logprobs_is_a_clear_error(endpoint):
    with FakeServer(script=["nologprobs"] * 2) as server, backend(server, endpoint=endpoint) as b:
        with pytest.raises(BackendError, match="returned no per-token logprobs for model 'fake-model'"):
            list(b.generate(PROMPT, 2, PARAMS))
        # chat: asked once more with top_logprobs=1 (some servers need it), then given up
        assert len(server.requests) == (2 if endpoint == "chat" else 1)


def test_chat_asks_for_top_logprobs_only_where_the_server_needs_them():
    with FakeServer() as server, backend(server) as b:
        list(b.generate(PROMPT, 1, PARAMS))
        assert "top_logprobs" not in server.requests[0][1]      # lean responses where not needed
    with FakeServer(logprobs_need_top=True) as server, backend(server, max_n=1) as b:
        gens = list(b.generate(PROMPT, 3, PARAMS))
        check_exact(gens, 3, server)
        # the three concurrent first requests learn it; a later call asks right away
        assert sorted(body.get("top_logprobs") or 0 for _, body, _ in server.requests) == [0, 0, 0, 1, 1, 1]
        server.requests.clear()
        list(b.generate(PROMPT, 2, PARAMS))
        assert [body.get("top_logprobs") for _, body, _ in server.requests] == [1, 1]


def test_server_that_caps_n_still_gives_k_distinct_samples():
    with FakeServer(max_choices=2) as server, backend(server, max_n=5) as b:
        gens = list(b.generate(PROMPT, 5, PARAMS))
        check_exact(gens, 5, server)
        assert [body["n"] for _, body, _ in server.requests] == [5, 3, 1]
        server.requests.clear()
        list(b.generate(PROMPT, 5, PARAMS))     # the cap is remembered
        assert sorted(body["n"] for _, body, _ in server.requests) == [1, 2, 2]


def test_unknown_model_and_wrong_url():
    with FakeServer() as server:
        with OpenAIBackend(model="nope", base_url=server.url, **FAST) as b:
            with pytest.raises(BackendError, match=r"unknown model 'nope'; it serves: fake-model"):
                list(b.generate(PROMPT, 1, PARAMS))
        with OpenAIBackend(model="fake-model", base_url=server.url[:-3], **FAST) as b:
            with pytest.raises(BackendError, match=r"HTTP 404 Not Found; is base_url the API root"):
                list(b.generate(PROMPT, 1, PARAMS))


def test_api_key_is_sent_but_never_shown(monkeypatch):
    secret = "sk-test-9f8e7d6c5b4a"
    monkeypatch.setenv("SGS_TEST_KEY", secret)
    with FakeServer(script=[("status", 401)]) as server:
        b = backend(server, api_key_env="SGS_TEST_KEY")
        with pytest.raises(BackendError) as err:
            list(b.generate(PROMPT, 1, PARAMS))
        assert server.requests[0][2]["authorization"] == f"Bearer {secret}"
        msg = str(err.value)
        assert "HTTP 401" in msg and "$SGS_TEST_KEY" in msg
        for shown in (msg, repr(err.value), repr(b), str(b), repr(vars(b).get("capabilities"))):
            assert secret not in shown
        assert secret not in repr(vars(b))
        b.close()


def test_api_key_echoed_by_the_server_is_redacted(monkeypatch):
    secret = "sk-test-echoed-123456"
    monkeypatch.setenv("SGS_TEST_KEY", secret)
    with FakeServer() as server, backend(server, api_key_env="SGS_TEST_KEY") as b:
        b.model = f"model-{secret}"      # a server error quoting the request back
        with pytest.raises(BackendError) as err:
            list(b.generate(PROMPT, 1, PARAMS))
    assert secret not in str(err.value) and "***" in str(err.value)


def test_missing_key_named_in_401(monkeypatch):
    monkeypatch.delenv("SGS_NO_SUCH_KEY", raising=False)
    with FakeServer(script=[("status", 401)]) as server, backend(server, api_key_env="SGS_NO_SUCH_KEY") as b:
        with pytest.raises(BackendError, match=r"\$SGS_NO_SUCH_KEY is not set"):
            list(b.generate(PROMPT, 1, PARAMS))
        assert "authorization" not in server.requests[0][2]


def test_bad_options_are_one_line_errors():
    with pytest.raises(BackendError, match="endpoint must be one of chat, completions"):
        OpenAIBackend(model="m", endpoint="responses")
    with pytest.raises(BackendError, match="api_key_env must be the NAME"):
        OpenAIBackend(model="m", api_key_env="sk-abc-123")
    with pytest.raises(BackendError, match="unknown option"):
        OpenAIBackend(model="m", temprature=1)
    with pytest.raises(BackendError, match="logprob_mode"):
        OpenAIBackend(model="m", logprob_mode="sometimes")


def test_registry_and_model_spec():
    assert parse_model_spec("openai/Qwen/Qwen2.5-7B") == ("openai", "Qwen/Qwen2.5-7B")
    assert BACKENDS.get("openai") is OpenAIBackend
    b = make_backend("openai", "m", base_url="http://127.0.0.1:9/v1", logprob_mode="processed", max_n=1)
    assert (b.name, b.logprob_mode, b.capabilities.logprobs, b.capabilities.n) == ("openai", "processed", True, False)
    b.close()


def test_stopping_early_abandons_the_rest():
    with FakeServer(tokens_per_sample=4) as server, backend(server, max_n=1, concurrency=1) as b:
        it = b.generate(PROMPT, 50, PARAMS)
        next(it)
        it.close()
        time.sleep(0.2)
        assert len(server.requests) < 50
        # the backend still works afterwards
        assert len(list(b.generate(PROMPT, 2, PARAMS))) == 2


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_score_uses_prompt_logprobs(endpoint):
    completion = "def f():\n    return 1"
    with FakeServer() as server, backend(server, endpoint=endpoint) as b:
        g = b.score(PROMPT, completion)
    body = server.requests[0][1]
    if endpoint == "completions":
        assert body["echo"] is True and body["prompt"].endswith(completion)
    else:
        assert body["prompt_logprobs"] == 0 and body["continue_final_message"] is True
        assert body["messages"][-1] == {"role": "assistant", "content": completion}
    # the fake server makes each character a token
    assert "".join(g.tokens) == completion and g.text == completion
    assert len(g.logprobs) == len(completion) and all(lp < 0 for lp in g.logprobs)
    assert g.offsets == list(range(len(completion)))
    assert g.prompt_tokens > 0


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_score_on_a_server_without_prompt_logprobs(endpoint):
    with FakeServer(prompt_logprobs=False) as server, backend(server, endpoint=endpoint) as b:
        with pytest.raises(BackendError, match="^server cannot score"):
            b.score(PROMPT, "x = 1")


def test_score_refuses_llama_cpp_python_whose_echo_logprobs_are_shifted():
    with FakeServer(owned_by="me") as server, backend(server, endpoint="completions") as b:
        with pytest.raises(BackendError, match="^server cannot score: .*shifted by one token"):
            b.score(PROMPT, "x = 1")
        assert server.requests == []


def test_closed_backend_refuses_work():
    b = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1")
    b.close()
    with pytest.raises(BackendError, match="closed"):
        list(b.generate(PROMPT, 1, PARAMS))


def test_decoding_leaves_the_garbage_collector_as_it_found_it():
    import gc

    from sgs.core.backends.openai import _loads

    assert gc.isenabled()
    assert _loads(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert gc.isenabled()
    with pytest.raises(ValueError):
        _loads(b'{"cut off')
    assert gc.isenabled()
    gc.disable()
    try:
        _loads(b"[]")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_retry_after_as_seconds_or_http_date():
    import email.utils

    from sgs.core.backends.openai import _retry_after_s

    assert _retry_after_s("2.5") == 2.5 and _retry_after_s(None) is None and _retry_after_s("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= _retry_after_s(in_ten) <= 10
    assert _retry_after_s(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
