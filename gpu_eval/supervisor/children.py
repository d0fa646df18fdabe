"""Starting and ending evaluation children, and reading what they left.

Children come from the fork server (forkserver.py): each in its own session,
killed with all of its processes when reaped; the server itself ends them
all when this process goes away, however it goes.
"""
from __future__ import annotations

import collections
import os
import signal
import threading

from .. import environment
from ..builds import LIGHT_FAILED_MARK
from ..forkserver import ForkServer, shared_server

CHILD_OUTCOMES = {"compile_error", "runtime_error", "incorrect", "crashed"}


class ChildFailed(Exception):
    """A child's failure that decides the outcome."""

    def __init__(self, outcome: str, error: str, out_of_memory: bool = False):
        super().__init__(error)
        self.outcome, self.error, self.out_of_memory = outcome, error, out_of_memory


class Children:
    def __init__(self, server: ForkServer | None = None):
        self._server = server
        self._lock = threading.Lock()
        self.own: set[int] = set()
        # Every child ever started: a child that just exited can still be listed
        # by NVML while its context is torn down, and must not count as another
        # user of the GPU.
        self.spawned: collections.deque = collections.deque(maxlen=4096)

    def server(self) -> ForkServer:
        if self._server is not None:
            if not self._server.alive():
                self._server = ForkServer(environment.scrubbed_env())
            return self._server
        return shared_server(environment.scrubbed_env)

    def spawn(self, tmpdir: str, exec_child: bool = False):
        log = os.path.join(tmpdir, "log.txt")
        pid, sock = self.server().spawn(log, exec_child)
        with self._lock:
            self.own.add(pid)
            self.spawned.append(pid)
        return pid, sock, log

    def reap(self, pid: int, sock) -> None:
        self.server().kill(pid)
        try:
            sock.close()
        except OSError:
            pass
        with self._lock:
            self.own.discard(pid)

    def kill_all(self) -> None:
        with self._lock:
            pids = list(self.own)
        for pid in pids:
            self.server().kill(pid)

    def ours(self) -> set[int]:
        with self._lock:
            return set(self.own) | set(self.spawned) | {os.getpid()}


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def log_tail(path: str, n: int = 8) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    lines = [ln for ln in lines if ln.strip()]
    return "\n".join(lines[-n:])


def tail_suffix(log: str, n: int = 4) -> str:
    tail = log_tail(log, n)
    return ("\n" + tail) if tail else ""


def with_compiler_errors(error: str, log: str, n: int = 6) -> str:
    """Add the compiler's first error lines (printed to the log when the
    build ran verbosely) to a short build-failure message."""
    if error.count("\n") >= 2:
        return error
    try:
        with open(log, "rb") as f:
            text = f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return error
    # Errors of a light-header attempt say nothing about the source's own build.
    text = text.rsplit(LIGHT_FAILED_MARK, 1)[-1]
    lines = [ln.strip() for ln in text.splitlines()
             if ("error" in ln.lower() and not ln.lstrip().startswith(("File ", "Traceback", "raise ")))]
    lines = [ln for ln in lines if ln not in error][:n]
    return (error + "\n" + "\n".join(lines))[:1500] if lines else error


def failure_of(h: dict, phase: str, log: str) -> ChildFailed:
    """The outcome of a child's `error` or `exit` message."""
    if h.get("type") == "error":
        outcome = h.get("outcome") if h.get("outcome") in CHILD_OUTCOMES else "runtime_error"
        error = str(h.get("error") or outcome)[:800]
        if outcome == "crashed":
            error += tail_suffix(log, 3)
        elif outcome == "compile_error":
            error = with_compiler_errors(error, log)
        return ChildFailed(outcome, error, out_of_memory=bool(h.get("out_of_memory")))
    if h.get("type") == "exit" and h.get("signal"):
        sig = h["signal"]
        # SIGKILL from outside the evaluator: on Linux, the out-of-memory killer.
        return ChildFailed("crashed", f"crashed: killed by {signal_name(sig)} during {phase}" + tail_suffix(log, 4),
                           out_of_memory=(sig == signal.SIGKILL))
    if h.get("type") == "exit":
        return ChildFailed("runtime_error", f"exited with code {h.get('code')} during {phase}" + tail_suffix(log, 4))
    return ChildFailed("crashed", f"lost the candidate during {phase}: {str(h)[:200]}")
