"""Extraction from realistic, messy model replies (fixtures under fixtures/replies/)."""
from pathlib import Path

import pytest
import torch

from sgs.core.prompts import extract
from sgs.core.tasks import get_task

REPLIES = Path(__file__).parent / "fixtures" / "replies"
LOOKALIKES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})

# fixture, task, style, expected error prefix (None: usable), text the span
# must contain, text the candidate part of the module must contain, kind.
CASES = [
    ("body_fenced_indented", "relu", "body", None, "return torch.relu(x)", "        return torch.relu(x)", "torch"),
    ("body_prose_around", "relu", "body", None, "return torch.relu(x)", "return torch.relu(x)", "torch"),
    ("body_think_then_answer", "relu", "body", None, "x.clamp_min(0.0)", "return x.clamp_min(0.0)", "torch"),
    ("body_whole_forward_def", "relu6", "body", None, "def forward", "return torch.clamp(x, 0.0, 6.0)", "torch"),
    ("body_whole_class", "swish", "body", None, "class ModelNew(Model)", "return F.silu(x)", "torch"),
    ("body_full_module", "softmax", "body", None, "class ModelNew(nn.Module)", "torch.softmax(x, dim=1)", "torch"),
    ("body_bare_with_prose", "cumsum", "body", None, "return torch.cumsum(x, dim=1)", "return torch.cumsum(x, dim=1)", "torch"),
    ("body_several_fences", "sum_of_squares", "body", None, "vector_norm", "return torch.linalg.vector_norm(x, dim=1).square()", "torch"),
    ("body_smart_quotes", "gelu_tanh", "body", None, "approximate=\u201ctanh\u201d", 'approximate="tanh"', "torch"),
    ("body_unterminated_fence", "softmax", "body", None, "return torch.softmax(x, dim=1)", "        return torch.softmax(x, dim=1)", "torch"),
    ("body_tildes", "mse_loss", "body", None, "diff.square().mean()", "return diff.square().mean()", "torch"),
    ("body_crlf", "matmul_bias_relu", "body", None, "torch.addmm", "        return y.relu_()\n", "torch"),
    ("body_tabs", "layer_norm", "body", None, "\tmean", "        mean = x.mean(dim=-1, keepdim=True)", "torch"),
    ("body_first_line_unindented", "matmul_bias_relu", "body", None, "torch.relu_(y)", "        return torch.relu_(y)", "torch"),
    ("body_no_code", "relu", "body", "no code in reply", None, None, "torch"),
    ("body_syntax_error", "relu", "body", "extracted code does not parse: line 1: ", "torch.relu(x", None, "torch"),
    ("body_think_unfinished", "relu", "body", "no code in reply", None, None, "torch"),
    ("body_forgot_return", "relu", "body", None, "torch.relu(x)", "        return torch.relu(x)", "torch"),
    ("body_helper_import", "swish", "body", None, "def forward(self, x)", "import torch.nn.functional as F", "torch"),
    ("body_rewritten_model_class", "relu", "body", None, "self.scale = 1.0", "class ModelNew(nn.Module):", "torch"),
    ("body_output_block_after", "cumsum", "body", None, "return torch.cumsum(x, dim=1)", "return torch.cumsum(x, dim=1)", "torch"),
    ("kernel_cuda", "relu", "kernel", None, "load_inline(", "relu_ext.relu_cuda(x.contiguous())", "cuda"),
    ("kernel_triton", "relu", "kernel", None, "@triton.jit", "relu_kernel[(triton.cdiv(n, 1024),)]", "triton"),
    ("kernel_no_modelnew", "relu", "kernel", "no class ModelNew in reply", "def fast_relu", None, "torch"),
    ("kernel_think_bare", "relu", "kernel", None, "class ModelNew(nn.Module)", "return torch.relu(x)", "torch"),
]


def test_every_fixture_has_a_case():
    assert {p.stem for p in REPLIES.glob("*.txt")} == {c[0] for c in CASES}
    assert len(CASES) >= 15


def _reply(name: str) -> str:
    text = (REPLIES / f"{name}.txt").read_text(encoding="utf-8")
    return text.replace("\n", "\r\n") if "crlf" in name else text


def _candidate_part(code: str, reference: str) -> str:
    return code[len(reference.rstrip()):] if code.startswith(reference.rstrip()) else code


def _outputs_match(code: str, task) -> bool:
    ref_ns: dict = {}
    exec(compile(task.reference_src, task.path, "exec"), ref_ns)
    ns: dict = {}
    exec(compile(code, "<candidate>", "exec"), ns)
    init, inputs = ref_ns["get_init_inputs"](), ref_ns["get_inputs"]()
    torch.manual_seed(0)
    ref = ref_ns["Model"](*init)
    torch.manual_seed(0)
    new = ns["ModelNew"](*init)
    with torch.no_grad():
        return torch.allclose(ref(*inputs), new(*inputs), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name, task_name, style, error, in_span, in_code, kind", CASES,
                         ids=[c[0] for c in CASES])
def test_extraction(name, task_name, style, error, in_span, in_code, kind):
    task = get_task(f"builtin/{task_name}")
    reply = _reply(name)
    got = extract(reply, task, style)
    assert got.kind == kind
    span = reply[got.start:got.end]
    if in_span is not None:
        assert in_span in span.replace("\r\n", "\n")
    if error is not None:
        assert got.code is None and got.error.startswith(error) and "\n" not in got.error
        return
    assert got.error is None, got.error
    compile(got.code, "<candidate>", "exec")
    part = _candidate_part(got.code, task.reference_src)
    assert in_code in part
    # The span is where the code came from: each of its lines is in the module.
    for line in span.replace("\r\n", "\n").translate(LOOKALIKES).split("\n"):
        assert line.strip() in got.code
    if style == "body" or kind == "torch":
        assert _outputs_match(got.code, task)


def test_body_module_is_reference_then_subclass():
    task = get_task("builtin/mse_loss")
    got = extract("```python\nreturn torch.mean((predictions - targets) ** 2)\n```", task)
    assert got.code.startswith(task.reference_src.rstrip())
    assert got.code.endswith(
        "\n\n\nclass ModelNew(Model):\n"
        "    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:\n"
        "        return torch.mean((predictions - targets) ** 2)\n")


def test_syntax_error_line_counts_from_the_extracted_code():
    task = get_task("builtin/relu")
    got = extract("```python\ny = torch.relu(x)\nz = y +\nreturn z\n```", task)
    assert got.code is None and got.error.startswith("extracted code does not parse: line 2: ")


def test_echoed_reference_loses_to_a_broken_answer():
    task = get_task("builtin/relu")
    echo = "```python\n" + task.reference_src + "```\n"
    got = extract(echo + "Faster:\n```python\nreturn torch.relu(x\n```\n", task)
    assert got.code is None and "does not parse" in got.error


def test_kernel_module_using_model_gets_the_reference_prepended():
    task = get_task("builtin/relu")
    reply = "```python\nclass ModelNew(Model):\n    def forward(self, x):\n        return torch.relu(x)\n```"
    got = extract(reply, task, "kernel")
    assert got.code.startswith(task.reference_src.rstrip()) and _outputs_match(got.code, task)


def test_unfenced_broken_code_is_a_parse_error_not_no_code():
    task = get_task("builtin/relu")
    reply = "Just use relu.\n\nreturn torch.relu(x\n\nDone."
    got = extract(reply, task)
    assert got.code is None and got.error.startswith("extracted code does not parse: line 1: ")
    assert reply[got.start:got.end] == "return torch.relu(x"


# A kernel file as `sgs eval FILE` reads it: CUDA source at column 0 inside a
# string, and a docstring that shows a fenced example.
CUDA_FILE = '''"""ReLU with a custom CUDA kernel.

Usage, as a reply would show it:

```python
y = ModelNew()(x)
```
"""
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

relu_source = r"""
#include <torch/extension.h>

__global__ void relu_kernel(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

torch::Tensor relu_cuda(torch::Tensor x) {
    auto y = torch::empty_like(x);
    int n = x.numel();
    relu_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
    return y;
}
"""

relu_ext = load_inline(name="relu_ext", cpp_sources="torch::Tensor relu_cuda(torch::Tensor x);",
                       cuda_sources=relu_source, functions=["relu_cuda"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return relu_ext.relu_cuda(x.contiguous())
'''


@pytest.mark.parametrize("style", ["kernel", "body"])
def test_a_python_file_defining_modelnew_is_taken_whole(style):
    task = get_task("builtin/relu")
    got = extract(CUDA_FILE, task, style)
    assert got.error is None and got.kind == "cuda"
    assert _candidate_part(got.code, task.reference_src).lstrip("\n") == CUDA_FILE.rstrip()
    assert CUDA_FILE[got.start:got.end] == CUDA_FILE.rstrip()
    if style == "kernel":
        assert got.code == CUDA_FILE.rstrip()  # nothing prepended, no line lost


def _broken(line_no: int) -> str:
    lines = CUDA_FILE.split("\n")
    assert lines[line_no - 1] == "    def forward(self, x):"
    lines[line_no - 1] = "    def forward(self, x)"
    return "\n".join(lines)


@pytest.mark.parametrize("style", ["kernel", "body"])
def test_syntax_error_in_a_file_is_one_line_with_the_files_line_number(style):
    task = get_task("builtin/relu")
    line_no = CUDA_FILE.split("\n").index("    def forward(self, x):") + 1
    for text, expected in ((_broken(line_no), line_no), ("\n\n" + _broken(line_no), line_no + 2)):
        got = extract(text, task, style)
        assert got.code is None and "\n" not in got.error
        assert got.error.startswith(f"extracted code does not parse: line {expected}: "), got.error
        assert text[got.start:got.end].rstrip().endswith("return relu_ext.relu_cuda(x.contiguous())")


def test_unfenced_module_between_prose_keeps_all_its_lines():
    task = get_task("builtin/relu")
    module = CUDA_FILE.split('"""\nimport torch\n', 1)[1]
    module = "import torch\n" + module
    reply = f"Here is a faster version.\n\n{module}\nThe kernel does one pass over x.\nIt needs a GPU.\n"
    got = extract(reply, task, "kernel")
    assert got.code == module.rstrip()
    assert reply[got.start:got.end] == module.rstrip()

    broken = module.replace("    def forward(self, x):", "    def forward(self, x)")
    got = extract(reply.replace(module, broken), task, "kernel")
    line_no = module.split("\n").index("    def forward(self, x):") + 1
    # counted from the module's first line, as for a fenced block
    assert got.code is None and got.error.startswith(f"extracted code does not parse: line {line_no}: ")


def test_modelnew_bound_by_assignment_counts_as_defined():
    task = get_task("builtin/relu")
    reply = ("```python\nimport torch\nimport torch.nn as nn\n\n\nclass FastReLU(nn.Module):\n"
             "    def forward(self, x):\n        return torch.relu(x)\n\n\nModelNew = FastReLU\n```")
    got = extract(reply, task, "kernel")
    assert got.error is None and got.code.endswith("ModelNew = FastReLU") and _outputs_match(got.code, task)
