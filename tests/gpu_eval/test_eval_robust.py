"""The robustness trials (signed and rescaled inputs) catch shortcuts that only
hold for the task's input distribution, without flagging correct rewrites
whose results differ from the reference by float reordering."""
import pytest

from sgs.gpu_eval import Evaluator, MemoryReferenceCache

# Prefix sum as a matmul with an upper-triangular matrix of ones: any faster
# rewrite (torch.cumsum) sums in another order.
CUMSUM_REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        n = x.shape[1]
        return x @ torch.triu(torch.ones(n, n, dtype=x.dtype, device=x.device))

def get_inputs():
    return [torch.randn(64, 512)]

def get_init_inputs():
    return []
'''

CUMSUM_NEW = '''
import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)
'''

# Non-negative inputs: ReLU is the identity on them, so `return x` passes the
# ordinary trials and only the signed trial tells.
RELU_REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)

def get_inputs():
    return [torch.rand(64, 256)]

def get_init_inputs():
    return []
'''

RELU_IDENTITY = '''
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return x
'''


def _req(ref, cand):
    return {"task_id": "t/robust", "reference_src": ref, "candidate_src": cand, "kind": "torch",
            "device": "cpu", "mode": "fast", "seed": 4321, "timeout_s": 30, "num_threads": 1,
            "time": False}


@pytest.fixture(scope="module")
def results():
    with Evaluator(max_workers=2, reference_cache=MemoryReferenceCache()) as ev:
        futs = {"cumsum": ev.submit(_req(CUMSUM_REF, CUMSUM_NEW)),
                "relu_identity": ev.submit(_req(RELU_REF, RELU_IDENTITY))}
        return {k: f.result(timeout=120) for k, f in futs.items()}


def test_reordered_sum_is_robust(results):
    r = results["cumsum"]
    assert r["outcome"] == "correct", r["error"]
    assert r["robust"] is True
    assert "not_robust" not in r["flags"]


def test_identity_for_relu_on_positive_inputs_is_not_robust(results):
    r = results["relu_identity"]
    assert r["outcome"] == "correct", r["error"]
    assert r["robust"] is False
    assert "not_robust" in r["flags"]
