"""Checking children share the cores among the checks that may run at once;
the timing keeps the requested thread count."""
import os

from sgs.gpu_eval import Evaluator, MemoryReferenceCache

REFERENCE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x * 2

def get_inputs():
    return [torch.randn(8, 8)]

def get_init_inputs():
    return []
'''

# Remembers the thread counts it ran under and fails, naming them, once it has
# seen two: the checks run first, the timing after.
RECORDS_THREADS = '''
import torch
import torch.nn as nn

SEEN = []

class ModelNew(nn.Module):
    def forward(self, x):
        n = torch.get_num_threads()
        if n not in SEEN:
            SEEN.append(n)
        if len(SEEN) > 1:
            raise ValueError(f"threads seen {SEEN}")
        return x * 2
'''


def test_checks_use_a_share_of_the_cores_and_timing_its_pinned_count():
    cores = len(os.sched_getaffinity(0))
    workers = 2 * cores                       # more checks than cores: one thread each
    req = {"task_id": "t/threads", "reference_src": REFERENCE, "candidate_src": RECORDS_THREADS,
           "kind": "torch", "device": "cpu", "mode": "fast", "seed": 7, "timeout_s": 30,
           "num_threads": 2}
    with Evaluator(max_workers=workers, reference_cache=MemoryReferenceCache()) as ev:
        r = ev.submit(req).result(timeout=120)
    assert r["num_threads"] == 2
    assert r["outcome"] == "runtime_error", r
    assert "threads seen [1, 2]" in r["error"]
