"""The shipped candidate pool: shape of the file and, in-process, each entry's outcome.

Entries that crash or hang the process are only checked statically here.
Timing claims ("faster"/"slower") are checked by `python -m sgs.core.tasks.pool_check`.
"""
import ast
import json
from collections import Counter

import pytest

from sgs.core.tasks import list_tasks
from sgs.core.tasks.builtin import POOL_EXPECTATIONS, PoolError, load_pool, pool_path
from sgs.core.tasks.pool_check import NOT_RUN, expected_outcome, outcome

POOL = load_pool()


def _init_args(src: str, cls: str) -> list[str]:
    for node in ast.parse(src).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return [ast.unparse(a) for a in item.args.args[1:]]
            return []
    raise AssertionError(f"no class {cls}")


def test_pool_file_is_shipped_in_the_package():
    assert pool_path().is_file() and pool_path().parent.name == "pool"


def test_every_builtin_task_has_6_to_10_entries_of_mixed_kinds():
    counts = Counter(e["task"] for e in POOL)
    assert set(counts) == {t.id for t in list_tasks(source="builtin")}
    assert all(6 <= n <= 10 for n in counts.values()), counts
    for task in counts:
        kinds = {e["expect"] for e in POOL if e["task"] == task}
        assert "faster" in kinds and "slower" in kinds and kinds & {"incorrect", "wrong_shape"}
        assert "raises" in kinds


def test_crashes_and_hangs_are_few():
    expects = Counter(e["expect"] for e in POOL)
    assert expects["hang"] <= 2 and 1 <= expects["crash"]
    assert len({e["task"] for e in POOL if e["expect"] in NOT_RUN}) <= 2


@pytest.mark.parametrize("entry", POOL, ids=[f"{e['task']}:{e['note'][:30]}" for e in POOL])
def test_entry_defines_modelnew_with_the_reference_init_args(entry):
    from sgs.core.tasks import get_task

    reference = get_task(entry["task"]).reference_src
    args = [a.split(":")[0] for a in _init_args(entry["code"], "ModelNew")]
    assert args == [a.split(":")[0] for a in _init_args(reference, "Model")]
    assert entry["expect"] in POOL_EXPECTATIONS and entry["note"]


RUNNABLE = [e for e in POOL if e["expect"] not in NOT_RUN]


@pytest.mark.parametrize("entry", RUNNABLE, ids=[f"{e['task']}:{e['note'][:30]}" for e in RUNNABLE])
def test_entry_outcome_matches_its_expectation(entry):
    assert outcome(entry) == expected_outcome(entry["expect"])


def test_malformed_pool_lines_are_one_line_errors(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"task": "builtin/relu", "code": "x"}) + "\n")
    with pytest.raises(PoolError, match=r"pool.jsonl:1: missing note"):
        load_pool(path)
    path.write_text(json.dumps({"task": "t", "code": "x", "note": "n", "expect": "fast"}) + "\n")
    with pytest.raises(PoolError, match=r"unknown expect 'fast'"):
        load_pool(path)


def test_close_matches_allclose_and_rejects_nan():
    import torch

    from sgs.core.tasks.pool_check import close

    a = torch.tensor([1.0, 100.0, -3.0])
    assert close(a + torch.tensor([1e-4, 1e-2, 0.0]), a)
    assert not close(a + torch.tensor([0.0, 0.0, 5e-4]), a)  # bound there: 1e-4 + 3e-4
    assert not close(torch.tensor([float("nan")]), torch.tensor([float("nan")]))
