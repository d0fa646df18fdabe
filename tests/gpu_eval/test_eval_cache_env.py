"""Speedup and its interval, the reference-timing cache, the scrubbed environment."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import CORRECT, REFERENCE, candidate  # noqa: E402

from sgs.gpu_eval import MemoryReferenceCache, evaluate  # noqa: E402
from sgs.gpu_eval import forkserver  # noqa: E402

SLOW_REFERENCE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        for _ in range(300):          # many tiny ops: slow on purpose
            x = x * 1.0
        return x + 1.0

def get_inputs():
    return [torch.rand(8, 8)]

def get_init_inputs():
    return []
'''
FAST_CANDIDATE = '''
import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return x + 1.0
'''


def _req(ref, cand, **kw):
    r = {"reference_src": ref, "candidate_src": cand, "device": "cpu", "mode": "fast",
         "seed": 7, "timeout_s": 20, "num_threads": 1}
    r.update(kw)
    return r


def test_faster_candidate_gets_speedup_above_one_with_interval():
    r = evaluate(_req(SLOW_REFERENCE, FAST_CANDIDATE))
    assert r["outcome"] == "correct", r["error"]
    assert r["speedup"] > 3
    lo, hi = r["speedup_ci"]
    assert 1 < lo <= r["speedup"] * 1.5 and hi >= lo
    assert r["speedup"] == r["reference_ms"]["median"] / r["candidate_ms"]["median"]


def test_reference_timing_cached_on_second_evaluation():
    cache = MemoryReferenceCache()
    first = evaluate(_req(REFERENCE, CORRECT, seed=1), reference_cache=cache)
    second = evaluate(_req(REFERENCE, CORRECT, seed=2), reference_cache=cache)
    assert first["outcome"] == second["outcome"] == "correct"
    assert first["reference_cached"] is False
    assert second["reference_cached"] is True
    assert len(cache) == 1
    assert second["reference_cached_ms"] == first["reference_cached_ms"]
    # The speedup pairs the candidate with the reference timed beside it.
    assert second["reference_timing"] == "paired"
    assert second["speedup"] == second["reference_ms"]["median"] / second["candidate_ms"]["median"]
    # Asked to, the cached timing alone serves.
    cached = evaluate(_req(REFERENCE, CORRECT, seed=4, reference_timing="cached"), reference_cache=cache)
    assert cached["reference_timing"] == "cached"
    assert cached["reference_ms"] == first["reference_cached_ms"]
    # A different thread count is different hardware: no hit.
    third = evaluate(_req(REFERENCE, CORRECT, seed=3, num_threads=2), reference_cache=cache)
    assert third["reference_cached"] is False
    assert len(cache) == 2


def test_candidate_cannot_read_credentials(monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("SGS_FAKE_API_KEY", secret)
    monkeypatch.setenv("HF_TOKEN", secret)
    forkserver.restart_shared()            # the next server starts from this environment
    try:
        snoop = candidate(
            "import os\n"
            f"secret = {secret!r}\n"
            "hits = [k for k, v in os.environ.items() if secret in v]\n"
            "for path in ('/proc/self/environ', f'/proc/{os.getppid()}/environ'):\n"
            "    try:\n"
            "        if secret.encode() in open(path, 'rb').read():\n"
            "            hits.append(path)\n"
            "    except OSError:\n"
            "        pass\n"
            "if hits:\n"
            "    raise RuntimeError('found credentials in ' + ', '.join(hits))\n"
            "if os.environ.get('OPENAI_API_KEY') is not None:\n"
            "    raise RuntimeError('OPENAI_API_KEY visible')\n"
            "return torch.relu(self.lin(x))")
        r = evaluate(_req(REFERENCE, snoop, seed=4))
        assert r["outcome"] == "correct", r["error"]
    finally:
        monkeypatch.undo()
        forkserver.restart_shared()


def test_over_10x_speedup_flagged_for_review():
    slower = SLOW_REFERENCE.replace("range(300)", "range(2000)")
    r = evaluate(_req(slower, FAST_CANDIDATE, seed=8))
    assert r["outcome"] == "correct", r["error"]
    assert r["speedup"] > 10
    assert "speedup_over_10x" in r["flags"]


def test_identical_requests_share_one_evaluation():
    from sgs.gpu_eval import Evaluator
    with Evaluator(max_workers=2) as ev:
        a = ev.submit(_req(REFERENCE, CORRECT, seed=9))
        b = ev.submit(_req(REFERENCE, CORRECT, seed=9))
        assert a is b
        assert a.result(timeout=60)["outcome"] == "correct"
