"""A candidate whose forward runs the task's own Model is the reference, whatever its source looks like."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import CORRECT, REFERENCE  # noqa: E402

from sgs.gpu_eval import Evaluator, MemoryReferenceCache  # noqa: E402

BUILDS_THE_REFERENCE = '''
import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Model()            # the task's own module, from its namespace

    def forward(self, x):
        return self.inner(x) + 0.0
'''

SUBCLASS_CALLING_SUPER = '''
import torch

class ModelNew(Model):
    def forward(self, x):
        y = super().forward(x)
        return y.contiguous()
'''


@pytest.fixture(scope="module")
def results():
    reqs = {"builds": BUILDS_THE_REFERENCE, "super": SUBCLASS_CALLING_SUPER, "own": CORRECT}
    with Evaluator(max_workers=2, reference_cache=MemoryReferenceCache()) as ev:
        futs = {k: ev.submit({"reference_src": REFERENCE, "candidate_src": src, "device": "cpu", "seed": 5,
                              "timeout_s": 30, "num_threads": 1, "time": False}) for k, src in reqs.items()}
        return {k: f.result(timeout=240) for k, f in futs.items()}


def test_calling_an_instance_of_model_is_flagged(results):
    r = results["builds"]
    assert r["outcome"] == "correct", r["error"]
    assert "reference_equivalent" in r["flags"]


def test_calling_the_reference_forward_through_super_is_flagged(results):
    r = results["super"]
    assert r["outcome"] == "correct", r["error"]
    assert "reference_equivalent" in r["flags"]


def test_own_forward_is_not_flagged(results):
    assert "reference_equivalent" not in results["own"]["flags"]
