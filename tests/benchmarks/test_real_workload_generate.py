"""The real-workload candidate set: deterministic, distinct, labelled in the
intended proportions, and readable by `sgs import`."""
import ast

import pytest
from real_workload import generate, sources
from real_workload.templates import EXPECTED_OUTCOME

from sgs.core.prompts import extract
from sgs.core.replay import read_replay
from sgs.core.types import Task

H200_GIB = 141


@pytest.fixture(scope="module")
def rows(kernelbench):
    return generate.build(kernelbench)


def test_same_inputs_give_the_same_file(kernelbench, rows, tmp_path):
    generate.write_jsonl(rows, tmp_path / "a.jsonl")
    generate.write_jsonl(generate.build(kernelbench), tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_64_candidates_for_each_eval_task_with_distinct_sources(rows):
    tasks = [f"L1/{p}" for p in sources.eval_split_ids()]
    assert [r["task"] for r in rows][::64] == tasks
    for t in tasks:
        assert sorted(r["sample_idx"] for r in rows if r["task"] == t) == list(range(64))
    assert generate.summary(rows)["distinct_share"] >= 0.95


def test_label_proportions(rows):
    n = len(rows)
    count = {label: sum(r["label"] == label for r in rows) for label in EXPECTED_OUTCOME}
    assert n == 1280
    assert 0.45 <= count["correct"] / n <= 0.55
    assert 0.28 <= count["incorrect"] / n <= 0.38
    for failure in ("runtime_error", "compile_error", "crashed", "oom"):
        assert count[failure] >= 20, failure
    assert 1 <= count["timeout"] <= 8, "hangs cost the timeout: a few only"
    assert all(r["expected_outcome"] == EXPECTED_OUTCOME[r["label"]] for r in rows)
    assert {r["expected_outcome"] for r in rows if r["label"] == "oom"} == {"runtime_error"}


def test_every_source_is_read_as_a_torch_module_defining_modelnew(kernelbench, rows):
    tasks = {}
    for r in rows:
        if r["task"] not in tasks:
            p = int(r["task"].split("/")[1])
            tasks[r["task"]] = Task(id=r["task"], source="kernelbench", level=1, problem_id=p, name=r["task"],
                                    reference_src=sources.task_file(kernelbench, 1, p).read_text())
        tree = ast.parse(r["code"])
        assert any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in tree.body)
        ex = extract(f"```python\n{r['code']}\n```", tasks[r["task"]], "kernel")
        assert ex.code is not None, (r["task"], r["sample_idx"], ex.error)
        assert ex.kind == "torch", (r["task"], r["sample_idx"])


def test_out_of_memory_candidates_ask_for_more_than_a_gpu_holds(kernelbench):
    for spec in generate.all_specs().values():
        p = int(spec.task_id.split("/")[1])
        consts = sources.module_constants(sources.task_file(kernelbench, 1, p).read_text())
        for body, gib in spec.oom:
            assert gib(consts) >= 1.5 * H200_GIB, (spec.task_id, body.text[:60], gib(consts))


def test_sgs_import_reads_the_file_and_keeps_the_labels(rows, tmp_path):
    path = tmp_path / "candidates.jsonl"
    generate.write_jsonl(rows, path)
    replay = read_replay(str(path))
    assert replay.errors == []
    assert len(replay.records) == 1280
    first = replay.records[0]
    assert first.extra["label"] == rows[0]["label"] and first.sample_idx == rows[0]["sample_idx"]


def test_small_constants_name_real_module_constants(kernelbench):
    for spec in generate.all_specs().values():
        src = sources.task_file(kernelbench, 1, int(spec.task_id.split("/")[1])).read_text()
        small = sources.module_constants(sources.shrink(src, spec.small))
        real = sources.module_constants(src)
        for name in spec.small:
            assert name in real and small[name] != real[name], (spec.task_id, name)


def test_module_constants_and_shrink():
    src = "M = 256 * 8 # 2048\nK = 131072 * 8\nshape = (K,)\nh, w = 32, 16\nx = torch.rand(3)\n"
    assert sources.module_constants(src) == {"M": 2048, "K": 1048576, "shape": (1048576,), "h": 32, "w": 16}
    small = sources.shrink(src, {"K": "64"})
    assert sources.module_constants(small)["shape"] == (64,)
    with pytest.raises(KeyError):
        sources.shrink(src, {"N": "3"})
