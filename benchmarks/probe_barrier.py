"""Which part of the write barrier keeps CUDA from starting on this machine?

Forks one child per variant from a process that has imported torch but not
initialised CUDA (as the fork server does), applies the variant's steps of
the sandbox, then starts CUDA. Prints one line per variant: ok, or the
error. Run on a GPU machine:

    . benchmarks/device_env.sh && python3 benchmarks/probe_barrier.py
"""
from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile

import torch  # noqa: F401  imported before the fork, as in the fork server

from sgs.gpu_eval import sandbox as sb

VARIANTS = {
    "mountns only": dict(),
    "private propagation": dict(private=True),
    "ro /": dict(private=True, ro=["/"]),
    "ro all but /proc,/sys,/dev": dict(private=True, ro="all-but-proc-sys"),
    "ro all but /proc": dict(private=True, ro="all-but-proc"),
    "ro all but /sys": dict(private=True, ro="all-but-sys"),
    "ro all": dict(private=True, ro="all"),
    "private /dev": dict(private=True, dev=True),
    "no_new_privs": dict(nnp=True),
    "drop caps (no nnp)": dict(caps=True),
    "full barrier": dict(full=True),
    "landlock, /proc /sys writable": dict(landlock=["/proc", "/sys"]),
    "landlock, / writable": dict(landlock=["/"]),
}


def apply(v: dict, tmp: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if v.get("landlock"):
        abi = sb.landlock_abi()
        if not sb._landlock(libc, abi, [tmp, "/dev"] + v["landlock"], deny_tcp=False, scopes=False):
            raise OSError("landlock refused")
        return
    if v.get("nnp"):
        libc.prctl(sb._PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        return
    if v.get("caps"):
        for cap in range(41):
            libc.prctl(sb._PR_CAPBSET_DROP, cap, 0, 0, 0)
        header = (ctypes.c_uint32 * 2)(sb._CAP_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)()
        libc.syscall(126, header, data)
        return
    if libc.unshare(sb._CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if v.get("full"):
        sb._write_barrier(libc, [tmp, "/dev"])
        sb._drop_capabilities(libc)
        return
    if v.get("private"):
        sb._mount(libc, None, "/", None, sb._MS_REC | sb._MS_PRIVATE)
    if v.get("dev"):
        sb._private_dev(libc, os.path.join(tmp, ".sgs-dev"))
    ro = v.get("ro")
    if ro:
        skip = {"all": (), "all-but-proc": ("/proc",), "all-but-sys": ("/sys",),
                "all-but-proc-sys": ("/proc", "/sys", "/dev")}.get(ro, None) if isinstance(ro, str) else None
        for point, flags in sb._mounts():
            if isinstance(ro, list) and point not in ro:
                continue
            if skip is not None and any(point == s or point.startswith(s + "/") for s in skip):
                continue
            if point.startswith("/dev/"):
                continue
            try:
                sb._mount(libc, None, point, None, sb._MS_REMOUNT | sb._MS_BIND | sb._MS_RDONLY | flags)
            except OSError:
                pass


def main() -> int:
    print("mounts:", [p for p, _ in sb._mounts()][:40])
    print("/dev:", sorted(os.listdir("/dev"))[:80])
    for name, v in VARIANTS.items():
        tmp = tempfile.mkdtemp()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.chdir(tmp)
                apply(v, tmp)
                x = torch.ones(4, device="cuda") * 2
                msg = f"ok ({float(x.sum())})"
            except BaseException as e:  # noqa: BLE001
                msg = f"{type(e).__name__}: {str(e)[:160]}"
            os.write(w, msg.encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        print(f"{name:32s} {os.read(r, 4096).decode()}")
        os.close(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
