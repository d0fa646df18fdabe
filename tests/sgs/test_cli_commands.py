"""The read and utility commands: listing, showing, exporting, splits, one-file evaluation, errors."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sgs.cli import main
from sgs.core.engine import RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.types import Generation

SHARED = Path(os.environ.get("SGS_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared"))
if not (SHARED / "kernelbench").is_dir():
    SHARED = Path("/work/shared")
KERNELBENCH = SHARED / "kernelbench"


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path):
    """A finished run with three evaluated samples of builtin/relu."""
    path = tmp_path / "c.db"
    store = Store(path)
    task = get_task("builtin/relu")
    run_id = create_run(store, RunConfig(task_ids=[task.id], k=3, backend="scripted", model="m"), [task],
                        logprob_mode="raw")
    rows = [("fast", [-5.0, -5.0], "correct", 2.0), ("slow", [-1.0], "correct", 0.5), ("bad", [-2.0], "incorrect", None)]
    for idx, (code, lps, outcome, speedup) in enumerate(rows):
        sid = store.add_sample(run_id, task.id, idx, Generation(text=code, tokens=[code] * len(lps), logprobs=lps),
                               code=code, code_kind="torch", code_start=0, code_end=len(code), extraction_error=None,
                               logprob_mode="raw")
        store.finish_evaluation(sid, run_id, task.id, {"outcome": outcome, "speedup": speedup,
                                                        "speedup_ci": [speedup and speedup * 0.9, speedup and speedup * 1.1]})
    store.set_run_status(run_id, "finished")
    store.close()
    return path


@pytest.mark.skipif(not KERNELBENCH.is_dir(), reason="needs the shared KernelBench folder")
def test_tasks_lists_the_270_kernelbench_tasks(capsys):
    code, out, _ = run_cli(capsys, "tasks", "--kernelbench", str(KERNELBENCH), "--source", "kernelbench", "--json")
    tasks = json.loads(out)
    assert code == 0 and len(tasks) == 270
    assert {"id": "L1/19", "name": "ReLU"}.items() <= next(t for t in tasks if t["id"] == "L1/19").items()


@pytest.mark.skipif(not KERNELBENCH.is_dir(), reason="needs the shared KernelBench folder")
def test_a_broken_task_file_is_a_warning_for_listing_and_an_error_for_its_task(tmp_path):
    copy = tmp_path / "kb"
    shutil.copytree(KERNELBENCH / "level1", copy / "level1")
    (copy / "level1" / "19_ReLU.py").write_text("import torch\nclass Model(:\n")

    def sgs(*args):
        return subprocess.run([sys.executable, "-m", "sgs", *args, "--kernelbench", str(copy)], capture_output=True,
                              text=True, timeout=120)

    out = sgs("tasks", "--source", "kernelbench", "--json")
    listed = {t["id"] for t in json.loads(out.stdout)}
    assert out.returncode == 0 and len(listed) == 99 and "L1/19" not in listed and "L1/20" in listed
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sgs: warning: ") and "19_ReLU.py" in lines[0]
    # a filter that leaves the broken file out leaves its warning out too
    out = sgs("tasks", "--source", "kernelbench", "--filter", "softmax")
    assert out.returncode == 0 and out.stderr == "" and "L1/23" in out.stdout
    # only a command that needs the task fails, in one line, before any database is made
    out = sgs("run", "L1/19", "--db", str(tmp_path / "r.db"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "19_ReLU.py" in out.stderr
    assert not (tmp_path / "r.db").exists()


def test_show_ranks_by_surprisal_and_marks_picks(capsys, db):
    code, out, _ = run_cli(capsys, "show", "--db", str(db), "--json")
    shown = json.loads(out)
    ranked = shown["tasks"]["builtin/relu"]
    assert [c["sample_idx"] for c in ranked] == [0, 2, 1]          # surprisal 10, 2, 1
    assert "surprisal" in ranked[0]["picked_by"] and "oracle" in ranked[0]["picked_by"]
    assert "most-confident" in ranked[2]["picked_by"]
    oracle = next(r for r in shown["strategies"] if r["strategy"] == "oracle")
    assert oracle["fast_1"] == 1.0
    code, text, _ = run_cli(capsys, "show", "--db", str(db))
    assert code == 0 and "surprisal-top3" in text and "builtin/relu: 3 samples, 2 correct" in text


def test_export_jsonl_and_csv(capsys, db):
    code, out, _ = run_cli(capsys, "export", "--db", str(db), "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["outcome"] for r in rows] == ["correct", "correct", "incorrect"]
    assert rows[0]["surprisal"] == 10.0
    code, out, _ = run_cli(capsys, "export", "--db", str(db), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 3 and table[1]["speedup"] == "0.5"


def test_missing_database_and_unknown_run_are_one_line_errors(capsys, tmp_path, db):
    code, _, err = run_cli(capsys, "show", "--db", str(tmp_path / "none.db"))
    assert code == 2 and err.count("\n") == 1 and "no database" in err
    code, _, err = run_cli(capsys, "show", "99", "--db", str(db))
    assert code == 2 and "no run 99" in err
    code, _, err = run_cli(capsys, "run", "builtin/nope", "--db", str(db))
    assert code == 2 and "builtin/nope" in err and err.count("\n") == 1


def test_split_make_writes_the_papers_split(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "split", "make", "--level", "1", "--seed", "42", "--out", str(tmp_path))
    split = json.loads((tmp_path / "l1_seed42.json").read_text())
    assert code == 0
    assert split["problem_ids"]["eval"] == [4, 5, 12, 14, 15, 18, 28, 29, 30, 32, 36, 55, 65, 70, 76, 82, 87, 89, 95, 98]


def test_eval_one_file(tmp_path):
    cand = tmp_path / "relu_new.py"
    cand.write_text("import torch\nimport torch.nn as nn\n\nclass ModelNew(nn.Module):\n"
                    "    def forward(self, x):\n        return torch.relu(x)\n")
    out = subprocess.run([sys.executable, "-m", "sgs", "eval", str(cand), "--task", "builtin/relu", "--device", "cpu",
                          "--json"], capture_output=True, text=True, timeout=180)
    result = json.loads(out.stdout)
    assert out.returncode == 0 and result["outcome"] == "correct" and result["speedup"] > 0
