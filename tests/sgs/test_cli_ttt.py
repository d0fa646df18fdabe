"""sgs ttt: the method in --help, bad input as one-line errors, a whole run through the real evaluator."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sgs.cli import main
from sgs.core.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "training"))
from fakes import FakeTrainer  # noqa: E402


def run_cli(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as exc:      # a value refused at parse time
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_explains_the_method_with_the_papers_defaults():
    out = subprocess.run([sys.executable, "-m", "sgs", "ttt", "--help"], capture_output=True, text=True).stdout
    for phrase in ("Batch TTT", "SDPO", "5 tasks", "K=32", "8 steps", "temperature 0.25", "1,024 tokens",
                   "LoRA rank 16", "learning rate 1e-5", "eps 1e-12", "median", "Best-of-adaptation",
                   "equivalent K", "Correctly solve the original question", "never\nthe attempt's own code",
                   "--prompt-only", "--probe-run", "sgs run --adapter DIR"):
        assert phrase in out, phrase


@pytest.mark.parametrize("args, message", [
    ((), "no tasks"),
    (("builtin/relu", "builtin/relu6", "--batch-size", "1"), "a training batch holds 1"),
    (("builtin/relu", "--prompt-only"), "--prompt-only is an SDPO variant"),
    (("builtin/relu", "--k", "0"), "--k must be at least 1"),
    (("builtin/relu", "--backend", "nope"), "unknown training backend 'nope'"),
    (("builtin/relu", "--probe-run", "99"), "--probe-run: no run 99"),
    (("builtin/nope",), "builtin/nope"),
    (("builtin/relu", "--adapter", "/no/such/adapter"), "--adapter: no peft adapter in /no/such/adapter"),
    # options shared with sgs run are checked at parse time by the run option table, before any model loads
    (("builtin/relu", "--device", "tpu"), "--device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
    (("builtin/relu", "--timeout", "-1"), "--timeout must be"),
    (("builtin/relu", "--temperature", "-1"), "--temperature must be a number from 0 to 10"),
    (("builtin/relu", "--max-tokens", "0"), "--max-tokens must be"),
])
def test_bad_input_is_a_one_line_error(capsys, tmp_path, args, message):
    code, out, err = run_cli(capsys, "ttt", *args, "--db", str(tmp_path / "t.db"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_unknown_training_run_is_a_one_line_error(capsys, tmp_path):
    Store(tmp_path / "t.db").close()
    for flag in ("--show", "--resume"):
        code, _, err = run_cli(capsys, "ttt", flag, "5", "--db", str(tmp_path / "t.db"))
        assert code == 2 and "no training run 5" in err


REPLIES = ["```python\nreturn torch.clamp_min(x, 0.0)\n```", "```python\nreturn x * 2\n```"]


def test_a_training_run_from_the_command_line(capsys, tmp_path, monkeypatch):
    from sgs.core.training import TRAINERS

    made = []

    def factory(model, *, checkpoint_dir, adapter=None, **options):
        made.append((model, adapter, options))
        return FakeTrainer(REPLIES, checkpoint_dir)

    monkeypatch.setitem(TRAINERS._entries, "fake", lambda: factory)
    db = str(tmp_path / "t.db")
    code, out, err = run_cli(capsys, "ttt", "builtin/relu", "--backend", "fake", "--model", "m", "--k", "2",
                             "--steps", "1", "--device", "cpu", "--timeout", "20", "--seed", "3", "--db", db)
    assert code == 0, err
    assert "training run 1: ttt, 1 tasks x K=2, 1 steps" in out
    assert "-- step 0" in out and "-- step 1" in out and "update on step 0" in out
    assert "best-of-adaptation: step 0, fast_1" in out and "against step 0 samples" in out
    assert made[0][0] == "m" and made[0][2]["lora_rank"] == 16
    store = Store(db)
    steps = store.training_steps(1)
    assert [s["status"] for s in steps] == ["updated", "evaluated"]
    # the real evaluator judged the step's samples
    outcomes = sorted(c.outcome for c in store.candidates(steps[0]["run_id"]))
    assert outcomes == ["correct", "incorrect"]
    assert Path(steps[1]["checkpoint"]).parent == tmp_path / "sgs-checkpoints" / "training-1"
    store.close()
    code, out, _ = run_cli(capsys, "ttt", "--show", "1", "--db", db)
    assert code == 0 and "training run 1: ttt on 1 tasks x K=2, 1 steps, fake/m, finished" in out
    assert out.count("\n") >= 5
    code, out, _ = run_cli(capsys, "ttt", "--show", "1", "--json", "--db", db)
    rows = json.loads(out)
    assert [r["step"] for r in rows] == [0, 1] and rows[0]["n_correct"] == 1
    code, out, _ = run_cli(capsys, "ttt", "--list", "--db", db)
    assert code == 0 and "finished" in out and "2/2" in out


def test_a_model_that_does_not_load_fails_the_training_run_in_one_line(capsys, tmp_path):
    db = str(tmp_path / "t.db")
    (tmp_path / "empty-model").mkdir()   # a folder without a model (a missing path would ask the Hub)
    code, _, err = run_cli(capsys, "ttt", "builtin/relu", "--model", str(tmp_path / "empty-model"), "--db", db)
    assert code == 3 and "cannot load model" in err and len(err.strip().splitlines()) == 1   # a backend failure
    store = Store(db)
    (row,) = store.list_training_runs()
    assert row["status"] == "failed" and "cannot load model" in row["error"]
    store.close()
