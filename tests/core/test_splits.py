"""Train/eval splits: the paper's shuffles, shipped files and lookups."""
import json
from pathlib import Path

import pytest

from sgs.core.splits import (
    SplitError, load_split, make_split, shipped_splits, split_task_ids, write_split,
)
from sgs.core.types import TaskError

SPLITS_DIR = Path(__file__).resolve().parents[2] / "splits"

EVAL_IDS = {
    42: [4, 5, 12, 14, 15, 18, 28, 29, 30, 32, 36, 55, 65, 70, 76, 82, 87, 89, 95, 98],
    43: [3, 5, 13, 19, 37, 48, 56, 59, 60, 64, 66, 71, 74, 77, 78, 80, 86, 90, 95, 98],
    44: [2, 4, 13, 15, 21, 23, 29, 38, 39, 49, 53, 66, 67, 70, 73, 82, 90, 93, 94, 96],
}


@pytest.mark.parametrize("seed", sorted(EVAL_IDS))
def test_eval_ids_match_the_paper(seed):
    split = make_split(1, seed)
    assert split["problem_ids"]["eval"] == EVAL_IDS[seed]
    train = split["problem_ids"]["train"]
    assert len(train) == 80 and train == sorted(train)
    assert sorted(train + EVAL_IDS[seed]) == list(range(1, 101))
    assert split["level"] == 1 and split["seed"] == seed


@pytest.mark.parametrize("level, seed", [(1, 42), (1, 43), (1, 44), (2, 42)])
def test_committed_files_equal_make_split(level, seed):
    path = SPLITS_DIR / f"l{level}_seed{seed}.json"
    assert json.loads(path.read_text()) == make_split(level, seed)
    assert load_split(f"l{level}_seed{seed}") == make_split(level, seed)


def test_shipped_names():
    assert shipped_splits() == ["l1_seed42", "l1_seed43", "l1_seed44", "l2_seed42"]


def test_split_task_ids_subsets():
    assert split_task_ids("l1_seed42", "eval") == [f"L1/{i}" for i in EVAL_IDS[42]]
    assert len(split_task_ids("l1_seed42", "train")) == 80
    assert split_task_ids("l2_seed42", "all") == [f"L2/{i}" for i in range(1, 101)]
    with pytest.raises(SplitError, match="unknown split subset 'test'"):
        split_task_ids("l1_seed42", "test")


def test_write_and_load_by_path(tmp_path):
    path = write_split(3, 7, tmp_path / "out")
    assert path.name == "l3_seed7.json"
    assert load_split(str(path)) == make_split(3, 7)
    assert split_task_ids(path, "eval")[0].startswith("L3/")


def test_bad_names_and_files_are_one_line_errors(tmp_path):
    with pytest.raises(SplitError, match=r"unknown split 'l9_seed1'; shipped: l1_seed42") as e:
        load_split("l9_seed1")
    assert "\n" not in str(e.value) and isinstance(e.value, TaskError)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SplitError, match="not valid JSON"):
        load_split(bad)
    bad.write_text('{"level": 1}')
    with pytest.raises(SplitError, match="not a split file"):
        load_split(bad)
