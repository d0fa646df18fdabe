"""Confinement applied inside an evaluation child before untrusted code runs.

Linux only; each layer is best effort and reports what it achieved, so a
result says how the code was confined (see benchmarks/EVAL_NOTES.md):

* files (write barrier): a private mount namespace in which every mount is
  read-only except the evaluation's temporary folder and its build-cache
  entry; /dev is replaced by a small tmpfs holding only the harmless device
  nodes and the GPU's (no disks), with a private /dev/shm; then every
  capability is dropped, so the code cannot mount anything back. This works
  beside CUDA, which Landlock does not on some GPU machines;
* files (Landlock, where it works): the process may write only below the
  given folders;
* network: a new network namespace (no interfaces but a down loopback),
  inside a new user namespace where allowed (no capabilities outside it);
  without one, Landlock's TCP rules (kernel ABI >= 4) deny bind/connect;
* signals and abstract unix sockets outside the sandbox are refused
  (Landlock ABI >= 6), so the code cannot signal the evaluator;
* no core dumps, not dumpable (no other process may read its memory).
"""
from __future__ import annotations

import ctypes
import os
import resource

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446   # same on x86-64 and arm64
_CLONE_NEWNET, _CLONE_NEWUSER, _CLONE_NEWNS = 0x40000000, 0x10000000, 0x00020000
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
    {"userns": True, "netns": True, "mounts": True, "landlock": True, "scopes": True},
    {"userns": False, "netns": True, "mounts": True, "landlock": True, "scopes": True},
    {"userns": True, "netns": True, "mounts": True, "landlock": False, "scopes": False},
    {"userns": False, "netns": True, "mounts": True, "landlock": False, "scopes": False},
    {"userns": False, "netns": False, "mounts": True, "landlock": False, "scopes": False},
    {"userns": False, "netns": True, "mounts": False, "landlock": True, "scopes": False},
    {"userns": False, "netns": False, "mounts": False, "landlock": True, "scopes": False},
    {"userns": False, "netns": True, "mounts": False, "landlock": False, "scopes": False},
    {"userns": False, "netns": False, "mounts": False, "landlock": False, "scopes": False},
)
FULL = LAYER_SETS[0]


def _namespaces(libc, layers: dict, network: bool) -> set[str]:
    """New namespaces for the process: network and mount ones, inside a new
    user namespace where possible (then it holds no capability outside
    it, even when started as root). Returns the ones made."""
    want = 0
    if not network and layers.get("netns", True):
        want |= _CLONE_NEWNET
    if layers.get("mounts", True):
        want |= _CLONE_NEWNS
    if not want:
        return set()
    uid, gid = os.getuid(), os.getgid()
    made = set()
    if layers.get("userns", True) and libc.unshare(_CLONE_NEWUSER | want) == 0:
        try:   # keep the same ids inside, so files are created as before
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError:
            pass
        made = {"userns", "netns" if want & _CLONE_NEWNET else "", "mountns" if want & _CLONE_NEWNS else ""}
    elif libc.unshare(want) == 0:
        made = {"netns" if want & _CLONE_NEWNET else "", "mountns" if want & _CLONE_NEWNS else ""}
    elif want & _CLONE_NEWNET and libc.unshare(_CLONE_NEWNET) == 0:
        made = {"netns"}
    return made - {""}


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


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME, _MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
_MOUNT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC, "noatime": _MS_NOATIME,
                "nodiratime": _MS_NODIRATIME, "relatime": _MS_RELATIME, "strictatime": _MS_STRICTATIME}
# Device nodes evaluated code may open: the harmless ones and the GPU's.
_DEV_NODES = ("null", "zero", "full", "random", "urandom")
_DEV_PREFIXES = ("nvidia", "dri")
# Parts of a writable /proc that act on the whole machine (as container runtimes do).
_PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_CAP_VERSION_3 = 0x20080522


class _SandboxError(OSError):
    pass


def _mount(libc, src, target: str, fstype, flags: int, data: str | None = None) -> None:
    if libc.mount(src.encode() if src else None, target.encode(), fstype.encode() if fstype else None,
                  ctypes.c_ulong(flags), data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise _SandboxError(err, f"mount {target}: {os.strerror(err)}")


def _mounts() -> list[tuple[str, int]]:
    """(mount point, per-mount flags to keep) of this namespace, outermost first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(opt, 0)
            out.append((point, flags))
    return out


def _private_dev(libc, staging: str) -> None:
    """Replace /dev by a tmpfs with only the allowed device nodes (bound from
    the real /dev), the usual links, and a private /dev/shm."""
    os.makedirs(staging, exist_ok=True)
    _mount(libc, "sgs-dev", staging, "tmpfs", _MS_NOSUID, "mode=755,size=1m")
    names = [n for n in os.listdir("/dev") if n in _DEV_NODES or n.startswith(_DEV_PREFIXES)]
    for name in names:
        src, dst = os.path.join("/dev", name), os.path.join(staging, name)
        if os.path.isdir(src) and not os.path.islink(src):
            os.mkdir(dst)
        elif os.path.islink(src):
            continue
        else:
            open(dst, "w").close()
        _mount(libc, src, dst, None, _MS_BIND | _MS_REC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(staging, name))
    os.mkdir(os.path.join(staging, "shm"))
    _mount(libc, "sgs-shm", os.path.join(staging, "shm"), "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=256m")
    _mount(libc, staging, "/dev", None, _MS_MOVE)


def _write_barrier(libc, writable: list[str]) -> None:
    """In a new mount namespace: every mount read-only but the writable
    folders (bound onto themselves first, so they stay writable), a private
    /dev. Raises _SandboxError when any step fails."""
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    keep = [os.path.realpath(w) for w in writable if w != "/dev" and os.path.isdir(w)]
    for w in keep:
        _mount(libc, w, w, None, _MS_BIND | _MS_REC)
    if keep:
        _private_dev(libc, os.path.join(keep[0], ".sgs-dev"))
    # /proc stays writable: CUDA's start writes there (its threads' names,
    # /proc/self/task/*/comm); it refuses to start on a read-only /proc with
    # error 304. What in /proc acts on the machine is bound read-only instead.
    for point in _PROC_READ_ONLY:
        if os.path.exists(point):
            _mount(libc, point, point, None, _MS_BIND | _MS_REC)
    writable_points = set(keep) | {"/dev/shm", "/proc"}
    for point, flags in _mounts():
        if point in writable_points or any(point.startswith(w + "/") for w in keep):
            continue
        if point.startswith("/dev/") and point != "/dev/shm":
            continue        # device nodes bound into the private /dev: their driver decides
        try:
            _mount(libc, None, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags)
        except _SandboxError:
            if point == "/":
                raise
            # Hidden under another mount (e.g. the real /dev): out of reach anyway.
            if not os.path.exists(point):
                continue
            raise
    if keep:
        os.chdir(keep[0])   # the working folder, as the bind mount sees it


def _drop_capabilities(libc) -> bool:
    """No capability left, none to regain (bounding and ambient sets
    cleared, no new privileges): nothing can be mounted back writable, and
    a process that stays uid 0 cannot trace the evaluator's processes."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    ok = libc.syscall(126 if os.uname().machine in ("x86_64", "amd64") else 91, header, data) == 0   # capset
    return ok and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


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
    made = _namespaces(libc, layers, network)
    if "netns" in made:
        report["net"] = "userns+netns" if "userns" in made else "netns"
    fs = []
    if "mountns" in made:
        try:
            _write_barrier(libc, writable)
            if _drop_capabilities(libc):
                fs.append("mountns-ro")
        except (_SandboxError, OSError) as e:
            report["fs_error"] = str(e)[:200]
    # Not dumpable: other evaluation children (a concurrently running
    # reference, say) cannot read this one's memory, nor it theirs.
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    abi = landlock_abi() if layers.get("landlock", True) else 0
    scopes = layers.get("scopes", True)
    # Its own /proc entries stay writable (CUDA names its threads through them).
    if abi and _landlock(libc, abi, list(writable) + ["/proc/self"], deny_tcp=(not network and report["net"] == "none"),
                         scopes=scopes):
        fs.append(f"landlock-v{abi}" + ("" if scopes or abi < 6 else "-unscoped"))
        if report["net"] == "none" and abi >= 4:
            report["net"] = "landlock-tcp"
    if fs:
        report["fs"] = "+".join(fs)
    return report
