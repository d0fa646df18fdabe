"""The static checks parse the source; text in comments or strings does not trigger them."""
from sgs.gpu_eval.static_checks import check

REF = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n"


def test_assignment_to_timing_function_is_rejected():
    r = check("import torch as T\nT.cuda.synchronize = lambda: None\n", "torch")
    assert r["reject"] == "candidate replaces T.cuda.synchronize"
    r = check("import time\nsetattr(time, 'perf_counter', lambda: 0)\n", "torch")
    assert r["reject"] == "candidate replaces time.perf_counter"


def test_comments_and_strings_are_not_code():
    src = ("import torch\n# torch.cuda.synchronize = None\ns = 'time.perf_counter = 0'\n"
           "class ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x\n")
    r = check(src, "torch")
    assert r["reject"] is None
    assert not any(f.startswith("static:monkeypatch") for f in r["flags"])


def test_syntax_error_reported_with_line():
    r = check("class ModelNew(:\n", "torch")
    assert r["syntax_error"].startswith("SyntaxError") and "line 1" in r["syntax_error"]


def test_cuda_kernels_found_and_missing_kernel_flagged():
    src = ('import torch\nsrc = """\n__global__ void relu_kernel(const float* x, float* y, int n) {}\n"""\n'
           "class ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x\n")
    r = check(src, "cuda")
    assert r["kernels"] == ["relu_kernel"]
    assert "static:no_custom_kernel" not in r["flags"]
    r = check("import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n",
              "cuda", REF)
    assert "static:no_custom_kernel" in r["flags"]
    assert "reference_equivalent" in r["flags"]


def test_side_streams_subclasses_and_introspection_flagged():
    src = ("import torch, gc\ns = torch.cuda.Stream()\nclass T(torch.Tensor):\n    pass\n"
           "class ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return x\n")
    flags = check(src, "torch")["flags"]
    assert "static:side_stream" in flags
    assert "static:tensor_subclass" in flags
    assert "static:introspection:gc" in flags


def test_triton_jit_functions_count_as_kernels():
    src = ("import triton\nimport triton.language as tl\n@triton.jit\ndef add_kernel(x):\n    pass\n"
           "class ModelNew:\n    pass\n")
    assert check(src, "triton")["kernels"] == ["add_kernel"]


def test_reference_equivalence_needs_the_whole_class_and_no_kernel():
    ref = ("import torch\nclass Model(torch.nn.Module):\n    def __init__(self):\n"
           "        super(Model, self).__init__()\n        self.a = torch.nn.ReLU()\n"
           "    def forward(self, x):\n        return self.a(x)\n")
    same = ref.replace("Model", "ModelNew")
    assert "reference_equivalent" in check(same, "torch", ref)["flags"]
    # Same forward, but a submodule of its own: not the reference.
    other = same.replace("torch.nn.ReLU()", "MyRelu()")
    assert "reference_equivalent" not in check(other, "torch", ref)["flags"]
    # Same class, plus a custom kernel it may use elsewhere: left to the profiler.
    with_kernel = same + 'src = "__global__ void k(float* x) {}"\n'
    assert "reference_equivalent" not in check(with_kernel, "cuda", ref)["flags"]


def test_calling_the_reference_is_hinted():
    builds_it = "class ModelNew(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.m = Model()\n"
    via_super = ("class ModelNew(Model):\n    def forward(self, x):\n        return super().forward(x) * 1.0\n")
    own = "class ModelNew(nn.Module):\n    def forward(self, x):\n        return super().forward(x)\n"
    assert "static:calls_reference" in check(builds_it, "torch")["flags"]
    assert "static:calls_reference" in check(via_super, "torch")["flags"]
    assert "static:calls_reference" not in check(own, "torch")["flags"]
