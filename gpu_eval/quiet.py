"""Quiet timings (opt-in, SGS_QUIET_TIMING=1): every other evaluation child
is paused while one times.

While any child holds a timing grant, every other live child of this
process, with all of its session (compilers, ninja, nvcc), gets SIGSTOP,
and SIGCONT when the last timing ends. Children timing on other GPUs at the
same time keep running. Time spent paused is not counted against a child's
timeouts (`paused_since`). Off by default: on the H200 machine it halved
throughput, and the drift it was meant to remove (one 12 ms model at 8.4 ms
in one window, 15.7 ms in another, with everything paused) came from
outside the evaluator; paired timing (measure.py) cancels that instead.

Process-wide (one registry), as the device locks are.
"""
from __future__ import annotations

import collections
import contextlib
import os
import signal
import threading
import time

_lock = threading.Lock()
_live: set[int] = set()                 # session leaders of live children (pid == sid)
_timing: set[int] = set()               # children holding a timing grant now
_stopped: set[int] = set()              # pids we sent SIGSTOP
_windows: collections.deque = collections.deque(maxlen=20000)   # (start, end) of past pauses
_pause_started: float | None = None
# Off unless asked for: paired timing (measure.py) already cancels the drift
# of the host, and pausing every compile for each timing cut throughput on
# the H200 machine from 6.9 to 3.7 kernels a minute.
enabled = os.environ.get("SGS_QUIET_TIMING", "0") not in ("0", "false", "no", "")


def register(pid: int) -> None:
    """A new child (its own session). Started while others time: paused at once."""
    with _lock:
        _live.add(pid)
        if _pause_started is not None and pid not in _timing:
            _stop_sessions({pid})


def unregister(pid: int) -> None:
    with _lock:
        _live.discard(pid)
        _timing.discard(pid)
        if pid in _stopped:
            _signal(pid, signal.SIGCONT)        # a stopped process cannot take its SIGKILL's cleanup
            _stopped.discard(pid)


@contextlib.contextmanager
def timing(pids):
    """Held around one timing of the children `pids` (an int or several:
    a reference and a candidate timed in turn): all other children pause."""
    pids = {pids} if isinstance(pids, int) else {p for p in (pids or ()) if p is not None}
    if not enabled or not pids:
        yield
        return
    global _pause_started
    with _lock:
        _timing.update(pids)
        if pids & _stopped:                     # paused for another GPU's timing: run now
            _cont(pids & _stopped)
        if _pause_started is None:
            _pause_started = time.monotonic()
        _stop_sessions(_live - _timing)
    try:
        yield
    finally:
        with _lock:
            _timing.difference_update(pids)
            if not _timing:
                for stopped in list(_stopped):
                    _signal(stopped, signal.SIGCONT)
                _stopped.clear()
                if _pause_started is not None:
                    _windows.append((_pause_started, time.monotonic()))
                _pause_started = None


def paused_since(t0: float) -> float:
    """Seconds of pauses (finished or going on) after monotonic time t0."""
    now = time.monotonic()
    with _lock:
        total = sum(max(0.0, min(e, now) - max(s, t0)) for s, e in _windows if e > t0)
        if _pause_started is not None:
            total += max(0.0, now - max(_pause_started, t0))
    return total


def stopped_count() -> int:
    with _lock:
        return len(_stopped)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError, OSError):
        return False


def _session_members(sids: set[int]) -> set[int]:
    """Processes whose session is one of `sids` (a child and what it started:
    ninja puts compilers in their own process groups, so killpg misses them)."""
    found = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return set(sids)
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) in sids:          # field 6 of stat: session id
                found.add(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return found | set(sids)


def _stop_sessions(sids: set[int]) -> None:
    sids = {s for s in sids if s not in _timing}
    if not sids:
        return
    for pid in _session_members(sids):
        if pid not in _stopped and pid not in _timing and _signal(pid, signal.SIGSTOP):
            _stopped.add(pid)


def _cont(sids: set[int]) -> None:
    for pid in _session_members(sids):
        if pid in _stopped:
            _signal(pid, signal.SIGCONT)
            _stopped.discard(pid)
