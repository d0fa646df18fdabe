"""While one child times, every other child and what it started (compilers
in their own process groups) is paused, and resumed after the timing."""
import os
import subprocess
import sys
import time

import pytest

from sgs.gpu_eval import quiet

# A session leader that starts a grandchild in its own process group (as
# ninja does with compilers), prints its pid, then waits.
_LEADER = r'''
import os, subprocess, sys, time
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], process_group=0)
print(g.pid, flush=True)
time.sleep(60)
'''


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _wait_state(pid: int, want: str, timeout: float = 5.0) -> str:
    end = time.monotonic() + timeout
    st = _state(pid)
    while (st == "T") != (want == "T") and time.monotonic() < end:
        time.sleep(0.02)
        st = _state(pid)
    return st


@pytest.fixture
def sessions():
    procs = []
    for _ in range(2):
        p = subprocess.Popen([sys.executable, "-c", _LEADER], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
        grandchild = int(p.stdout.readline())
        procs.append((p, grandchild))
        quiet.register(p.pid)
    yield procs
    for p, g in procs:
        quiet.unregister(p.pid)
        for pid in (g, p.pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        p.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_timing_pauses_other_sessions_and_resumes_them(sessions, monkeypatch):
    monkeypatch.setattr(quiet, "enabled", True)
    (timer, timer_child), (other, other_child) = sessions
    t0 = time.monotonic()
    with quiet.timing(timer.pid):
        assert _wait_state(other.pid, "T") == "T"
        assert _wait_state(other_child, "T") == "T"          # its compiler too
        assert _state(timer.pid) != "T"
        # A child started during the timing is paused at once.
        late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        quiet.register(late.pid)
        assert _wait_state(late.pid, "T") == "T"
        time.sleep(0.2)
        assert quiet.paused_since(t0) >= 0.2
    try:
        assert _wait_state(other.pid, "R") != "T"
        assert _wait_state(other_child, "R") != "T"
        assert _wait_state(late.pid, "R") != "T"
        assert quiet.stopped_count() == 0
        paused = quiet.paused_since(t0)
        time.sleep(0.1)
        assert quiet.paused_since(t0) == pytest.approx(paused)   # no pause is going on
    finally:
        quiet.unregister(late.pid)
        late.kill()
        late.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_timings_at_once_do_not_pause_each_other(sessions, monkeypatch):
    """Timings on two GPUs: each timing child runs; the rest stays paused
    until the last timing ends."""
    monkeypatch.setattr(quiet, "enabled", True)
    (a, _), (b, b_child) = sessions
    with quiet.timing(a.pid):
        assert _wait_state(b.pid, "T") == "T"
        with quiet.timing(b.pid):
            assert _wait_state(b.pid, "R") != "T"
            assert _state(a.pid) != "T"
        assert _state(a.pid) != "T"
    assert _wait_state(b_child, "R") != "T"
