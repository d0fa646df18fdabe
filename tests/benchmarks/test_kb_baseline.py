"""kb_baseline.py's runner with a stand-in for KernelBench's evaluator (it
needs CUDA): one fresh subprocess per candidate, a hang killed at the time
limit, a crash recorded, results appended as they come and skipped when the
next command resumes."""
import json
import subprocess
import sys
from pathlib import Path

import kb_baseline

BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "kb_baseline.py"

FAKE_EVAL = '''
import os, time


class torch:                 # what the runner takes from the evaluator's module (no CUDA here)
    float32 = "float32"

    @staticmethod
    def device(name):
        return name


class Result:
    def __init__(self, compiled=True, correctness=True, metadata=None):
        self.compiled, self.correctness, self.metadata = compiled, correctness, metadata or {}
        self.runtime, self.ref_runtime = 12.0, 10.0


def eval_kernel_against_ref(ref, cand, **kw):
    assert kw["num_correct_trials"] == 1 and kw["num_perf_trials"] == 5
    assert kw["timing_method"] == "cuda_event" and kw["measure_performance"]
    assert kw["device"] == "cuda:0" and kw["precision"] == "float32" and kw["backend"] == "cuda"
    if "HANG" in cand:
        while True:
            time.sleep(0.1)
    if "CRASH" in cand:
        os.abort()
    if "WRONG" in cand:
        return Result(correctness=False, metadata={"correctness_issue": "Output mismatch"})
    if "RAISE" in cand:
        return Result(correctness=False, metadata={"runtime_error": "boom"})
    if "NOBUILD" in cand:
        return Result(compiled=False, metadata={"compilation_error": "nvcc failed"})
    return Result()
'''


def rows():
    def row(task, idx, label, marker):
        return {"task": task, "sample_idx": idx, "label": label, "expected_outcome": label, "variant": "v",
                "code": f"# {marker}\n"}
    return [row("L1/5", 0, "correct", "OK"), row("L1/5", 1, "incorrect", "WRONG"),
            row("L1/12", 0, "correct", "HANG"), row("L1/12", 1, "crashed", "CRASH"),
            row("L1/4", 0, "correct", "OK"), row("L1/4", 1, "compile_error", "NOBUILD"),
            row("L1/4", 2, "timeout", "HANG")]


def test_pick_one_correct_and_one_other_never_a_hang():
    many = [{"task": t, "sample_idx": i, "label": lab} for t in ("L1/4", "L1/5")
            for i, lab in enumerate(["correct"] * 5 + ["incorrect"] * 3 + ["timeout"] * 2)]
    chosen = kb_baseline.pick(many)
    assert chosen == kb_baseline.pick(many)
    for t in ("L1/4", "L1/5"):
        labels = sorted(r["label"] for r in chosen if r["task"] == t)
        assert labels == ["correct", "incorrect"]


def test_runner_records_each_candidate_and_resumes(tmp_path, kernelbench):
    evaluator = tmp_path / "fake_kb"
    evaluator.mkdir()
    (evaluator / "__init__.py").write_text("")
    (evaluator / "eval.py").write_text(FAKE_EVAL)
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    (data / "candidates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows()))

    def run(*extra):
        res = subprocess.run([sys.executable, str(BASELINE), "--data", str(data), "--out", str(out),
                              "--evaluator", str(evaluator), "--kernelbench", str(kernelbench),
                              "--timeout-s", "8", "--min-start-s", "1", *extra],
                             capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stdout + res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    # A budget too short for all six: it stops and keeps what it finished.
    first = run("--budget-s", "5")
    assert first["stopped_by_budget"] and first["recorded"] < 6
    final = run("--budget-s", "120")
    assert final == {"recorded": 6, "remaining": 0, "stopped_by_budget": False, "results": str(out / "kb_baseline.jsonl")}
    recs = [json.loads(line) for line in (out / "kb_baseline.jsonl").read_text().splitlines()]
    assert len({(r["task"], r["sample_idx"]) for r in recs}) == 6
    got = {(r["task"], r["sample_idx"]): r["verdict"] for r in recs}
    assert got == {("L1/5", 0): "correct", ("L1/5", 1): "incorrect", ("L1/12", 0): "timeout",
                   ("L1/12", 1): "crashed", ("L1/4", 0): "correct", ("L1/4", 1): "compile_error"}
    hang = next(r for r in recs if r["verdict"] == "timeout")
    assert 8 <= hang["wall_s"] < 20 and hang["eval_s"] is None
    ok = next(r for r in recs if r["task"] == "L1/5" and r["verdict"] == "correct")
    assert ok["eval_s"] is not None and ok["wall_s"] >= ok["eval_s"] and ok["runtime_us"] == 12.0


def test_verdicts_from_the_subprocess_end():
    assert kb_baseline.verdict(None, None, True)[0] == "timeout"
    assert kb_baseline.verdict(None, -11, False) == ("crashed", "killed by signal 11")
    assert kb_baseline.verdict(None, 0, False)[0] == "runtime_error"
    assert kb_baseline.verdict({"exception": "TypeError: x"}, 0, False)[0] == "runtime_error"
    assert kb_baseline.verdict({"result": None}, 0, False)[0] == "evaluator_error"
