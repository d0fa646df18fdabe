"""Client overhead of the openai backend: samples/s through sgs vs a bare httpx client.

A mock OpenAI-compatible server on loopback (its own process, so it does not
share this process's GIL) answers at once with canned completions of
--tokens tokens, each with per-token logprobs. Both clients send the same
requests (same n, same concurrency, keep-alive) in this process; the bare one
only parses the JSON and collects each sample's logprobs, sgs builds full
Generation objects (tokens, logprobs, offsets, usage) and hands them over
from its event-loop thread. Rounds alternate so drift hits both alike; the
best round's wall time and the median client CPU time per sample are
compared (CPU time is the steadier figure on a shared machine).

    python benchmarks/bench_openai_client.py [--samples 512] [--n 8] [--concurrency 8] [--tokens 1024]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core" / "backends"))

from fake_server import FakeServer  # noqa: E402  (the tests' mock server)

from sgs.core.backends import Prompt  # noqa: E402
from sgs.core.backends.openai import OpenAIBackend  # noqa: E402
from sgs.core.types import SamplingParams  # noqa: E402

PROMPT = Prompt(messages=({"role": "user", "content": "Write a fast ReLU kernel."},))
MODEL = "fake-model"


def serve(tokens: int, port_out, stop) -> None:
    with FakeServer(tokens_per_sample=tokens, canned=True, model=MODEL) as server:
        port_out.put(server.port)
        stop.wait()


def request_sizes(samples: int, n: int) -> list[int]:
    return [min(n, samples - first) for first in range(0, samples, n)]


class BareClient:
    """The least a client must do: POST, parse the JSON, keep each sample's logprobs.

    Like the backend it keeps one event loop and one keep-alive connection pool
    across rounds, so both pay connection set-up once.
    """

    def __init__(self, url: str, n: int, concurrency: int, max_tokens: int):
        self.n, self.concurrency, self.max_tokens = n, concurrency, max_tokens
        self.loop = asyncio.new_event_loop()
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = self.loop.run_until_complete(self._make(url, limits))

    @staticmethod
    async def _make(url, limits) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, limits=limits, timeout=60)

    async def _run(self, samples: int) -> int:
        got = 0
        sem = asyncio.Semaphore(self.concurrency)

        async def one(size: int) -> None:
            nonlocal got
            body = {"model": MODEL, "n": size, "temperature": 1.0, "top_p": 1.0, "max_tokens": self.max_tokens,
                    "messages": list(PROMPT.messages), "logprobs": True}
            async with sem:
                resp = await self.client.post("/chat/completions", json=body)
            for choice in resp.json()["choices"]:
                logprobs = [t["logprob"] for t in choice["logprobs"]["content"]]
                got += 1 if logprobs else 0

        await asyncio.gather(*(one(size) for size in request_sizes(samples, self.n)))
        return got

    def run(self, samples: int) -> int:
        return self.loop.run_until_complete(self._run(samples))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def sgs_client(backend: OpenAIBackend, samples: int, max_tokens: int) -> int:
    return sum(1 for g in backend.generate(PROMPT, samples, SamplingParams(max_tokens=max_tokens))
               if g.logprobs)


def parse_costs(tokens: int, n: int) -> tuple[float, float, float]:
    """Best-of CPU microseconds per sample: JSON decoding, the bare client's
    logprob extraction, and sgs's Generation building, on one canned response."""
    import json
    import timeit

    server = FakeServer(tokens_per_sample=tokens, canned=True, model=MODEL)
    raw, _ = server._answer("/v1/chat/completions", {"n": n, "max_tokens": tokens + 8, "model": MODEL}, True)
    data = json.loads(raw)
    backend = OpenAIBackend(model=MODEL, base_url="http://127.0.0.1:9/v1")

    def best(fn) -> float:
        return min(timeit.repeat(fn, number=20, repeat=9)) / 20 / n * 1e6

    decode = best(lambda: json.loads(raw))
    bare = best(lambda: [[t["logprob"] for t in c["logprobs"]["content"]] for c in data["choices"]])
    sgs = best(lambda: [backend._generation(c, data, 0.0, 0, "") for c in data["choices"]])
    backend.close()
    return decode, bare, sgs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--n", type=int, default=8, help="samples per request")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=1024, help="tokens per completion")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()

    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(args.tokens, port_q, stop), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{port_q.get(timeout=30)}/v1"
    max_tokens = args.tokens + 8
    backend = OpenAIBackend(model=MODEL, base_url=url, max_n=args.n, concurrency=args.concurrency)
    bare = BareClient(url, args.n, args.concurrency, max_tokens)
    try:
        # warm-up: connections, the server's canned bodies, imports
        bare.run(args.n * args.concurrency)
        sgs_client(backend, args.n * args.concurrency, max_tokens)
        names = ("httpx (bare)", "sgs openai backend")
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        runs = {
            names[0]: lambda: bare.run(args.samples),
            names[1]: lambda: sgs_client(backend, args.samples, max_tokens),
        }
        for _ in range(args.rounds):
            for name in names:
                t0, c0 = time.perf_counter(), time.process_time()
                assert runs[name]() == args.samples
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    finally:
        bare.close()
        backend.close()
        stop.set()
        proc.join(5)

    print(f"{args.samples} samples of {args.tokens} tokens with logprobs, n={args.n} per request, "
          f"concurrency {args.concurrency}, {args.rounds} rounds")
    print(f"{'client':<22}{'best s':>8}{'median s':>10}{'samples/s':>11}{'tokens/s':>11}{'CPU ms/sample':>15}")
    best_rate, cpu_per = {}, {}
    for name in names:
        best, med = min(wall[name]), statistics.median(wall[name])
        best_rate[name] = args.samples / best
        # CPU time of this process (all its threads): what the client itself costs,
        # steadier than wall time on a shared machine
        cpu_per[name] = statistics.median(cpu[name]) / args.samples * 1e3
        print(f"{name:<22}{best:>8.3f}{med:>10.3f}{best_rate[name]:>11.1f}{best_rate[name] * args.tokens:>11.0f}"
              f"{cpu_per[name]:>15.3f}")
    wall_overhead = best_rate[names[0]] / best_rate[names[1]] - 1
    cpu_overhead = cpu_per[names[1]] / cpu_per[names[0]] - 1
    print(f"sgs overhead: {wall_overhead * 100:+.1f}% wall (best round), {cpu_overhead * 100:+.1f}% client CPU "
          "(target < 5%)")
    decode, bare_us, sgs_us = parse_costs(args.tokens, args.n)
    print(f"per-sample parsing, best of 9: JSON decoding {decode:.0f} us; logprobs only {bare_us:.0f} us; "
          f"sgs Generation {sgs_us:.0f} us (+{sgs_us - bare_us:.0f} us = "
          f"{(sgs_us - bare_us) / (cpu_per[names[0]] * 1e3) * 100:.1f}% of the bare client's CPU per sample)")

if __name__ == "__main__":
    main()
