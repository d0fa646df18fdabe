"""A fork server: a process that has imported torch (but never initialised
CUDA) and forks one fresh child per evaluation.

The server is started with an already scrubbed environment, so nothing a
child can read (os.environ, /proc/self/environ, its memory) holds a secret
of the evaluator. Each child runs in its own session (process group) so a
kill takes its compilers and helpers with it. The server reports every
child's exit status on that child's socket, which is how the evaluator tells
a segfault (signal) from a clean exit.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import protocol

# Run before either entry point: import sgs.gpu_eval, mapping its folder
# (the last argument) as that package where sgs is not installed.
_PRELUDE = r"""
import os, sys, types, importlib.util, socket
try:
    import sgs.gpu_eval
except ImportError:
    pkg = sys.argv[-1]
    if "sgs" not in sys.modules:
        m = types.ModuleType("sgs"); m.__path__ = []; sys.modules["sgs"] = m
    spec = importlib.util.spec_from_file_location(
        "sgs.gpu_eval", os.path.join(pkg, "__init__.py"), submodule_search_locations=[pkg])
    mod = importlib.util.module_from_spec(spec); sys.modules["sgs.gpu_eval"] = mod
    spec.loader.exec_module(mod)
"""

_BOOT = _PRELUDE + r"""
import sgs.gpu_eval.forkserver as fs
fs.serve(int(sys.argv[1]))
"""

# A child that starts a fresh interpreter instead of running in the forked
# copy: for drivers that cannot start in a process forked from the server.
_CHILD_BOOT = _PRELUDE + r"""
from sgs.gpu_eval import harness
os._exit(harness.child_main(socket.socket(fileno=int(sys.argv[1])), sys.argv[2]))
"""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def serve(ctl_fd: int) -> None:
    """Server main loop (runs in the server process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    try:
        # Whatever a child starts and leaves behind (even in a session of its
        # own) becomes this server's child when its parent ends, so the
        # server can end it too.
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    import torch  # noqa: F401  pre-imported so children start fast; CUDA stays uninitialised
    from . import harness

    ctl = socket.socket(fileno=ctl_fd)
    live: dict[int, socket.socket] = {}
    ctl.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    try:
        while True:
            if os.getppid() != parent:
                break                                # the evaluator died without closing the socket
            ready, _, _ = select.select([ctl], [], [], 0.05)
            if ready:
                try:
                    msg, fds, _, _ = socket.recv_fds(ctl, 65536, 1)
                except OSError:
                    break
                if not msg:
                    break                            # the evaluator went away
                req = json.loads(msg)
                if req["op"] == "fork":
                    sock = socket.socket(fileno=fds[0])
                    pid = os.fork()
                    if pid == 0:                     # the child
                        code = 70
                        try:
                            os.setsid()
                            signal.signal(signal.SIGINT, signal.SIG_DFL)
                            ctl.close()
                            for s in live.values():
                                s.close()
                            try:
                                ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                            except (OSError, AttributeError):
                                pass
                            if req.get("exec"):
                                os.set_inheritable(sock.fileno(), True)
                                pkg = os.path.dirname(os.path.abspath(__file__))
                                os.execv(sys.executable, [sys.executable, "-c", _CHILD_BOOT,
                                                          str(sock.fileno()), req["log"], pkg])
                            code = harness.child_main(sock, req["log"])
                        finally:
                            os._exit(code)
                    live[pid] = sock
                    ctl.send(json.dumps({"pid": pid}).encode())
                elif req["op"] == "kill":
                    pid = int(req["pid"])
                    if pid in live:                  # never signal a reaped (reusable) pid
                        _killpg(pid)
            while live:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                sock = live.pop(pid, None)
                if sock is not None:
                    _killpg(pid)                     # leftovers of its session (compilers, forks)
                    _report_exit(sock, status)
                    _sweep(set(live))                # and those that left its session
    finally:
        for pid in list(live):
            _killpg(pid)
        _sweep(set())


def _sweep(keep: set[int]) -> None:
    """Kill this server's children that are not live evaluation children:
    orphans handed to it as the subreaper."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return
    for tid in tasks:
        try:
            with open(f"/proc/{me}/task/{tid}/children") as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            if pid not in keep:
                _killpg(pid)


def _killpg(pid: int) -> None:
    for fn in (os.killpg, os.kill):
        try:
            fn(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _report_exit(sock: socket.socket, status: int) -> None:
    if os.WIFSIGNALED(status):
        info = {"type": "exit", "signal": os.WTERMSIG(status), "code": None}
    else:
        info = {"type": "exit", "signal": None, "code": os.WEXITSTATUS(status)}
    try:
        # Never block the server on a peer that stopped reading.
        sock.setblocking(False)
        protocol.send(sock, info)
    except OSError:
        pass
    finally:
        sock.close()


class ForkServer:
    """Client side: starts the server process and asks it for children."""

    def __init__(self, env: dict[str, str], log_path: str | None = None, start_timeout: float = 180.0):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pkg = str(Path(__file__).resolve().parent)
        err = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child.fileno()), pkg],
                pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, start_new_session=True, cwd="/")
        finally:
            child.close()
            if err is not subprocess.DEVNULL:
                err.close()
        self.ctl = parent
        self.lock = threading.Lock()
        self.ctl.settimeout(start_timeout)
        try:
            hello = json.loads(self.ctl.recv(4096) or b"{}")
        except (OSError, ValueError):
            hello = {}
        if not hello.get("ready"):
            self.close()
            raise RuntimeError("the evaluation fork server failed to start")
        self.ctl.settimeout(60)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, log_path: str, exec_child: bool = False) -> tuple[int, socket.socket]:
        """A fresh child; returns its pid and the evaluator's end of its socket.
        exec_child: the child starts a new interpreter (slower, no state shared
        with the server at all)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self.lock:
                socket.send_fds(self.ctl, [json.dumps({"op": "fork", "log": log_path,
                                                       "exec": exec_child}).encode()],
                                [theirs.fileno()])
                reply = self.ctl.recv(4096)
        except OSError as e:
            mine.close()
            raise RuntimeError(f"fork server unavailable: {e}") from e
        finally:
            theirs.close()
        if not reply:
            mine.close()
            raise RuntimeError("fork server exited")
        return int(json.loads(reply)["pid"]), mine

    def kill(self, pid: int) -> None:
        try:
            with self.lock:
                self.ctl.send(json.dumps({"op": "kill", "pid": pid}).encode())
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.ctl.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


_shared: ForkServer | None = None
_shared_lock = threading.Lock()


def shared_server(env_factory) -> ForkServer:
    """One fork server per evaluator process, restarted if it died."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            _shared = ForkServer(env_factory())
        return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


import atexit  # noqa: E402

atexit.register(_close_shared)


def restart_shared() -> None:
    """Stop the shared server; the next evaluation starts a fresh one from the
    current environment (e.g. after credentials were added to it)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
        _shared = None
