"""The GPU path: CUDA and Triton candidates, faults, and one test kernel per
reward-hacking defence. Needs a CUDA GPU (and nvcc for the CUDA candidates)."""
import shutil
import subprocess
import sys
import time

import pytest
import torch

from sgs.gpu_eval import Evaluator, MemoryReferenceCache, hardware_label

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)

def get_inputs():
    return [torch.randn(4096, 1024)]

def get_init_inputs():
    return []
'''

MATMUL_REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, a, b):
        return a @ b

def get_inputs():
    return [torch.randn(4096, 4096), torch.randn(4096, 4096)]

def get_init_inputs():
    return []
'''


def torch_cand(body: str, header: str = "") -> str:
    body = "\n".join("        " + ln for ln in body.strip().splitlines())
    return (f"import torch\nimport torch.nn as nn\n{header}\n"
            f"class ModelNew(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"    def forward(self, *args):\n        x = args[0]\n{body}\n")


CUDA_RELU = r'''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

src = """
#include <torch/extension.h>
__global__ void relu_fwd_kernel(const float* x, float* y, long n) {
    long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}
torch::Tensor relu_fwd(torch::Tensor x) {
    auto y = torch::empty_like(x);
    long n = x.numel();
    relu_fwd_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
"""
mod = load_inline(name="relu_fwd_ext", cpp_sources="torch::Tensor relu_fwd(torch::Tensor x);",
                  cuda_sources=src, functions=["relu_fwd"], verbose=False)

class ModelNew(nn.Module):
    def forward(self, x):
        return mod.relu_fwd(x)
'''

NEVER_LAUNCHED = CUDA_RELU.replace("return mod.relu_fwd(x)", "return torch.relu(x)").replace(
    "relu_fwd_ext", "relu_unused_ext")

ILLEGAL_ACCESS = CUDA_RELU.replace("if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;",
                                   "if (i < n) y[i + (1L << 40)] = x[i];").replace(
    "relu_fwd_ext", "relu_bad_ext")

NVCC_ERROR = CUDA_RELU.replace("long n = x.numel();", "long n = x.numel() +;").replace(
    "relu_fwd_ext", "relu_err_ext")

TRITON_RELU = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl

@triton.jit
def relu_tl_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)

class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        n = x.numel()
        relu_tl_kernel[(triton.cdiv(n, 1024),)](x, y, n, BLOCK=1024)
        return y
'''

LINEAR_REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n, bias=False)

    def forward(self, x):
        return self.fc(x)

n = 256

def get_inputs():
    return [torch.randn(64, n)]

def get_init_inputs():
    return [n]
'''

# Draws its weight as nn.Linear does, but through the legacy constructor
# (always a CPU tensor), and uses the task's constant `n` without defining
# it: both are correct under KernelBench's evaluator (models built on the
# CPU, candidate run in the reference's namespace).
LEGACY_WEIGHT = '''
import math
import torch
import torch.nn as nn

class ModelNew(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(n, n))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x):
        return x @ self.weight.t()
'''

CASES = {
    "legacy_weight": (LINEAR_REF, LEGACY_WEIGHT, "torch"),
    "cuda_ok": (REF, CUDA_RELU, "cuda"),
    "cuda_ok_again": (REF, CUDA_RELU, "cuda"),
    "triton_ok": (REF, TRITON_RELU, "triton"),
    "never_launched": (REF, NEVER_LAUNCHED, "cuda"),
    "calls_reference": (REF, torch_cand("return torch.relu(x)"), "cuda"),
    "illegal_access": (REF, ILLEGAL_ACCESS, "cuda"),
    "device_assert": (REF, torch_cand("i = torch.full((1,), 1 << 40, device=x.device)\nreturn x.view(-1)[i]"), "torch"),
    "nvcc_error": (REF, NVCC_ERROR, "cuda"),
    "uninitialised": (REF, torch_cand("return torch.empty_like(x)"), "torch"),
    "mutates": (REF, torch_cand("return x.relu_()"), "torch"),
    "memoises": (REF, torch_cand("if not hasattr(self, 'm'):\n    self.m = torch.relu(x)\nreturn self.m"), "torch"),
    "subclass": (REF, torch_cand("return Lazy(torch.relu(x))", "class Lazy(torch.Tensor):\n    pass\n"), "torch"),
    "patches_sync": (REF, torch_cand(
        "return torch.relu(x)", "c = __import__('torch').cuda\nc.__dict__['synchro' + 'nize'] = lambda *a: None\n"),
        "torch"),
    "side_stream": (MATMUL_REF, torch_cand(
        "s = torch.cuda.Stream()\nwith torch.cuda.stream(s):\n    y = args[0] @ args[1]\nreturn y"), "torch"),
    "after_fault": (REF, torch_cand("return torch.clamp_min(x, 0)"), "torch"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cache = MemoryReferenceCache()
    build = str(tmp_path_factory.mktemp("build"))
    out = {}
    with Evaluator(max_workers=8, reference_cache=cache, build_cache=build) as ev:
        futs = {}
        for name, (ref, cand, kind) in CASES.items():
            if name in ("cuda_ok_again", "after_fault"):
                continue
            futs[name] = ev.submit({"task_id": name, "reference_src": ref, "candidate_src": cand, "kind": kind,
                                    "device": "cuda", "mode": "fast", "seed": 21, "timeout_s": 60,
                                    "compile_timeout_s": 300})
        for name, f in futs.items():
            out[name] = f.result(timeout=600)
        # After the faults: the next samples evaluate normally; the build is cached.
        for name in ("after_fault", "cuda_ok_again"):
            ref, cand, kind = CASES[name]
            out[name] = ev.submit({"task_id": name, "reference_src": ref, "candidate_src": cand, "kind": kind,
                                   "device": "cuda", "seed": 22, "timeout_s": 60}).result(timeout=600)
        out["_cache"] = cache
    return out


def test_hardware_label_names_the_gpu():
    assert hardware_label("cuda") == torch.cuda.get_device_name(0)


def test_cuda_and_triton_candidates_are_correct_and_timed(results):
    for name in ("cuda_ok", "triton_ok", "cuda_ok_again"):
        r = results[name]
        assert r["outcome"] == "correct", (name, r["error"])
        assert r["speedup"] > 0 and r["speedup_ci"][0] <= r["speedup_ci"][1]
        assert r["hardware"] == torch.cuda.get_device_name(0)
        assert r["device"].startswith("cuda:")
        assert r["tf32"] == "off"
        assert "cuda_event" in r["timing_method"]
        assert "custom_kernel_not_launched" not in r["flags"]
        assert r["versions"]["cuda"]
    assert any("relu_fwd_kernel" in k for k in results["cuda_ok"]["kernels_launched"])
    assert results["cuda_ok"]["build_headers"] == ["light"]     # the lighter extension header sufficed
    assert any("relu_tl_kernel" in k for k in results["triton_ok"]["kernels_launched"])


def test_same_source_is_built_once(results):
    first, again = results["cuda_ok"]["phases"]["compile_s"], results["cuda_ok_again"]["phases"]["compile_s"]
    assert first > 2.0                  # nvcc ran
    assert again < first / 3            # the content-addressed build cache answered


def test_reference_timing_reused(results):
    assert results["cuda_ok_again"]["reference_cached"] is True


def test_defined_but_never_launched_kernel_flagged(results):
    r = results["never_launched"]
    assert "custom_kernel_not_launched" in r["flags"]
    assert "reference_equivalent" in r["flags"]


def test_kernel_candidate_calling_reference_ops_flagged(results):
    r = results["calls_reference"]
    assert "static:no_custom_kernel" in r["flags"]
    assert "reference_equivalent" in r["flags"]


def test_faults_crash_the_sample_only(results):
    for name in ("illegal_access", "device_assert"):
        r = results[name]
        assert r["outcome"] == "crashed", (name, r["outcome"], r["error"])
        assert r["error"]
    assert results["after_fault"]["outcome"] == "correct"


def test_compile_error_keeps_nvcc_lines(results):
    r = results["nvcc_error"]
    assert r["outcome"] == "compile_error"
    assert "error" in r["error"].lower()


def test_uninitialised_memory_is_rejected(results):
    r = results["uninitialised"]
    assert r["outcome"] == "incorrect"


def test_input_mutation_rejected(results):
    r = results["mutates"]
    assert r["outcome"] == "incorrect" and "inputs_mutated" in r["flags"]


def test_memoising_rejected(results):
    assert results["memoises"]["outcome"] == "incorrect"


def test_deferred_output_rejected(results):
    r = results["subclass"]
    assert r["outcome"] == "incorrect" and "not a plain torch.Tensor" in r["error"]


def test_patching_synchronize_rejected(results):
    r = results["patches_sync"]
    assert r["outcome"] == "incorrect" and "torch.cuda.synchronize" in r["error"]


def test_side_stream_work_is_caught_by_host_time(results):
    r = results["side_stream"]
    assert r["outcome"] == "correct", r["error"]
    assert "event_host_gap" in r["flags"]
    assert "static:side_stream" in r["flags"]
    assert r["speedup"] < 2.0          # measured by host time, not the empty default stream


def test_other_gpu_process_marks_timing_contended(tmp_path):
    hog = subprocess.Popen([sys.executable, "-c",
                            "import torch, time; torch.zeros(1, device='cuda'); print('up', flush=True); "
                            "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline().strip() == "up"
        if shutil.which("nvidia-smi") is None:
            pytest.skip("no nvidia-smi / NVML to list GPU processes")
        time.sleep(0.5)
        with Evaluator(max_workers=1, build_cache=str(tmp_path)) as ev:
            r = ev.submit({"reference_src": REF, "candidate_src": torch_cand("return torch.clamp_min(x, 0)"),
                           "device": "cuda:0", "seed": 5}).result(timeout=300)    # the hog's GPU
        assert r["outcome"] == "correct", r["error"]
        assert "contended" in r["flags"]
    finally:
        hog.kill()
        hog.wait()


def test_weights_drawn_on_the_cpu_match_the_reference_as_under_kernelbench(results):
    r = results["legacy_weight"]
    assert r["outcome"] == "correct", r.get("error")


def test_candidate_writes_change_nothing_outside_its_folder_on_the_gpu(tmp_path):
    """On a GPU machine too (where Landlock may refuse CUDA): a candidate that
    at import time tries to write a table into every *.db it can find and
    files into /tmp and ~/.cache/sgs changes nothing, and still runs on the GPU."""
    from pathlib import Path

    from eval_candidates import WriteTargets

    targets = WriteTargets(tmp_path, extra=[Path.cwd()])
    try:
        with Evaluator(max_workers=1, reference_cache=MemoryReferenceCache()) as ev:
            r = ev.submit({"reference_src": REF, "candidate_src": targets.source(torch_cand("return torch.relu(x)")),
                           "device": "cuda", "seed": 3, "timeout_s": 60}).result(timeout=300)
        assert r["outcome"] == "correct", r["error"]
        print("sandbox:", r["sandbox"], "refused:", r.get("sandbox_refused"))
        assert "mountns" in r["sandbox"]["fs"] or "landlock" in r["sandbox"]["fs"], r["sandbox"]
        targets.assert_untouched()
    finally:
        targets.clean()


BIG_REF = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x * 2.0

def get_inputs():
    return [torch.rand(1024, 1024, 1024)]      # 4 GiB in fp32

def get_init_inputs():
    return []
'''


def test_multi_gb_outputs_are_checked_on_the_device():
    """4 GiB in, 4 GiB out: the outputs go to the reference as CUDA IPC
    handles, a wrong one is caught, and the task's reference runs once."""
    good = torch_cand("return x + x")
    bad = torch_cand("y = x * 2.0\ny[-1, -1, -1] += 1.0\nreturn y")
    with Evaluator(max_workers=2, reference_cache=MemoryReferenceCache()) as ev:
        futs = [ev.submit({"task_id": "big", "reference_src": BIG_REF, "candidate_src": c, "device": "cuda",
                           "seed": 5, "timeout_s": 60}) for c in (good, bad)]
        rs = [f.result(timeout=300) for f in futs]
        started = ev._runner.references.started
        probe = ev._runner.probe_details()
    assert rs[0]["outcome"] == "correct", rs[0]["error"]
    assert rs[1]["outcome"] == "incorrect" and "1/1073741824 elements off" in rs[1]["error"], rs[1]["error"]
    assert started == 1
    assert any(p.get("ipc") for p in probe.values()), probe
