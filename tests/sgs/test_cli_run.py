"""`sgs run` end to end through the real evaluator (CPU): faults cost one sample; an imported run resumes.
Interrupts (SIGINT, SIGTERM, kill -9) and resume: test_interrupts.py."""
import json
import sqlite3
import subprocess
import sys


BODIES = {
    "segfault": "import ctypes\nctypes.string_at(0)\nreturn x",
    "hang": "while True:\n    pass",
    "raises": "raise RuntimeError('boom from the candidate')",
    "wrong_shape": "return x.sum(dim=0)",
    "zeroes_inputs": "x.zero_()\nreturn torch.zeros_like(x)",
    "correct": "return torch.clamp_min(x, 0.0)",
}


def replies_file(tmp_path, bodies):
    path = tmp_path / "replies.jsonl"
    with open(path, "w") as f:
        for body in bodies:
            f.write(json.dumps({"text": f"Here you go:\n```python\n{body}\n```\n"}) + "\n")
    return path


def sgs(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sgs", *args], capture_output=True, text=True, **kw)


def test_each_faulty_candidate_gets_its_outcome_and_the_run_goes_on(tmp_path):
    db = tmp_path / "r.db"
    replies = replies_file(tmp_path, BODIES.values())
    out = sgs("run", "builtin/relu", "--backend", "scripted", "--model", str(replies), "--k", str(len(BODIES)),
              "--device", "cpu", "--timeout", "8", "--db", str(db), timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    shown = json.loads(sgs("show", "--json", "--db", str(db)).stdout)
    by_idx = {c["sample_idx"]: c for c in shown["tasks"]["builtin/relu"]}
    outcomes = {name: by_idx[i]["outcome"] for i, name in enumerate(BODIES)}
    assert outcomes == {
        "segfault": "crashed",
        "hang": "timeout",
        "raises": "runtime_error",
        "wrong_shape": "incorrect",
        "zeroes_inputs": "incorrect",
        "correct": "correct",
    }
    assert "boom from the candidate" in by_idx[2]["error"]
    assert shown["run"]["status"] == "finished"


RELU_NEW = ("import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
            "    def forward(self, x):\n        return torch.relu(x)\n")


def test_resume_evaluates_an_imported_run_without_a_backend(tmp_path):
    """An imported run (kind 'replay') has no model to load: `sgs run --resume` evaluates what it holds."""
    db = tmp_path / "imported.db"
    replay = tmp_path / "samples.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in [
        {"task": "builtin/relu", "code": RELU_NEW, "logprobs": [-1.0, -0.5]},
        {"task": "builtin/relu", "code": RELU_NEW.replace("torch.relu(x)", "x.clamp_min(0.0)"), "logprobs": [-2.0]},
    ]))
    out = sgs("import", str(replay), "--device", "cpu", "--timeout", "30", "--compile-timeout", "45",
              "--atol", "1e-3", "--rtol", "2e-3", "--db", str(db), timeout=120)
    assert out.returncode == 0, out.stderr
    stored = json.loads(sgs("show", "--json", "--db", str(db)).stdout)["run"]
    assert stored["kind"] == "replay" and stored["status"] == "created"
    conn = sqlite3.connect(db)
    (config,) = conn.execute("SELECT config_json FROM runs").fetchone()
    conn.close()
    # the evaluation limits given to import are recorded with the run, so the resume uses them
    assert {k: json.loads(config)["eval"][k] for k in ("device", "timeout_s", "compile_timeout_s", "atol", "rtol")} \
        == {"device": "cpu", "timeout_s": 30.0, "compile_timeout_s": 45.0, "atol": 1e-3, "rtol": 2e-3}

    out = sgs("run", "--resume", "1", "--db", str(db), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "run 1 finished" in out.stdout and out.stderr == ""
    shown = json.loads(sgs("show", "--json", "--db", str(db)).stdout)
    assert shown["run"]["status"] == "finished"
    assert [c["outcome"] for c in shown["tasks"]["builtin/relu"]] == ["correct", "correct"]
    # the run logged to its own file beside the database
    log = (tmp_path / "sgs-logs" / "run-1.log").read_text()
    assert "run 1 finished" in log


def test_run_records_the_evaluation_limits_given(tmp_path):
    from sgs.cli import build_parser
    from sgs.cli.run import build_config

    args = build_parser().parse_args(["run", "builtin/relu", "--backend", "scripted", "--model", "x.jsonl",
                                      "--timeout", "9", "--compile-timeout", "33", "--atol", "1e-5", "--rtol",
                                      "1e-4", "--device", "cpu", "--eval-mode", "full", "--workers", "2"])
    config, _ = build_config(args)
    ev = config.eval
    assert (ev.timeout_s, ev.compile_timeout_s, ev.atol, ev.rtol, ev.device, ev.mode, ev.workers) == \
        (9.0, 33.0, 1e-5, 1e-4, "cpu", "full", 2)


def test_eval_passes_the_limits_in_its_request(tmp_path, monkeypatch, capsys):
    import sgs.gpu_eval
    from sgs.cli import main

    seen = []

    def fake_evaluate(request):
        seen.append(request)
        return {"outcome": "correct", "speedup": 1.5}

    monkeypatch.setattr(sgs.gpu_eval, "evaluate", fake_evaluate)
    monkeypatch.setattr(sgs.gpu_eval, "prestart", lambda: None)
    cand = tmp_path / "cand.py"
    cand.write_text(RELU_NEW)
    code = main(["eval", str(cand), "--task", "builtin/relu", "--device", "cpu", "--timeout", "7",
                 "--compile-timeout", "30", "--atol", "1e-3", "--rtol", "2e-3", "--json"])
    assert code == 0
    (request,) = seen
    assert {k: request[k] for k in ("device", "timeout_s", "compile_timeout_s", "atol", "rtol")} == \
        {"device": "cpu", "timeout_s": 7.0, "compile_timeout_s": 30.0, "atol": 1e-3, "rtol": 2e-3}
