"""Several GPUs: evaluations spread over them, each runs where it was sent,
and timings on different GPUs go on at the same time. Needs 2+ GPUs."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_gpu_eval import CUDA_RELU, REF, torch_cand  # noqa: E402

from sgs.gpu_eval import Evaluator, MemoryReferenceCache  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2,
                                 reason="needs 2 CUDA GPUs")]

# Correct only where its inputs live on GPU 1: proves where it ran.
ONLY_ON_GPU1 = torch_cand("return torch.relu(x) if x.device.index == 1 else torch.zeros_like(x)")


def _req(cand, device, seed, kind="torch"):
    return {"task_id": "relu", "reference_src": REF, "candidate_src": cand, "kind": kind, "device": device,
            "mode": "fast", "seed": seed, "timeout_s": 60, "compile_timeout_s": 300}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    build = str(tmp_path_factory.mktemp("build"))
    with Evaluator(max_workers=8, reference_cache=MemoryReferenceCache(), build_cache=build) as ev:
        pinned = {d: ev.submit(_req(ONLY_ON_GPU1, d, 1)) for d in ("cuda:0", "cuda:1")}
        spread = [ev.submit(_req(torch_cand(f"return torch.clamp_min(x, 0) + {i} * 0"), "cuda", 10 + i))
                  for i in range(6)]
        cuda = [ev.submit(_req(CUDA_RELU, d, 30)) for d in ("cuda:0", "cuda:1")]
        return {"pinned": {d: f.result(timeout=600) for d, f in pinned.items()},
                "spread": [f.result(timeout=600) for f in spread],
                "cuda": [f.result(timeout=600) for f in cuda]}


def test_each_evaluation_runs_on_the_gpu_it_names(results):
    on1, on0 = results["pinned"]["cuda:1"], results["pinned"]["cuda:0"]
    assert on1["outcome"] == "correct", on1["error"]
    assert on1["device"] == "cuda:1"
    assert on0["outcome"] == "incorrect"        # its inputs were on GPU 0


def test_evaluations_for_any_gpu_use_both(results):
    devices = [r["device"] for r in results["spread"]]
    assert all(r["outcome"] == "correct" for r in results["spread"]), [r["error"] for r in results["spread"]]
    assert set(devices) == {"cuda:0", "cuda:1"}, devices


def test_cuda_kernel_builds_once_and_runs_on_both(results):
    a, b = results["cuda"]
    assert a["outcome"] == "correct" and b["outcome"] == "correct", (a["error"], b["error"])
    assert {a["device"], b["device"]} == {"cuda:0", "cuda:1"}
    assert a["speedup"] > 0 and b["speedup"] > 0
