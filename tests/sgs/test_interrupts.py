"""Interrupting a run or an import at any moment (SIGINT, SIGTERM, kill -9)
loses no verdict and stores no false one: unfinished evaluations stay
pending, resume redoes exactly those, and no evaluation child outlives the
process that started it."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

K = 2
IMPORTED = 4                  # samples per task in the import
TASKS = ("builtin/relu", "builtin/relu6")
# Slow to build (the pause is at import, in the compile phase), so that
# evaluations are under way when the signal comes.
SLOW = "import time\ntime.sleep({pause})\n"
PAUSE_S = 2   # long enough that the signal finds evaluations unfinished on an idle machine
BODIES = ["return torch.relu(x)", "return x.clamp(min=0)", "return torch.where(x > 0, x, 0.0)"][:K]


def _module(task: str, body: str, pause: float) -> str:
    hi = ", 6.0" if task.endswith("relu6") else ""
    ret = body if not hi else body.replace("torch.relu(x)", "torch.clamp(x, 0.0, 6.0)").replace(
        "x.clamp(min=0)", "x.clamp(0, 6)").replace("torch.where(x > 0, x, 0.0)", "torch.where(x > 0, x, 0.0).clamp(max=6.0)")
    return (SLOW.format(pause=pause) + "import torch\nimport torch.nn as nn\n\n"
            "class ModelNew(nn.Module):\n    def forward(self, x):\n        " + ret + "\n")


def _sgs(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sgs", *args], capture_output=True, text=True, **kw)


def _evaluations(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT s.task_id, s.sample_idx, e.state, e.outcome, e.error FROM samples s "
                            "LEFT JOIN evaluations e ON e.sample_id = s.id").fetchall()
    finally:
        conn.close()


def _finished_at(db) -> dict:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT sample_id, finished_at FROM evaluations WHERE state = 'done'").fetchall())
    finally:
        conn.close()


def _descendants(root: int) -> set[int]:
    """Every live process under `root` (the fork server and the evaluation
    children it started, with their compilers)."""
    parents = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                parents[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    out, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _alive(pids: set[int]) -> set[int]:
    live = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    live.add(pid)
        except OSError:
            pass
    return live


def _wait_for_running(db, proc, timeout=180, need_done=False):
    """Until an evaluation is running (and, with `need_done`, another has finished)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.2)
        if not db.exists():
            continue
        try:
            rows = _evaluations(db)
        except sqlite3.OperationalError:
            continue
        if need_done and not any(r[2] == "done" for r in rows):
            continue
        if any(r[2] == "running" for r in rows) and _descendants(proc.pid):
            return
    pytest.fail("no evaluation started in time")


def _start(kind: str, tmp_path, db):
    if kind == "run":
        replies = tmp_path / "replies.jsonl"
        with open(replies, "w") as f:
            for body in BODIES:
                f.write(json.dumps({"text": f"```python\n{_module('builtin/relu', body, PAUSE_S)}\n```"}) + "\n")
        args = ["run", *TASKS, "--backend", "scripted", "--model", str(replies), "--k", str(K), "--workers", "2"]
    else:
        records = tmp_path / "import.jsonl"
        with open(records, "w") as f:
            for task in TASKS:
                # More than the evaluator takes at once, so that some wait in its queue.
                for i in range(IMPORTED):
                    code = _module(task, BODIES[i % len(BODIES)], PAUSE_S) + f"# variant {i}\n"
                    f.write(json.dumps({"task": task, "code": code}) + "\n")
        args = ["import", str(records), "--evaluate"]
    # SIGINT as a terminal delivers it: a shell that starts a job in the background (as a CI script may
    # start the tests) sets SIGINT to be ignored, and Python leaves an ignored SIGINT ignored.
    return subprocess.Popen([sys.executable, "-m", "sgs", *args, "--device", "cpu", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


CASES = [("run", signal.SIGTERM), ("run", signal.SIGKILL), ("run", signal.SIGINT),
         ("import", signal.SIGTERM), ("import", signal.SIGKILL)]


@pytest.mark.parametrize("kind,sig", CASES, ids=[f"{k}-{signal.Signals(s).name}" for k, s in CASES])
def test_interrupt_then_resume_gives_exactly_k_verdicts(tmp_path, kind, sig):
    db = tmp_path / "i.db"
    proc = _start(kind, tmp_path, db)
    # kill -9 comes once a verdict is in, to show that verdicts reached before it are kept.
    _wait_for_running(db, proc, need_done=sig == signal.SIGKILL)
    children = _descendants(proc.pid)
    assert children, "no evaluation process was running"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    # No child of the interrupted process is left (compilers included).
    deadline = time.time() + 10
    while _alive(children) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(children), "evaluation processes outlived the run"
    after_stop = _evaluations(db)
    # Nothing cut off was stored as a verdict.
    for task, idx, state, outcome, error in after_stop:
        assert not (state == "done" and error and ("evaluator" in error or "lost contact" in error)), (task, idx, error)
    assert any(state != "done" for *_, state, _o, _e in [(r[0], r[1], r[2], r[3], r[4]) for r in after_stop]), \
        "every evaluation had finished before the signal"
    if sig != signal.SIGKILL:
        status = json.loads(_sgs("show", "--json", "--db", str(db)).stdout)["run"]["status"]
        assert status == "interrupted", out
    kept = _finished_at(db)
    assert kept or sig != signal.SIGKILL
    resumed = _sgs("run", "--resume", "1", "--db", str(db), timeout=400)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = _evaluations(db)
    for task in TASKS:
        mine = [r for r in rows if r[0] == task]
        assert sorted(r[1] for r in mine) == list(range(K if kind == "run" else IMPORTED)), mine
        # The scripted run replays the ReLU replies for every task: they are wrong for ReLU6.
        expected = "incorrect" if (kind == "run" and task.endswith("relu6")) else "correct"
        assert all(r[2] == "done" and r[3] == expected for r in mine), mine
    # Verdicts reached before the signal were kept, not redone.
    finished = _finished_at(db)
    assert all(finished[sample_id] == at for sample_id, at in kept.items())
    assert json.loads(_sgs("show", "--json", "--db", str(db)).stdout)["run"]["status"] == "finished"
