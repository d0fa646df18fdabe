"""Confinement applied inside an evaluation child before untrusted code runs.

Linux only; each layer is best effort and reports what it achieved, so a
result says how the code was confined (see benchmarks/EVAL_NOTES.md):

* network: a new network namespace (no interfaces but a down loopback),
  inside a new user namespace where allowed (no capabilities outside it);
  without one, Landlock's TCP rules (kernel ABI >= 4) deny bind/connect;
* files: Landlock lets the process write only below the given folders
  (its temporary folder, its build-cache entry, /dev for device nodes);
* signals and abstract unix sockets outside the sandbox are refused
  (Landlock ABI >= 6), so the code cannot signal the evaluator;
* no core dumps.
"""
from __future__ import annotations

import ctypes
import os
import resource

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446   # same on x86-64 and arm64
_CLONE_NEWNET, _CLONE_NEWUSER = 0x40000000, 0x10000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_DUMPABLE = 4

# Landlock filesystem rights that change the filesystem (reading stays allowed).
_FS_WRITE_V1 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12)
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    try:
        r = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(0, r)


# Layer sets from the most to the least confined. On a GPU machine the
# evaluator probes them in this order and uses the first under which CUDA
# starts (a driver can refuse to start in some of them).
LAYER_SETS = (
    {"userns": True, "netns": True, "landlock": True, "scopes": True},
    {"userns": False, "netns": True, "landlock": True, "scopes": True},
    {"userns": True, "netns": True, "landlock": True, "scopes": False},
    {"userns": False, "netns": True, "landlock": True, "scopes": False},
    {"userns": False, "netns": False, "landlock": True, "scopes": False},
    {"userns": False, "netns": True, "landlock": False, "scopes": False},
    {"userns": False, "netns": False, "landlock": False, "scopes": False},
)
FULL = LAYER_SETS[0]


def _isolate_network(libc, userns: bool = True) -> str | None:
    """A new network namespace, inside a new user namespace where possible:
    then the process holds no capability outside it (even when started as
    root), so it cannot read or trace other processes' memory through /proc."""
    uid, gid = os.getuid(), os.getgid()
    if userns and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        try:   # keep the same ids inside, so files are created as before
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError:
            pass
        return "userns+netns"
    if libc.unshare(_CLONE_NEWNET) == 0:
        return "netns"
    return None


def _landlock(libc, abi: int, writable: list[str], deny_tcp: bool, scopes: bool = True) -> bool:
    fs = _FS_WRITE_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    net = (_NET_BIND_TCP | _NET_CONNECT_TCP) if (deny_tcp and abi >= 4) else 0
    scoped = (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if (scopes and abi >= 6) else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    rfd = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if rfd < 0:
        return False
    try:
        for path in writable:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = _PathBeneath(fs, pfd)
                libc.syscall(_SYS_ADD_RULE, rfd, ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(pfd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_RESTRICT_SELF, rfd, ctypes.c_uint32(0)) == 0
    finally:
        os.close(rfd)


def confine(writable: list[str], network: bool = False, layers: dict | None = None) -> dict:
    """Confine the calling (single-threaded, freshly forked) process with the
    given layers (default: all). Returns {"fs": ..., "net": ...} naming the
    mechanisms that took effect."""
    layers = dict(FULL if layers is None else layers)
    report = {"fs": "none", "net": "open" if network else "none"}
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        libc = _libc()
    except OSError:
        return report
    if not network and layers.get("netns", True):
        report["net"] = _isolate_network(libc, userns=layers.get("userns", True)) or "none"
    # Not dumpable: other evaluation children (a concurrently running
    # reference, say) cannot read this one's memory, nor it theirs.
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    abi = landlock_abi() if layers.get("landlock", True) else 0
    scopes = layers.get("scopes", True)
    if abi and _landlock(libc, abi, writable, deny_tcp=(not network and report["net"] == "none"), scopes=scopes):
        report["fs"] = f"landlock-v{abi}" + ("" if scopes or abi < 6 else "-unscoped")
        if report["net"] == "none" and abi >= 4:
            report["net"] = "landlock-tcp"
    return report
