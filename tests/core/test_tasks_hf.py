"""Dataset rows -> tasks, from a local JSON-lines file (no `datasets` package needed)."""
import builtins
import json
from pathlib import Path

import pytest

from sgs.core.tasks import TaskError, get_task, list_tasks, scan_tasks
from sgs.core.tasks.hf_dataset_source import row_to_task

ROWS = Path(__file__).parent / "fixtures" / "hf_rows.jsonl"


@pytest.fixture(autouse=True)
def _no_env_kernelbench(monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)


def test_row_to_task_is_pure_and_cleans_the_name():
    row = json.loads(ROWS.read_text().splitlines()[0])
    task = row_to_task(row, "rows.jsonl")
    assert (task.id, task.source, task.level, task.problem_id, task.name) == (
        "L1/19", "hf-dataset", 1, 19, "ReLU")
    assert task.reference_src == row["code"]
    assert task == row_to_task(dict(row), "rows.jsonl")


def test_rows_file_lists_sorted_tasks_after_builtins():
    tasks = list_tasks(dataset_file=str(ROWS))
    hf = [t for t in tasks if t.source == "hf-dataset"]
    assert [t.id for t in hf] == ["L1/19", "L1/94", "L2/7"]
    assert [t.name for t in hf] == ["ReLU", "MSELoss", "Conv3d_ReLU"]
    assert tasks[0].source == "builtin"
    assert get_task("L2/7", dataset_file=str(ROWS)).reference_src.count("Second-level") == 1
    assert [t.id for t in list_tasks(dataset_file=str(ROWS), source="hf-dataset", level=1)] == [
        "L1/19", "L1/94"]


def test_kernelbench_folder_wins_over_rows_for_the_same_id(tmp_path):
    code = json.loads(ROWS.read_text().splitlines()[1])["code"]
    (tmp_path / "level1").mkdir()
    (tmp_path / "level1" / "19_FolderReLU.py").write_text(code)
    task = get_task("L1/19", kernelbench=str(tmp_path), dataset_file=str(ROWS))
    assert task.source == "kernelbench" and task.name == "FolderReLU"


@pytest.mark.parametrize("row, fault", [
    ({"code": "x = 1", "level": 1, "name": "3_X", "problem_id": 3}, r"\[L1/3\]: defines no class Model"),
    ({"code": "x = 1", "level": 1, "name": "3_X"}, "row lacks problem_id"),
    ({"code": "x = 1", "level": "one", "name": "3_X", "problem_id": 3}, "non-integer level"),
])
def test_bad_rows_are_one_line_errors(tmp_path, row, fault):
    path = tmp_path / "rows.jsonl"
    path.write_text(ROWS.read_text() + json.dumps(row) + "\n")
    with pytest.raises(TaskError, match=fault):
        list_tasks(dataset_file=str(path))
    tasks, errors = scan_tasks(dataset_file=str(path), source="hf-dataset")
    assert len(tasks) == 3 and len(errors) == 1 and "\n" not in str(errors[0])


def test_malformed_file_and_missing_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"code": 1}\nnot json\n')
    with pytest.raises(TaskError, match=r"rows.jsonl:2: not a JSON row"):
        list_tasks(dataset_file=str(path))
    with pytest.raises(TaskError, match="dataset file not found"):
        list_tasks(dataset_file=str(tmp_path / "none.jsonl"))


def test_hub_without_datasets_package_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("No module named 'datasets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(TaskError, match=r"pip install 'sgs\[datasets\]'") as e:
        list_tasks(source="hf-dataset")
    assert "\n" not in str(e.value)
    # Without asking for the hub, listing never touches it.
    assert list_tasks()
