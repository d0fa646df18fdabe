"""`sgs import` and `sgs score`: replay files become runs; unscored samples get a labelled scorer."""
import json
import os
from pathlib import Path

import pytest

from sgs.cli import main
from sgs.core.store import Store

RELU = ("import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
        "    def forward(self, x):\n        return torch.relu(x)\n")


def kernelbench_root() -> Path | None:
    for base in (os.environ.get("SGS_SHARED"), Path(__file__).resolve().parents[2] / ".." / "shared",
                 "/work/shared"):
        if base and (Path(base) / "kernelbench" / "level1").is_dir():
            return Path(base) / "kernelbench"
    return None


def write_lines(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return str(path)


@pytest.fixture
def pool(tmp_path):
    return write_lines(tmp_path / "pool.jsonl", [
        {"task": "builtin/relu", "code": RELU, "note": "torch.relu"},
        "{broken",
        {"task": "builtin/relu", "code": RELU.replace("torch.relu(x)", "x.clamp_min(0.0)")},
        {"task": "builtin/no_such_task", "code": RELU},
        {"task": "builtin/swish", "text": "no code here, sorry", "logprobs": [-1.0, -2.0]},
    ])


def test_import_then_score(pool, tmp_path, capsys):
    db = str(tmp_path / "sgs.db")
    assert main(["import", pool, "--name", "pool", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "imported 3 samples for 2 tasks" in out and "(jsonl)" in out
    assert f"{pool}:2: not valid JSON" in err and "no_such_task" in err
    assert "2 samples have no logprobs" in out
    with Store(db) as store:
        (run,) = store.list_runs()
        assert (run["name"], run["kind"], run["n_samples"]) == ("pool", "replay", 3)
        samples = store.samples(run["id"])
        relu = [s for s in samples if s["task_id"] == "builtin/relu"]
        assert [s["sample_idx"] for s in relu] == [0, 1] and all(s["surprisal"] is None for s in relu)
        assert "torch.relu" in relu[0]["code"]
        assert store.get_sample(relu[0]["id"])["note"] == "torch.relu"
        (swish,) = [s for s in samples if s["task_id"] == "builtin/swish"]
        assert swish["surprisal"] == pytest.approx(3.0) and swish["code"] is None

    replies = write_lines(tmp_path / "replies.jsonl", [{"text": "unused"}])
    assert main(["score", "pool", "--backend", "scripted", "--model", replies, "--db", db]) == 0
    out, _ = capsys.readouterr()
    assert f"scored 2 samples with scripted/{replies}" in out
    with Store(db) as store:
        run_id = store.list_runs()[0]["id"]
        assert all(s["surprisal"] is not None for s in store.samples(run_id))
        first = store.samples(run_id, "builtin/relu")[0]
        (score,) = store.scores(first["id"])
        assert score["scorer"] == f"scripted/{replies}" and score["logprob_mode"] == "raw"
        assert first["surprisal"] == pytest.approx(-sum(score["logprobs"]))
        assert store.get_run(run_id)["provenance"]["scored_by"] == [f"scripted/{replies}"]

    # nothing left to score unless asked for every sample
    assert main(["score", "pool", "--backend", "scripted", "--model", replies, "--db", db]) == 0
    assert "already has a surprisal" in capsys.readouterr().out


def test_strict_import_imports_nothing(pool, tmp_path, capsys):
    db = tmp_path / "sgs.db"
    assert main(["import", pool, "--strict", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "nothing imported (--strict)" in err and f"{pool}:2:" in err
    assert not db.exists() or Store(db).list_runs() == []


def test_import_bad_input_is_one_line(tmp_path, capsys):
    db = str(tmp_path / "sgs.db")
    assert main(["import", str(tmp_path / "missing.jsonl"), "--db", db]) == 2
    assert "replay file not found" in capsys.readouterr().err
    only_bad = write_lines(tmp_path / "bad.jsonl", [{"task": "L1/1"}])
    assert main(["import", only_bad, "--format", "jsonl", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "no usable samples" in err and "needs a non-empty 'text' or 'code'" in err


def test_import_kernelbench_folder_and_evaluate(tmp_path, capsys):
    folder = tmp_path / "gens"
    folder.mkdir()
    # builtin tasks have no KernelBench ids: a level-1 id needs the KernelBench checkout
    (folder / "level_1_problem_19_sample_0_kernel.py").write_text(RELU)
    db = str(tmp_path / "sgs.db")
    rc = main(["import", str(folder), "--db", db, "--kernelbench", str(tmp_path / "nowhere")])
    assert rc == 2 and "nothing to import" in capsys.readouterr().err

    pool = write_lines(tmp_path / "one.jsonl", [{"task": "builtin/relu", "code": RELU, "sample_idx": 4}])
    assert main(["import", pool, "--db", db, "--evaluate", "--device", "cpu", "--timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert "imported 1 samples" in out and "fast_1" in out
    with Store(db) as store:
        (cand,) = store.candidates(store.list_runs()[0]["id"])
        assert cand.sample_idx == 4 and cand.outcome == "correct"


@pytest.mark.skipif(kernelbench_root() is None, reason="needs the shared KernelBench checkout")
def test_import_kernelbench_generations_against_the_checkout(tmp_path, capsys):
    folder = tmp_path / "gens"
    folder.mkdir()
    for sample in (0, 1):
        (folder / f"level_1_problem_19_sample_{sample}_kernel.py").write_text(RELU)
    (folder / "level_1_problem_19_sample_2_kernel.py").write_text("")
    db = str(tmp_path / "sgs.db")
    assert main(["import", str(folder), "--kernelbench", str(kernelbench_root()), "--db", db]) == 0
    captured = capsys.readouterr()
    assert "imported 2 samples for 1 tasks" in captured.out and "(kernelbench-folder)" in captured.out
    assert "level_1_problem_19_sample_2_kernel.py: empty file" in captured.err
    with Store(db) as store:
        run_id = store.list_runs()[0]["id"]
        assert [(s["task_id"], s["sample_idx"]) for s in store.samples(run_id)] == [("L1/19", 0), ("L1/19", 1)]
        assert store.run_tasks(run_id)[0].name.endswith("ReLU")


def test_imported_run_is_evaluated_by_resume(tmp_path, capsys):
    """`sgs import` without --evaluate says to evaluate with `sgs run --resume`;
    an imported run has no model backend, and resuming it must not need one."""
    db = str(tmp_path / "r.db")
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps({"task": "builtin/relu", "code": code}) for code in (
        RELU, RELU.replace("torch.relu(x)", "torch.relu(x) + 1"))) + "\n")
    assert main(["import", str(path), "--db", db]) == 0
    assert "sgs run --resume 1" in capsys.readouterr().out
    assert main(["run", "--resume", "1", "--quiet", "--db", db]) == 0
    with Store(db) as store:
        assert store.get_run(1)["status"] == "finished"
        outcomes = sorted(c.outcome for c in store.candidates(1))
    assert outcomes == ["correct", "incorrect"]
