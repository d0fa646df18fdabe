"""benchmarks/bench_ttt.py with tiny settings on the CPU: the tokenizer export, the model built
from a config, and the per-step table (the H200 runs it with the defaults)."""
import importlib.util
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("gguf")
REPO = Path(__file__).resolve().parents[2]
KERNELBENCH = Path(os.environ.get("SGS_TEST_KERNELBENCH", REPO / ".." / "shared" / "kernelbench"))


def bench():
    spec = importlib.util.spec_from_file_location("bench_ttt", REPO / "benchmarks" / "bench_ttt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_run_prints_the_per_step_table(tmp_path, capsys):
    b = bench()
    try:
        b.main(["export-tokenizer", "--out", str(tmp_path / "tok")])
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"embedded model not installed: {exc}")
    size = sum(f.stat().st_size for f in (tmp_path / "tok").iterdir())
    assert size < 10 * 2**20
    tasks = "L1/19,L1/23" if (KERNELBENCH / "level1").is_dir() else "builtin/relu,builtin/softmax"
    args = ["run", "--tokenizer", str(tmp_path / "tok"), "--tasks", tasks, "--k", "2", "--steps", "2",
            "--max-tokens", "3", "--layers", "1", "--hidden", "32", "--heads", "2", "--device", "cpu",
            "--dtype", "fp32", "--out", str(tmp_path / "out")]
    if (KERNELBENCH / "level1").is_dir():
        args += ["--kernelbench", str(KERNELBENCH)]
    assert b.main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["step"])
    assert [line.split()[0] for line in lines[header + 1:header + 4]] == ["0", "1", "2"]
    assert "prompt repeated per sample (baseline)" in out and "ratio" in out
    summary = json.loads((tmp_path / "out" / "bench_ttt.json").read_text())
    steps = summary["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert steps[0].get("loss") is None and steps[1]["loss"] is not None
    assert steps[1]["ratio_max_dev"] < 1e-3          # fp32: sampler and learner agree at the first update
    assert all(s["generated_tokens"] == 2 * 2 * 3 for s in steps)   # random weights: every sample runs to the limit
