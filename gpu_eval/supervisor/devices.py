"""Which device an evaluation runs on, and how much of it it may take.

* Device choice: `cpu`, a named GPU, or (for `cuda`/`auto`) the least busy
  GPU, chosen and counted under one lock so a burst spreads over the GPUs.
* Memory admission: each device has a budget of bytes (a GPU's free memory
  at start, the host's available memory for the CPU). An evaluation reserves
  what its task needs (measured from the reference's run) before it touches
  the device, live reference processes count what they hold, and idle ones
  are closed to make room. An evaluation re-run alone reserves everything.
* Warm-up: a GPU that has been idle gets its clocks up again before a
  timing (`warmup_s`); one that has just been busy does not pay for it.
"""
from __future__ import annotations

import contextlib
import threading
import time

from .. import environment
from ..locks import device_lock

GPU_MARGIN_BYTES = 2 << 30              # left free on each GPU for the driver and other processes
HOST_SHARE = 0.8                        # of the host's available memory
GPU_IDLE_S = 1.0                        # idle longer than this: warm up again before timing
GPU_WARMUP_S = 0.25                     # then warm up at least this long


class Reservation:
    """Bytes held in a budget until released (once)."""

    def __init__(self, budget: "MemoryBudget", nbytes: int, alone: bool):
        self.budget, self.nbytes, self.alone = budget, nbytes, alone
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self.budget._release(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class MemoryBudget:
    """Bytes of one device's memory that evaluations and live reference
    processes may hold at once.

    A reservation larger than what is free waits; while it waits, idle
    reference processes are closed (`evict(bytes)` returns what that freed).
    A reservation that would not fit even in an empty budget runs when
    nothing else is reserved, so a huge task still runs, on its own. An
    `alone` reservation waits until no other evaluation holds anything and
    keeps every other one out until released."""

    def __init__(self, total: int, evict=None):
        self.total = max(0, int(total))
        self.evict = evict
        self._cond = threading.Condition()
        self._reserved = 0
        self._holders = 0
        self._resident: dict[str, int] = {}     # live reference processes
        self._alone = False
        self._alone_waiting = 0

    def free(self) -> int:
        with self._cond:
            return self._free()

    def _free(self) -> int:
        return self.total - self._reserved - sum(self._resident.values())

    def reserve(self, nbytes: int, alone: bool = False, timeout: float | None = None) -> Reservation:
        nbytes = max(0, int(nbytes))
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if alone:
                self._alone_waiting += 1
            try:
                while True:
                    if not self._alone and (
                            (alone and self._holders == 0)
                            or (not alone and not self._alone_waiting
                                and (nbytes <= self._free() or self._holders == 0))):
                        break
                    short = nbytes - self._free() if not alone else self.total
                    if self.evict is not None and short > 0:
                        self._cond.release()
                        try:
                            freed = self.evict(short)
                        finally:
                            self._cond.acquire()
                        if freed:
                            continue
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError("timed out waiting for device memory")
                    self._cond.wait(0.5 if left is None else min(0.5, left))
            finally:
                if alone:
                    self._alone_waiting -= 1
            self._reserved += nbytes
            self._holders += 1
            self._alone = self._alone or alone
            return Reservation(self, nbytes, alone)

    def _release(self, r: Reservation) -> None:
        with self._cond:
            self._reserved -= r.nbytes
            self._holders -= 1
            if r.alone:
                self._alone = False
            self._cond.notify_all()

    def set_resident(self, key: str, nbytes: int | None) -> None:
        """What a live reference process holds (None: it ended)."""
        with self._cond:
            if nbytes is None:
                self._resident.pop(key, None)
            else:
                self._resident[key] = max(0, int(nbytes))
            self._cond.notify_all()



class DeviceState:
    def __init__(self, device: str, budget: MemoryBudget):
        self.device = device
        self.budget = budget
        self.lock = device_lock(device)
        self._last_busy = 0.0
        self._busy = 0
        self._guard = threading.Lock()
        self._evaluations: dict[int, dict] = {}

    @contextlib.contextmanager
    def evaluation(self):
        """Counts an evaluation under way here; the dict it gives says, at
        the end, whether any other evaluation overlapped it."""
        mine = {"shared": False}
        with self._guard:
            for other in self._evaluations.values():
                other["shared"] = mine["shared"] = True
            self._evaluations[id(mine)] = mine
        try:
            yield mine
        finally:
            with self._guard:
                del self._evaluations[id(mine)]

    @contextlib.contextmanager
    def in_use(self):
        """Marks GPU work going on (for the idle clock of warm-ups)."""
        with self._guard:
            self._busy += 1
        try:
            yield
        finally:
            with self._guard:
                self._busy -= 1
                self._last_busy = time.monotonic()

    def warmup_s(self) -> float:
        """Minimum warm-up time for the next timing: none on the CPU or on a
        GPU that is busy or was busy a moment ago."""
        if not self.device.startswith("cuda"):
            return 0.0
        with self._guard:
            idle = self._busy == 0 and time.monotonic() - self._last_busy > GPU_IDLE_S
        return GPU_WARMUP_S if idle else 0.0


class Devices:
    """Device choice and per-device state of one Runner."""

    def __init__(self, evict=None):
        self._lock = threading.Lock()
        self._load: dict[int, int] = {}
        self._states: dict[str, DeviceState] = {}
        self._evict = evict
        self.host = MemoryBudget(int(HOST_SHARE * environment.host_memory_available()) or (1 << 62),
                                 evict=lambda n: evict("cpu", n) if evict else 0)

    def state(self, device: str) -> DeviceState:
        with self._lock:
            st = self._states.get(device)
            if st is None:
                if device.startswith("cuda"):
                    free = self.free_memory(device)
                    budget = MemoryBudget(max(0, free - GPU_MARGIN_BYTES) or (1 << 62),
                                          evict=(lambda n, d=device: self._evict(d, n)) if self._evict else None)
                else:
                    budget = self.host
                st = self._states[device] = DeviceState(device, budget)
            return st

    def free_memory(self, device: str) -> int:
        """A GPU's free memory when this evaluator starts using it (other
        processes, a model server say, keep theirs)."""
        free = environment.free_memory(environment.cuda_index(device))
        if free is None:
            info = self.info(device)
            free = int(info.get("free_memory") or info.get("total_memory") or 0)
        return free

    @staticmethod
    def info(device: str) -> dict:
        if device.startswith("cuda"):
            devs = environment.cuda_devices()
            idx = environment.cuda_index(device)
            return devs[idx] if idx < len(devs) else {}
        return {}

    def resolve(self, req: dict) -> str | None:
        """cpu, cuda:N, or None when a GPU is needed but there is none."""
        dev, kind = req["device"], req["kind"]
        gpus = environment.cuda_devices()
        if dev == "cpu":
            return None if kind != "torch" else "cpu"
        if not gpus:
            return "cpu" if (dev == "auto" and kind == "torch") else None
        if dev in ("auto", "cuda"):
            if len(gpus) == 1:
                return "cuda:0"
            with self._lock:                          # least busy GPU
                idx = min(range(len(gpus)), key=lambda i: self._load.get(i, 0))
            return f"cuda:{idx}"
        idx = environment.cuda_index(dev)
        return f"cuda:{idx}" if idx < len(gpus) else None

    @contextlib.contextmanager
    def chosen(self, req: dict):
        """Resolves the request's device and counts the evaluation against
        that GPU until it ends; choosing and counting under one lock spreads
        evaluations submitted at once over the GPUs."""
        device = self.resolve(req)
        idx = None
        if device is not None and device.startswith("cuda"):
            n_gpus = len(environment.cuda_devices())
            with self._lock:
                if req["device"] in ("auto", "cuda") and n_gpus > 1:
                    idx = min(range(n_gpus), key=lambda i: self._load.get(i, 0))
                    device = f"cuda:{idx}"
                else:
                    idx = environment.cuda_index(device)
                self._load[idx] = self._load.get(idx, 0) + 1
        try:
            yield device
        finally:
            if idx is not None:
                with self._lock:
                    self._load[idx] -= 1


def reserved_cpus(device: str) -> list[int]:
    """One core per GPU (with its SMT siblings) kept free of compiles and
    checks for that GPU's timings."""
    import os
    if not device.startswith("cuda"):
        return []
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return []
    if len(cpus) < 4:
        return []
    # From the top: the first CPUs of a (virtual) machine take most interrupts.
    cpu = cpus[-1 - (2 * environment.cuda_index(device)) % len(cpus)]
    reserved = {cpu} | (_siblings(cpu) & set(cpus))
    return sorted(reserved) if len(reserved) <= len(cpus) // 4 else [cpu]


def _siblings(cpu: int) -> set[int]:
    """Hardware threads sharing a physical core with `cpu` (Linux sysfs)."""
    try:
        with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
            text = f.read().strip()
    except OSError:
        return set()
    out = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            out.update(range(int(lo), int(hi or lo) + 1))
    return out
