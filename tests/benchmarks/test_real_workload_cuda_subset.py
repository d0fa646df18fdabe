"""The CUDA subset: which corpus kernels are expected to stay correct on the
current task files, and the 64 chosen from them."""
import pytest
from real_workload import cuda_subset, sources

OLD = '''import torch
import torch.nn as nn

class Model(nn.Module):
    """Doc."""
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.cumsum(x, dim=self.dim)

batch_size = 128
shape = (4000, 16)
dim = 1

def get_inputs():
    return [torch.randn(batch_size, *shape)]

def get_init_inputs():
    return [dim]
'''


def test_interface_ignores_sizes_and_the_randn_to_rand_change():
    new = OLD.replace("batch_size = 128", "batch_size = 32768").replace("torch.randn", "torch.rand") \
        .replace('"""Doc."""', '"""Other words."""')
    assert cuda_subset._skeleton(OLD) == cuda_subset._skeleton(new)
    changed_op = OLD.replace("torch.cumsum(x, dim=self.dim)", "torch.cumprod(x, dim=self.dim)")
    assert cuda_subset._skeleton(OLD) != cuda_subset._skeleton(changed_op)


def test_changed_values_element_by_element():
    new = OLD.replace("batch_size = 128", "batch_size = 32768").replace("(4000, 16)", "(8000, 16)") \
        .replace("dim = 1", "dim = 2")
    assert cuda_subset.changed_values(OLD, new) == {128, 4000, 1}


@pytest.fixture(scope="module")
def chosen(kernelbench):
    v0, corpus = sources.kernelbench_v0_root(), sources.corpus_path()
    if v0 is None or corpus is None:
        pytest.skip("kernelbench-v0 or the kernel corpus not found")
    return cuda_subset.select(kernelbench, v0, corpus)


def test_64_kernels_none_for_the_eval_split_slowest_references_first(chosen, kernelbench):
    kernels = chosen["kernels"]
    assert len(kernels) == 64
    eval_ids = {f"L1/{p}" for p in sources.eval_split_ids()}
    assert not {k["task"] for k in kernels} & eval_ids
    slowest = [k for k in kernels if k["slowest"]]
    assert len(slowest) == cuda_subset.N_SLOWEST
    others = [k["cost"]["estimated_ms"] for k in kernels if not k["slowest"]]
    assert min(k["cost"]["estimated_ms"] for k in slowest) >= max(others)
    for k in kernels:
        assert k["cost"]["max_numel"] < 2 ** 31
        assert not cuda_subset.FAST_MATH.search(k["code"])
        old = (sources.kernelbench_v0_root() / k["v0_file"]).read_text()
        new = (kernelbench / k["task_file"]).read_text()
        assert cuda_subset._skeleton(old) == cuda_subset._skeleton(new)
        assert all(x > 4 for x in cuda_subset.changed_values(old, new))


def test_rows_are_labelled_correct_and_numbered_per_task(chosen):
    rows = cuda_subset.rows(chosen)
    assert {r["label"] for r in rows} == {"correct"}
    keys = [(r["task"], r["sample_idx"]) for r in rows]
    assert len(set(keys)) == len(keys) == 64
    assert all("load_inline" in r["code"] or "cpp_extension" in r["code"] for r in rows)
