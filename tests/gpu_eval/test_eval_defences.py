"""Reward-hacking defences that apply on the CPU path."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import REFERENCE, candidate  # noqa: E402

from sgs.gpu_eval import Evaluator  # noqa: E402

MUTATES = candidate("y = torch.relu(self.lin(x))\nx.mul_(2.0)\nreturn y")
MEMOISES = candidate("if not hasattr(self, 'memo'):\n    self.memo = torch.relu(self.lin(x))\nreturn self.memo")
PATCHES_AT_RUNTIME = candidate(
    "return torch.relu(self.lin(x))",
    header="m = __import__('ti' + 'me')\nm.__dict__['perf_' + 'counter_ns'] = lambda: 0\n")
PATCHES_STATICALLY = candidate("return torch.relu(self.lin(x))",
                               header="import torch\ntorch.cuda.synchronize = lambda *a: None\n")
SUBCLASS = candidate(
    "return Lazy(torch.relu(self.lin(x)))",
    header="class Lazy(torch.Tensor):\n    pass\n")
MUTATING_REFERENCE = REFERENCE.replace("return torch.relu(self.lin(x))",
                                       "y = torch.relu(self.lin(x))\n        x.mul_(2.0)\n        return y")


def _req(cand, ref=REFERENCE, **kw):
    r = {"reference_src": ref, "candidate_src": cand, "device": "cpu", "mode": "fast", "seed": 5,
         "timeout_s": 20, "num_threads": 1}
    r.update(kw)
    return r


@pytest.fixture(scope="module")
def results():
    with Evaluator(max_workers=3) as ev:
        futs = {"mutates": ev.submit(_req(MUTATES)),
                "mutates_like_reference": ev.submit(_req(MUTATES, ref=MUTATING_REFERENCE)),
                "memoises": ev.submit(_req(MEMOISES)),
                "memoises_2_trials": ev.submit(_req(MEMOISES, correctness_trials=2)),
                "patch_runtime": ev.submit(_req(PATCHES_AT_RUNTIME)),
                "patch_static": ev.submit(_req(PATCHES_STATICALLY)),
                "subclass": ev.submit(_req(SUBCLASS))}
        return {k: f.result(timeout=120) for k, f in futs.items()}


def test_input_mutation_is_rejected_unless_the_reference_does_it(results):
    r = results["mutates"]
    assert r["outcome"] == "incorrect"
    assert "modified its inputs" in r["error"]
    assert "inputs_mutated" in r["flags"]
    ok = results["mutates_like_reference"]
    assert ok["outcome"] == "correct", ok["error"]
    assert "reference_mutates_inputs" in ok["flags"]


def test_memoised_output_fails_on_rotated_inputs(results):
    r = results["memoises"]
    assert r["outcome"] == "incorrect"
    assert "after timed calls" in r["error"]
    assert results["memoises_2_trials"]["outcome"] == "incorrect"


def test_monkeypatching_timing_functions_is_rejected(results):
    r = results["patch_runtime"]
    assert r["outcome"] == "incorrect"
    assert "time.perf_counter_ns" in r["error"]
    s = results["patch_static"]
    assert s["outcome"] == "incorrect"
    assert "torch.cuda.synchronize" in s["error"]
    assert "rejected" in s["flags"]


def test_tensor_subclass_output_is_rejected(results):
    r = results["subclass"]
    assert r["outcome"] == "incorrect"
    assert "not a plain torch.Tensor" in r["error"]
