"""bench_real.py's bookkeeping on a tiny CPU workload of built-in tasks: a
segment stopped by its budget, a resumed one, the wall time as the sum of
both, and the report's confusion matrix, phases and memory figures."""
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_real.py"
MODULE = "import torch\nimport torch.nn as nn\n\n\nclass ModelNew({base}):\n{body}\n"


def candidate(idx, label, body, base="nn.Module", **extra):
    return {"task": "builtin/relu", "sample_idx": idx, "label": label,
            "expected_outcome": "runtime_error" if label == "oom" else label, "variant": extra.pop("variant", "x"),
            "reference_equivalent": False, "expect_flags": [], "code": MODULE.format(base=base, body=body), **extra}


CANDIDATES = [
    candidate(0, "correct", "    def forward(self, x):\n        return x.clamp(min=0)", variant="rewrite"),
    candidate(1, "incorrect", "    def forward(self, x):\n        return torch.relu(x) + 1"),
    candidate(2, "runtime_error", "    def forward(self, x):\n        raise ValueError('boom')"),
    # labelled correct but wrong: one verdict off the diagonal
    candidate(3, "correct", "    def forward(self, x):\n        return x.abs()", variant="rewrite"),
    candidate(4, "correct", "    pass", base="Model", variant="inherit", reference_equivalent=True,
              expect_flags=["reference_equivalent"]),
    # slow to build (once per evaluation): a 4 s segment cannot finish the run
    candidate(5, "correct", "    def __init__(self):\n        super().__init__()\n        import time\n"
                            "        time.sleep(6)\n\n    def forward(self, x):\n        return torch.relu(x)",
              variant="rewrite"),
]


def bench(*args, timeout=240):
    out = subprocess.run([sys.executable, str(BENCH), "--device", "cpu", "--progress-s", "2", *map(str, args)],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_stopped_segment_resumes_and_the_report_adds_up(tmp_path):
    data, out1, out2 = tmp_path / "data", tmp_path / "out1", tmp_path / "out2"
    data.mkdir()
    cands = data / "tiny.jsonl"
    cands.write_text("".join(json.dumps(c) + "\n" for c in CANDIDATES))
    common = ["--set", "tiny", "--candidates", cands, "--timeout", "30"]

    bench(*common, "--data", data, "--out", out1, "--budget-s", "4")
    state = json.loads((out1 / "bench_real_state.json").read_text())
    (seg1,) = state["sets"]["tiny"]["segments"]
    assert seg1["ended"] == "killed"
    assert seg1["active_s"] >= 4
    first = json.loads((out1 / "bench_real.json").read_text())["sets"][0]
    assert not first["finished"]

    # The next command starts from what came back: the packed database and the state.
    (data / "bench_real.db").unlink()
    for leftover in data.glob("bench_real.db-*"):
        leftover.unlink()
    shutil.copyfile(out1 / "bench_real.db.gz", data / "bench_real.db.gz")
    shutil.copyfile(out1 / "bench_real_state.json", data / "bench_real_state.json")
    log = bench(*common, "--data", data, "--out", out2, "--budget-s", "200")
    assert "segment 2: finished" in log

    state = json.loads((out2 / "bench_real_state.json").read_text())
    seg1, seg2 = state["sets"]["tiny"]["segments"]
    assert seg2["command"].startswith("sgs run --resume ")
    assert seg2["run_id"] == seg1["run_id"] is not None
    rep = json.loads((out2 / "bench_real.json").read_text())["sets"][0]
    assert rep["finished"] and rep["evaluated"] == len(CANDIDATES) and rep["segments"] == 2
    assert abs(rep["wall_s"] - (seg1["active_s"] + seg2["active_s"])) < 0.2
    assert rep["per_min"] == pytest.approx(60 * len(CANDIDATES) / rep["wall_s"], rel=0.01)
    c = rep["confusion"]
    assert c["agree"] == 5
    assert c["matrix"]["correct"]["correct"] == 3 and c["matrix"]["correct"]["incorrect"] == 1
    assert c["matrix"]["runtime_error"]["runtime_error"] == 1
    assert [(d["sample_idx"], d["outcome"]) for d in c["disagreements"]] == [(3, "incorrect")]
    assert rep["flags"]["expected"] == 1 and rep["flags"]["missed"] == 0
    assert rep["phases"]["compile_s"]["n"] == len(CANDIDATES)
    assert rep["phases"]["timing_s"]["n"] >= 1 and rep["phases"]["total_s"]["sum"] > 0
    assert rep["peak_host_gib"] > 0 and rep["peak_gpu_mib"] is None
    assert rep["reference_failures"] == []
    with gzip.open(out2 / "bench_real.db.gz") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    md = (out2 / "bench_real.md").read_text()
    assert "| correct | 3 | 1 |" in md and "builtin/relu #3 correct (rewrite) -> incorrect" in md

    # Finished: a further command only reports.
    assert "is finished; reporting only" in bench(*common, "--data", data, "--out", tmp_path / "out3")


def test_report_ratio_against_the_baseline():
    from real_workload import report
    records = [{"task": "L1/4", "wall_s": 50.0, "eval_s": 40.0, "label": "correct", "verdict": "correct"},
               {"task": "L1/4", "wall_s": 30.0, "eval_s": 20.0, "label": "incorrect", "verdict": "incorrect"},
               {"task": "L1/5", "wall_s": 10.0, "eval_s": 5.0, "label": "correct", "verdict": "correct"}]
    b = report.baseline_summary(records, k=64)
    assert b["projected_wall_s"] == 64 * 40 + 64 * 10
    assert b["projected_eval_s"] == 64 * 30 + 64 * 5
    assert b["per_task"]["L1/4"]["mean_wall_s"] == 40.0


def test_a_run_killed_on_another_machine_is_resumed_once_its_heartbeat_is_stale(tmp_path, monkeypatch):
    import sqlite3
    import time
    from datetime import datetime, timezone

    import bench_real
    db = tmp_path / "r.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, status TEXT, heartbeat_at TEXT, host TEXT)")
    beat = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    conn.execute("INSERT INTO runs VALUES (1, 'running', ?, 'another-machine'), (2, 'interrupted', ?, 'x')",
                 [beat, beat])
    conn.commit()
    conn.close()
    monkeypatch.setattr(bench_real, "STALE_AFTER_S", 1.5)
    t0 = time.monotonic()
    waited = bench_real.wait_until_stale(db, 1)
    assert 1.0 < waited <= 1.5 and time.monotonic() - t0 >= waited
    assert bench_real.wait_until_stale(db, 2) == 0.0
