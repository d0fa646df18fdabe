"""load_inline builds try a lighter torch/extension.h first and fall back
to the full header, so a source that needs torch's C++ frontend still builds
(CPU extensions here; the GPU tests build CUDA ones the same way)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import REFERENCE, candidate  # noqa: E402

from sgs.gpu_eval import Evaluator, MemoryReferenceCache  # noqa: E402

_BUILD = '''
from torch.utils.cpp_extension import load_inline
_ext = load_inline(name="{name}", cpp_sources="""
torch::Tensor relu_fwd(torch::Tensor x) {{ return {expr}; }}
""", functions=["relu_fwd"], verbose=True)
'''

# Needs only the tensor API: builds against the light header.
TENSOR_API = candidate("return _ext.relu_fwd(self.lin(x))",
                       header=_BUILD.format(name="sgs_light_ok", expr="torch::clamp_min(x, 0)"))
# torch::nn::functional lives in torch/all.h: the light build fails, the full one runs.
NEEDS_FRONTEND = candidate("return _ext.relu_fwd(self.lin(x))",
                           header=_BUILD.format(name="sgs_light_fallback",
                                                expr="torch::nn::functional::relu(x)"))


def _req(cand, **kw):
    r = {"task_id": "t/relu", "reference_src": REFERENCE, "candidate_src": cand, "kind": "torch",
         "device": "cpu", "mode": "fast", "seed": 7, "timeout_s": 60, "compile_timeout_s": 400,
         "num_threads": 1}
    r.update(kw)
    return r


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    build = str(tmp_path_factory.mktemp("builds"))
    with Evaluator(max_workers=2, reference_cache=MemoryReferenceCache(), build_cache=build) as ev:
        futs = {"ok": ev.submit(_req(TENSOR_API)), "fallback": ev.submit(_req(NEEDS_FRONTEND))}
        out = {k: f.result(timeout=600) for k, f in futs.items()}
        # The same sources again: the cache entries answer (for the second, its
        # mark skips the light attempt), nothing is compiled again.
        out["ok_again"] = ev.submit(_req(TENSOR_API, seed=8)).result(timeout=600)
        out["again"] = ev.submit(_req(NEEDS_FRONTEND, seed=8)).result(timeout=600)
    return out


def test_tensor_api_source_builds_with_light_header(results):
    r = results["ok"]
    assert r["outcome"] == "correct", r["error"]
    assert r["build_headers"] == ["light"]
    again = results["ok_again"]
    assert again["outcome"] == "correct" and again["build_headers"] == ["light"]
    assert again["phases"]["compile_s"] < r["phases"]["compile_s"] / 4      # loaded, not rebuilt


def test_source_needing_full_header_falls_back_and_is_correct(results):
    r = results["fallback"]
    assert r["outcome"] == "correct", r["error"]
    assert r["build_headers"] == ["full"]
    again = results["again"]
    assert again["outcome"] == "correct"
    assert again["build_headers"] == ["full"]
    assert again["phases"]["compile_s"] < r["phases"]["compile_s"] / 4
