"""Peak GPU and host memory while a benchmark runs, polled in a thread.

GPU: `nvidia-smi --query-gpu=memory.used,memory.total` (MiB per GPU; the
whole device, every process on it). Host: MemTotal - MemAvailable from
/proc/meminfo (the whole machine, page cache that can be dropped left out).
Where either is unavailable its figures are None.
"""
from __future__ import annotations

import subprocess
import threading
import time

NVIDIA_SMI = ("nvidia-smi", "--query-gpu=memory.used,memory.total", "--format=csv,noheader,nounits")


def gpu_memory(cmd=NVIDIA_SMI) -> list[tuple[float, float]] | None:
    """(used, total) MiB per GPU, or None without nvidia-smi or a GPU."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        try:
            gpus.append((float(parts[0]), float(parts[1])))
        except (ValueError, IndexError):
            continue
    return gpus or None


def host_memory_used() -> float | None:
    """Bytes in use on the machine (MemTotal - MemAvailable), or None."""
    try:
        info = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        return float(info["MemTotal"] - info["MemAvailable"])
    except (OSError, KeyError, ValueError, IndexError):
        return None


class MemoryMonitor:
    """Polls every `interval_s` until stopped; `summary()` gives the peaks."""

    def __init__(self, interval_s: float = 1.0, smi_cmd=NVIDIA_SMI):
        self.interval_s = interval_s
        self.smi_cmd = smi_cmd
        self.gpu_peak_mib: list[float] | None = None
        self.gpu_total_mib: list[float] | None = None
        self.gpu_at_start_mib: list[float] | None = None
        self.host_peak: float | None = None
        self.host_at_start: float | None = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gpu_ok = True

    def poll(self) -> None:
        if self._gpu_ok:
            gpus = gpu_memory(self.smi_cmd)
            if gpus is None:
                self._gpu_ok = self.samples > 0       # never seen one: stop asking
            else:
                used = [u for u, _ in gpus]
                if self.gpu_peak_mib is None:
                    self.gpu_peak_mib, self.gpu_at_start_mib = list(used), list(used)
                    self.gpu_total_mib = [t for _, t in gpus]
                else:
                    self.gpu_peak_mib = [max(a, b) for a, b in zip(self.gpu_peak_mib, used)]
        host = host_memory_used()
        if host is not None:
            if self.host_at_start is None:
                self.host_at_start = host
            self.host_peak = host if self.host_peak is None else max(self.host_peak, host)
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval_s)

    def start(self) -> "MemoryMonitor":
        self._thread = threading.Thread(target=self._loop, name="memory-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        return self.summary()

    def summary(self) -> dict:
        gib = 2 ** 30
        return {
            "gpu_peak_mib": self.gpu_peak_mib, "gpu_total_mib": self.gpu_total_mib,
            "gpu_at_start_mib": self.gpu_at_start_mib,
            "host_peak_gib": None if self.host_peak is None else round(self.host_peak / gib, 2),
            "host_at_start_gib": None if self.host_at_start is None else round(self.host_at_start / gib, 2),
            "samples": self.samples, "interval_s": self.interval_s,
        }


def wait_until(predicate, timeout_s: float, step_s: float = 0.2) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
