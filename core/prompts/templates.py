"""Prompt texts. Any change here must bump TEMPLATE_VERSION in __init__."""

BODY_SYSTEM = "You are an expert in PyTorch performance. You write fast, correct code."

BODY_USER = """\
Make this PyTorch model faster while computing the same outputs.

```python
{reference}
```

Write the forward of `class ModelNew(Model)`. It inherits `__init__`, so every \
attribute and parameter of Model is available on `self`. \
Use PyTorch operations. The signature is:

    {signature}

Return only the body of forward, in one ```python block."""

KERNEL_SYSTEM = (
    "You are an expert in GPU programming. You replace PyTorch operators with "
    "custom CUDA or Triton kernels to get speedups."
)

KERNEL_USER = """\
Here is an example of a model and a version of it with a custom CUDA kernel.

```python
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return a + b
```

```python
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

add_source = r'''
#include <torch/extension.h>

__global__ void add_kernel(const float* a, const float* b, float* out, int n) {{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}}

torch::Tensor add_cuda(torch::Tensor a, torch::Tensor b) {{
    auto out = torch::empty_like(a);
    int n = a.numel();
    add_kernel<<<(n + 255) / 256, 256>>>(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), n);
    return out;
}}
'''

add = load_inline(
    name="add",
    cpp_sources="torch::Tensor add_cuda(torch::Tensor a, torch::Tensor b);",
    cuda_sources=add_source,
    functions=["add_cuda"],
)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return add.add_cuda(a.contiguous(), b.contiguous())
```

Now write `class ModelNew` for the model below, replacing some or all of its \
operators with custom kernels (CUDA through `load_inline`, or Triton). Keep \
the same `__init__` arguments and outputs.

```python
{reference}
```

Reply with the complete new module in one ```python block: imports, kernels \
and `class ModelNew`. No tests, no example usage."""

ALL = {
    "BODY_SYSTEM": BODY_SYSTEM,
    "BODY_USER": BODY_USER,
    "KERNEL_SYSTEM": KERNEL_SYSTEM,
    "KERNEL_USER": KERNEL_USER,
}
