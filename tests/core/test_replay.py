"""Importing samples generated elsewhere: each format, auto-detection, bad lines."""
import json

import pytest

from sgs.core.errors import InputError
from sgs.core.registry import UnknownName
from sgs.core.replay import REPLAY_FORMATS, read_replay


def write_lines(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return str(path)


# --- plain JSONL -------------------------------------------------------------

def test_plain_jsonl_reads_code_text_and_logprobs(tmp_path):
    f = write_lines(tmp_path / "pool.jsonl", [
        {"task": "builtin/relu", "code": "class ModelNew: pass", "note": "fast"},
        {"task": "L1/19", "text": "Here:\n```python\nx\n```", "tokens": ["a", "b"],
         "logprobs": [-0.5, -1.25], "sample_idx": 3},
        {"task": "L2/7", "code": "y", "token_logprobs": [-2.0]},
    ])
    rf = read_replay(f)
    assert rf.format == "jsonl" and rf.errors == []
    a, b, c = rf.records
    assert (a.task_id, a.text, a.code, a.sample_idx, a.line) == (
        "builtin/relu", "class ModelNew: pass", "class ModelNew: pass", None, 1)
    assert a.extra == {"note": "fast"}
    assert (b.task_id, b.code, b.tokens, b.logprobs, b.sample_idx, b.line) == (
        "L1/19", None, ["a", "b"], [-0.5, -1.25], 3, 2)
    assert b.text.startswith("Here:")
    assert c.logprobs == [-2.0] and c.tokens is None


def test_plain_jsonl_bad_lines_are_reported_with_line_numbers_rest_imported(tmp_path):
    f = write_lines(tmp_path / "s.jsonl", [
        {"task": "L1/1", "code": "ok1"},
        "{not json",
        {"code": "no task"},
        "",                                                         # blank: skipped, not an error
        {"task": "L1/2", "text": ""},
        {"task": "L1/3", "code": "c", "tokens": ["a"], "logprobs": [-1.0, -2.0]},
        {"task": "L1/4", "code": "c", "logprobs": [-1.0, 0.7]},
        {"task": "L1/5", "code": "c", "logprobs": [-1.0, "NaN"]},
        [1, 2],
        {"task": "L1/6", "code": "c", "sample_idx": -1},
        {"task": "L1/7", "code": "ok2", "sample_idx": 0},
        {"task": "L1/7", "code": "dup", "sample_idx": 0},
    ])
    rf = read_replay(f, format="jsonl")
    assert [r.code for r in rf.records] == ["ok1", "ok2"]
    lines = [e.split(":")[1] for e in rf.errors]
    assert lines == ["2", "3", "5", "6", "7", "8", "9", "10", "12"]
    assert all(e.startswith(f + ":") for e in rf.errors)
    by_line = {e.split(":")[1]: e for e in rf.errors}
    assert "not valid JSON" in by_line["2"]
    assert "task" in by_line["3"]
    assert "1 tokens but 2 logprobs" in by_line["6"]
    assert "at most 0" in by_line["7"]
    assert "duplicate sample 0 of task L1/7 (first on line 11)" in by_line["12"]


def test_plain_jsonl_bare_problem_number_uses_level(tmp_path):
    f = write_lines(tmp_path / "s.jsonl", [{"task": 19, "code": "c"}, {"task": "23", "code": "d"}])
    assert [r.task_id for r in read_replay(f).records] == ["L1/19", "L1/23"]
    assert [r.task_id for r in read_replay(f, level=2).records] == ["L2/19", "L2/23"]


def test_plain_jsonl_non_utf8_line_is_one_error(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"task": "L1/1", "code": "a"}\n\xff\xfe{"task"\n{"task": "L1/2", "code": "b"}\n')
    rf = read_replay(str(p), format="jsonl")
    assert [r.task_id for r in rf.records] == ["L1/1", "L1/2"]
    assert rf.errors == [f"{p}:2: not UTF-8 text"]


def test_plain_jsonl_with_byte_order_mark_and_crlf(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"task": "L1/1", "code": "a"}\r\n{"task": "L1/2", "code": "b"}\r\n')
    rf = read_replay(str(p))
    assert rf.format == "jsonl" and rf.errors == [] and [r.code for r in rf.records] == ["a", "b"]


# --- the paper's actions.jsonl -----------------------------------------------

def test_actions_jsonl_maps_problem_ids_to_level_one(tmp_path):
    f = write_lines(tmp_path / "actions.jsonl", [
        {"problem_id": 19, "sample_idx": 0, "raw_action": "reply A", "assembled_code": "code A",
         "reward": 1.5},
        {"problem_id": "40", "sample_idx": 1, "raw_action": "reply B", "assembled_code": ""},
        {"problem_id": 40, "sample_idx": 2, "raw_action": "reply C", "assembled_code": None},
        {"problem_id": 40, "raw_action": "no idx"},
        {"problem_id": "x", "sample_idx": 3, "raw_action": "r"},
        {"problem_id": 41, "sample_idx": 3, "assembled_code": "c"},
    ])
    rf = read_replay(f)                       # auto-detected
    assert rf.format == "actions"
    a, b, c = rf.records
    assert (a.task_id, a.sample_idx, a.text, a.code, a.extra) == ("L1/19", 0, "reply A", "code A",
                                                                  {"reward": 1.5})
    # The original run found no program in these replies: "" keeps that verdict.
    assert (b.task_id, b.code) == ("L1/40", "") and c.code == ""
    assert [e.split(":")[1] for e in rf.errors] == ["4", "5", "6"]
    assert "sample_idx" in rf.errors[0] and "problem_id" in rf.errors[1] and "raw_action" in rf.errors[2]


def test_actions_level_option(tmp_path):
    f = write_lines(tmp_path / "a.jsonl", [
        {"problem_id": 3, "sample_idx": 0, "raw_action": "r", "assembled_code": "c"}])
    assert read_replay(f, format="actions", level=2).records[0].task_id == "L2/3"


# --- KernelBench generations folder ------------------------------------------

def test_kernelbench_folder(tmp_path):
    d = tmp_path / "gens"
    d.mkdir()
    (d / "level_1_problem_19_sample_0_kernel.py").write_text("k19_0")
    (d / "level_1_problem_19_sample_1_kernel.py").write_text("k19_1")
    (d / "level_2_problem_5_sample_0_kernel.py").write_text("k5")
    (d / "level_1_problem_20_sample_0_kernel.py").write_text("   \n")
    (d / "level_1_problem_21_sample_0_prompt.txt").write_text("ignored")
    (d / "helper.py").write_text("x")
    rf = read_replay(str(d))
    assert rf.format == "kernelbench-folder"
    got = [(r.task_id, r.sample_idx, r.text, r.code) for r in rf.records]
    assert got == [("L1/19", 0, "k19_0", "k19_0"), ("L1/19", 1, "k19_1", "k19_1"), ("L2/5", 0, "k5", "k5")]
    assert sorted(e.rsplit(":", 1)[1].strip() for e in rf.errors) == [
        "empty file", "name does not match level_L_problem_P_sample_S_kernel.py"]
    only_l2 = read_replay(str(d), level=2)
    assert [r.task_id for r in only_l2.records] == ["L2/5"]
    assert any("level-1 sample, but level 2" in e for e in only_l2.errors)


def test_kernelbench_folder_without_kernels_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no level_L_problem_P_sample_S_kernel.py"):
        read_replay(str(tmp_path), format="kernelbench-folder")


# --- whole-file failures -------------------------------------------------------

def test_missing_file_unknown_format_and_undetectable(tmp_path):
    with pytest.raises(FileNotFoundError, match="replay file not found"):
        read_replay(str(tmp_path / "nope.jsonl"))
    with pytest.raises(UnknownName, match="unknown replay format 'csv'"):
        read_replay(write_lines(tmp_path / "a.jsonl", [{"task": "L1/1", "code": "c"}]), format="csv")
    with pytest.raises(InputError, match="pass --format"):
        read_replay(write_lines(tmp_path / "b.jsonl", [{"foo": 1}]))
    with pytest.raises(InputError, match="level must be"):
        read_replay(str(tmp_path / "a.jsonl"), level=0)


def test_registry_lists_the_three_formats():
    assert REPLAY_FORMATS.names() == ["actions", "jsonl", "kernelbench-folder"]
