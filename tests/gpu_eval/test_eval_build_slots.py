"""Compiles are limited to `max_workers` at once, while more evaluations are
under way (compiled ones waiting for the device); compiles run niced."""
import subprocess
import sys
import time

from sgs.gpu_eval import Evaluator, MemoryReferenceCache
from sgs.gpu_eval import builds
from sgs.gpu_eval.evaluator import waiting_room

REFERENCE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x + 1

def get_inputs():
    return [torch.randn(16, 16)]

def get_init_inputs():
    return []
'''

# Counts as a build for the evaluator (it names load_inline); its "compile"
# is a pause while the module is imported.
SLOW_BUILD = '''
import time
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

time.sleep({pause})   # variant {tag}
if time.time() < 0:
    load_inline("never", cpp_sources="")

class ModelNew(nn.Module):
    def forward(self, x):
        return x + 1
'''

NO_BUILD = '''
import torch.nn as nn

class ModelNew(nn.Module):
    def forward(self, x):
        return x + 1
'''


def _req(src: str, tag: str) -> dict:
    return {"task_id": f"t/slots-{tag}", "reference_src": REFERENCE, "candidate_src": src, "kind": "torch",
            "device": "cpu", "mode": "fast", "seed": 3, "timeout_s": 60, "time": False}


def test_one_build_slot_lets_one_candidate_compile_at_a_time():
    with Evaluator(max_workers=1, reference_cache=MemoryReferenceCache()) as ev:
        assert ev.in_flight >= 2                     # a compiled evaluation may wait beside a compile
        futs = [ev.submit(_req(SLOW_BUILD.format(pause=1.5, tag=i), str(i))) for i in range(2)]
        plain = ev.submit(_req(NO_BUILD, "plain"))
        rs = [f.result(timeout=120) for f in futs]
        r_plain = plain.result(timeout=120)
    assert [r["outcome"] for r in rs] == ["correct", "correct"], rs
    for r in rs:
        assert r["phases"]["compile_s"] >= 1.5
    waits = sorted(r["phases"]["build_slot_wait_s"] for r in rs)
    # The second waited for the first one's compile (1.5 s) to end.
    assert waits[0] < 1.0 and waits[1] >= 1.4, waits
    # A candidate that builds nothing takes no slot.
    assert r_plain["outcome"] == "correct" and "build_slot_wait_s" not in r_plain["phases"]


def test_waiting_room_holds_as_many_compiled_as_compiling_on_a_gpu(monkeypatch):
    from sgs.gpu_eval import environment
    # A waiting candidate holds no GPU memory (memory admission happens when
    # it is let onto the device), so the room no longer shrinks on small GPUs.
    monkeypatch.setattr(environment, "cuda_devices", lambda: ({"total_memory": 24 << 30},))
    assert waiting_room(16) == 16
    monkeypatch.setattr(environment, "cuda_devices", lambda: ())
    assert waiting_room(16) == 8


def test_builds_run_niced_and_the_rest_of_subprocess_is_untouched(monkeypatch):
    import torch.utils.cpp_extension as cpp_ext
    monkeypatch.setattr(cpp_ext, "subprocess", subprocess)
    builds.lower_build_priority(7)
    builds.lower_build_priority(7)                 # once only: not niced twice
    probe = [sys.executable, "-c", "import os; print(os.nice(0))"]
    base = int(subprocess.run(probe, capture_output=True, text=True).stdout)
    niced = int(cpp_ext.subprocess.run(probe, capture_output=True, text=True).stdout)
    assert niced == min(19, base + 7)
    assert int(cpp_ext.subprocess.check_output(probe, text=True)) == base
    assert cpp_ext.subprocess.CalledProcessError is subprocess.CalledProcessError
    t = time.monotonic()
    builds.lower_build_priority(0)                 # 0: left as it is
    assert time.monotonic() - t < 1
