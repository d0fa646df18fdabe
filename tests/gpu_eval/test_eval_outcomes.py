"""Every failure mode costs its own sample, never the pool."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import (CORRECT, HANG, IMPORT_FAILS, RAISES, REFERENCE, SEGFAULT,  # noqa: E402
                             SYNTAX_ERROR, WRONG_SHAPE, ZERO_INPUTS)

from sgs.gpu_eval import Evaluator, MemoryReferenceCache  # noqa: E402


def _req(cand, **kw):
    r = {"task_id": "t/relu", "reference_src": REFERENCE, "candidate_src": cand, "kind": "torch",
         "device": "cpu", "mode": "fast", "seed": 1234, "timeout_s": 4, "num_threads": 1}
    r.update(kw)
    return r


@pytest.fixture(scope="module")
def results():
    cands = {"segfault": SEGFAULT, "hang": HANG, "raises": RAISES, "wrong_shape": WRONG_SHAPE,
             "zero_inputs": ZERO_INPUTS, "import_fails": IMPORT_FAILS, "syntax": SYNTAX_ERROR,
             "correct": CORRECT}
    with Evaluator(max_workers=4, reference_cache=MemoryReferenceCache()) as ev:
        futs = {name: ev.submit(_req(src)) for name, src in cands.items()}
        out = {name: f.result(timeout=120) for name, f in futs.items()}
        # The pool still works after all of that.
        out["after"] = ev.submit(_req(CORRECT, seed=99)).result(timeout=60)
    return out


def test_segfault_is_crashed_with_signal(results):
    r = results["segfault"]
    assert r["outcome"] == "crashed"
    assert "SIGSEGV" in r["error"]


def test_hang_is_killed_as_timeout(results):
    r = results["hang"]
    assert r["outcome"] == "timeout"
    assert "timed out" in r["error"]


def test_exception_is_runtime_error_with_last_line(results):
    r = results["raises"]
    assert r["outcome"] == "runtime_error"
    assert "ValueError: boom in forward" in r["error"]


def test_wrong_shape_is_incorrect_with_clear_error(results):
    r = results["wrong_shape"]
    assert r["outcome"] == "incorrect"
    assert "shape (16, 31) != reference (16, 32)" in r["error"]


def test_zeroing_inputs_and_returning_zeros_is_incorrect(results):
    r = results["zero_inputs"]
    assert r["outcome"] == "incorrect"


def test_import_failure_and_syntax_error_are_compile_errors(results):
    assert results["import_fails"]["outcome"] == "compile_error"
    assert "no such extension" in results["import_fails"]["error"]
    assert results["syntax"]["outcome"] == "compile_error"
    assert "SyntaxError" in results["syntax"]["error"]


def test_correct_candidate_alongside_failures(results):
    for name in ("correct", "after"):
        r = results[name]
        assert r["outcome"] == "correct", r["error"]
        assert r["error"] is None
        assert r["correct_trials"] == r["trials"] == 1
        assert r["max_abs_diff"] is not None and r["max_abs_diff"] <= 1e-4
        assert r["speedup"] > 0
        lo, hi = r["speedup_ci"]
        assert 0 < lo <= hi
        assert r["candidate_ms"]["n"] >= 5 and r["reference_ms"]["n"] >= 5
        assert r["hardware"].startswith("cpu: ") and r["hardware"].endswith("x1 threads")
        assert r["device"] == "cpu"
        assert r["robust"] is True
        assert set(r["phases"]) >= {"compile_s", "correctness_s", "timing_s"}
        assert r["versions"]["torch"]


def test_gpu_only_candidate_skipped_without_gpu():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from sgs.gpu_eval import evaluate
    for device in ("auto", "cuda", "cpu"):
        r = evaluate(_req(CORRECT, kind="cuda", device=device))
        assert r["outcome"] == "skipped"
        assert r["error"] == "no GPU"


REFERENCE_WITH_CONSTANTS = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, low, high):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x):
        return torch.clamp(x, self.low, self.high)

low = -0.5
high = 0.5

def get_inputs():
    return [torch.randn(32, 32)]

def get_init_inputs():
    return [low, high]
"""

# Uses the task's constants without defining them, as a candidate may under
# KernelBench's evaluator (which runs it in the reference's namespace).
USES_REFERENCE_CONSTANTS = """
import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, low_, high_):
        super().__init__()

    def forward(self, x):
        return torch.clamp(x, low, high)
"""


def test_candidate_sees_the_reference_module_names_as_under_kernelbench():
    req = _req(USES_REFERENCE_CONSTANTS, task_id="t/clamp", reference_src=REFERENCE_WITH_CONSTANTS, timeout_s=60)
    with Evaluator(max_workers=1) as ev:
        r = ev.submit(req).result(timeout=120)
    assert r["outcome"] == "correct", r.get("error")
