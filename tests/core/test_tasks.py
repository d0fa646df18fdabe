"""Task listing, lookup and static checks (built-in and KernelBench folders)."""
import os
from pathlib import Path

import pytest
import torch

from sgs.core.tasks import (
    TASK_SOURCES, BrokenTask, TaskError, forward_argument_names, forward_signature,
    get_task, list_tasks, resolve_tasks, scan_tasks,
)
from sgs.core.types import Task

SHARED = Path(os.environ.get("SGS_SHARED") or Path(__file__).resolve().parents[2] / ".." / "shared")
if not (SHARED / "kernelbench").is_dir():
    SHARED = Path("/work/shared")
KERNELBENCH = SHARED / "kernelbench"
needs_kernelbench = pytest.mark.skipif(not KERNELBENCH.is_dir(), reason="no KernelBench checkout")

BUILTIN_NAMES = {
    "relu", "relu6", "gelu_tanh", "swish", "softmax", "layer_norm",
    "matmul_bias_relu", "sum_of_squares", "cumsum", "mse_loss",
}

GOOD = '''import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x + 1

def get_inputs():
    return [torch.randn(4)]

def get_init_inputs():
    return []
'''


@pytest.fixture(autouse=True)
def _no_env_kernelbench(monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)


def make_kernelbench(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_registry_names_the_three_sources():
    assert TASK_SOURCES.names() == ["builtin", "hf-dataset", "kernelbench"]


def test_builtin_tasks_listed_by_name_with_ids_and_no_level():
    tasks = list_tasks()
    assert {t.name for t in tasks} == BUILTIN_NAMES
    assert [t.name for t in tasks] == sorted(BUILTIN_NAMES)
    for t in tasks:
        assert t.id == f"builtin/{t.name}" and t.source == "builtin"
        assert t.level is None and t.problem_id is None
        assert "class Model" in t.reference_src and Path(t.path).name == f"{t.name}.py"


def test_listing_never_imports_task_files(tmp_path):
    # A level-4 style file that would fail (or download) if imported.
    bomb = GOOD.replace("import torch\n", "import torch\nraise SystemExit('imported!')\n", 1)
    root = make_kernelbench(tmp_path, {"level1/1_Bomb.py": bomb})
    (task,) = list_tasks(str(root), source="kernelbench")
    assert task.id == "L1/1" and task.name == "Bomb"


def _run_task(task: Task):
    ns: dict = {}
    exec(compile(task.reference_src, task.path, "exec"), ns)
    torch.manual_seed(0)
    model = ns["Model"](*ns["get_init_inputs"]())
    inputs = ns["get_inputs"]()
    with torch.no_grad():
        return model(*inputs), inputs


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
def test_builtin_task_runs_and_identity_does_not_pass(name):
    out, inputs = _run_task(get_task(f"builtin/{name}"))
    assert isinstance(out, torch.Tensor) and torch.isfinite(out).all()
    # Signed inputs: returning the input unchanged must not count as correct.
    assert any((x < 0).any() for x in inputs)
    first = inputs[0]
    assert out.shape != first.shape or not torch.allclose(out, first, atol=1e-4, rtol=1e-4)
    # Sized for a stable but short CPU timing.
    assert 2**19 <= max(first.numel(), out.numel()) <= 4 * 2**20


def test_forward_signature_and_arguments():
    task = get_task("builtin/mse_loss")
    assert forward_signature(task.reference_src) == (
        "def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:")
    assert forward_argument_names(task.reference_src) == ["predictions", "targets"]
    assert forward_signature("class Model:\n    pass\n") == "def forward(self, *args):"


@needs_kernelbench
def test_kernelbench_checkout_lists_all_270_in_order():
    tasks = list_tasks(str(KERNELBENCH), source="kernelbench")
    assert len(tasks) == 270
    assert [t.level for t in tasks].count(1) == 100 and [t.level for t in tasks].count(4) == 20
    keys = [(t.level, t.problem_id) for t in tasks]
    assert keys == sorted(keys)
    relu = next(t for t in tasks if t.id == "L1/19")
    assert relu.name == "ReLU" and relu.source == "kernelbench" and relu.path.endswith("19_ReLU.py")


@needs_kernelbench
def test_builtin_first_then_level_and_filters(monkeypatch):
    monkeypatch.setenv("SGS_KERNELBENCH", str(KERNELBENCH))
    tasks = list_tasks()
    assert len(tasks) == 270 + len(BUILTIN_NAMES)
    assert all(t.source == "builtin" for t in tasks[: len(BUILTIN_NAMES)])
    assert tasks[len(BUILTIN_NAMES)].id == "L1/1"
    level2 = list_tasks(level=2)
    assert len(level2) == 100 and {t.level for t in level2} == {2}
    assert [t.id for t in list_tasks(name_filter="relu", source="builtin")] == [
        "builtin/matmul_bias_relu", "builtin/relu", "builtin/relu6"]
    assert "L1/19" in {t.id for t in list_tasks(name_filter="ReLU")}


@needs_kernelbench
def test_get_and_resolve_with_globs():
    kb = str(KERNELBENCH)
    assert get_task("L2/7", kernelbench=kb).level == 2
    ids = [t.id for t in resolve_tasks(["builtin/relu", "L1/1?", "builtin/*"], kernelbench=kb)]
    assert ids[0] == "builtin/relu"
    assert ids[1:12] == ["L1/10"] + [f"L1/{i}" for i in range(11, 20)] + ["builtin/cumsum"]
    assert len(ids) == len(set(ids)) == 1 + 10 + len(BUILTIN_NAMES) - 1


def test_unknown_ids_and_unmatched_globs_are_one_line_errors(tmp_path):
    root = make_kernelbench(tmp_path, {"level1/1_Good.py": GOOD})
    with pytest.raises(TaskError, match=r"unknown task 'L1/999'; ") as e:
        get_task("L1/999", kernelbench=str(root))
    assert "\n" not in str(e.value)
    with pytest.raises(TaskError, match="no KernelBench folder given"):
        get_task("L1/1")
    with pytest.raises(TaskError, match=r"no task matches 'L9/\*'"):
        resolve_tasks(["L9/*"], kernelbench=str(root))
    with pytest.raises(TaskError, match="unknown task source 'nope'"):
        list_tasks(source="nope")
    with pytest.raises(TaskError, match="KernelBench folder not found"):
        list_tasks(str(tmp_path / "missing"))
    with pytest.raises(TaskError, match="no KernelBench folder"):
        list_tasks(source="kernelbench")


@pytest.mark.parametrize("text, fault", [
    ("class Model(:\n", r"does not parse: line 1"),
    (GOOD.replace("class Model", "class Other"), r"defines no class Model$"),
    (GOOD.replace("def get_inputs", "def make_inputs"), r"defines no get_inputs\(\)$"),
    (GOOD.replace("def get_init_inputs", "def init"), r"defines no get_init_inputs\(\)$"),
])
def test_broken_file_is_a_one_line_error_naming_file_and_fault(tmp_path, text, fault):
    root = make_kernelbench(tmp_path, {"level1/1_Good.py": GOOD, "level1/2_Broken.py": text})
    with pytest.raises(TaskError, match=fault) as e:
        list_tasks(str(root))
    message = str(e.value)
    assert "\n" not in message and "2_Broken.py" in message
    # Lenient listing skips it and reports it.
    tasks, errors = scan_tasks(str(root))
    assert "L1/1" in {t.id for t in tasks} and "L1/2" not in {t.id for t in tasks}
    assert len(errors) == 1 and isinstance(errors[0], BrokenTask) and errors[0].task_id == "L1/2"
    # Looking up the good task still works; the broken one raises its own error.
    assert get_task("L1/1", kernelbench=str(root)).name == "Good"
    with pytest.raises(TaskError, match="2_Broken.py"):
        get_task("L1/2", kernelbench=str(root))
    with pytest.raises(TaskError, match="2_Broken.py"):
        resolve_tasks(["L1/*"], kernelbench=str(root))


def test_level_filter_ignores_broken_files_of_other_levels(tmp_path):
    root = make_kernelbench(tmp_path, {"level1/1_Good.py": GOOD, "level4/1_Bad.py": "x = ("})
    assert [t.id for t in list_tasks(str(root), level=1)] == ["L1/1"]
    with pytest.raises(TaskError, match="1_Bad.py"):
        list_tasks(str(root), level=4)


def test_badly_named_file_in_a_level_folder_is_reported(tmp_path):
    root = make_kernelbench(tmp_path, {"level1/1_Good.py": GOOD, "level1/helper.py": GOOD})
    with pytest.raises(TaskError, match=r"helper.py: file name does not match level1/ID_Name.py"):
        list_tasks(str(root))


def test_folder_without_levels_is_rejected(tmp_path):
    with pytest.raises(TaskError, match="no levelN/ folders"):
        list_tasks(str(tmp_path))
