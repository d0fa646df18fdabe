"""Public entry points: evaluate one candidate, or a pool of evaluations."""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import threading

from . import environment
from .locks import device_lock
from .request import normalize
from .supervisor import EvaluationAborted, Runner


def prestart() -> None:
    """Start the fork server and the device probe in the background (they
    take seconds): a caller that knows it will evaluate soon calls this
    first and does its own preparation meanwhile."""
    import threading

    from .forkserver import shared_server

    def start():
        try:
            environment.cuda_devices()
            shared_server(environment.scrubbed_env)
        except Exception:  # noqa: BLE001 - the evaluation itself will meet and report it
            pass

    threading.Thread(target=start, name="sgs-eval-prestart", daemon=True).start()


def evaluate(request: dict, *, timing_slot=None, reference_cache=None) -> dict:
    """Evaluate one candidate against its reference, blocking; the candidate
    runs in a fresh child process. `timing_slot`: an optional context manager
    (or a callable device -> context manager) entered around every timing,
    in addition to this process's own per-device timing lock."""
    runner = Runner(reference_cache=reference_cache)
    try:
        return runner.evaluate(request, timing_slot=timing_slot)
    finally:
        runner.close()


class Evaluator:
    """A pool of evaluations, each in its own fresh child process.

    Up to `max_workers` candidates compile at once. More evaluations than
    that are under way: those compiled wait for the GPU (checks, then one
    timing at a time per device) while the next ones compile, so the cores
    keep compiling while the GPU works through its queue. Identical requests
    submitted to one Evaluator are evaluated once and share the result."""

    def __init__(self, max_workers: int | None = None, reference_cache=None, *,
                 build_cache: str | None = None):
        if max_workers is None:
            max_workers = max(2, min(16, environment.usable_cores()))
        self.max_workers = int(max_workers)
        self.in_flight = self.max_workers + waiting_room(self.max_workers)
        self._runner = Runner(reference_cache=reference_cache, build_cache=build_cache,
                              max_jobs=max(1, environment.usable_cores() // max(1, self.max_workers // 2)),
                              concurrent_checks=self.in_flight, build_slots=self.max_workers)
        self._pool = concurrent.futures.ThreadPoolExecutor(self.in_flight, thread_name_prefix="sgs-eval")
        self._seen: dict[str, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, request: dict) -> concurrent.futures.Future:
        """Schedule one evaluation; the future's result is the result dict.
        A bad request raises RequestError here, at once."""
        if self._closed:
            raise RuntimeError("Evaluator is closed")
        req = normalize(request)
        key = hashlib.sha256(json.dumps(req, sort_keys=True, default=str).encode()).hexdigest()
        with self._lock:
            fut = self._seen.get(key)
            if fut is None:
                fut = self._pool.submit(self._runner.evaluate, req)
                self._seen[key] = fut
            return fut

    def timing_slot(self, device: str):
        """Hold while a local model generates on `device`: no evaluation
        times on that device meanwhile (correctness checks may go on)."""
        return _generation_hold(device)

    def close(self, wait: bool = True) -> None:
        """Cancel what has not started; with wait, let running evaluations finish."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if wait:
            self._runner.close()

    def abort(self) -> None:
        """Stop now: what has not started is cancelled, what is under way is
        cut off (its children killed) and its future raises
        EvaluationAborted. Nothing an aborted evaluation reports is a verdict."""
        if self._closed and self._runner.aborting:
            return
        self._closed = True
        self._runner.abort()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def waiting_room(max_workers: int) -> int:
    """Evaluations under way beyond those compiling: compiled ones that wait
    for the device while the next ones compile. A waiting candidate holds no
    GPU memory (its CUDA context is made once it is admitted, by memory,
    supervisor/devices.py); it does hold a process, so the room is bounded."""
    return max(1, max_workers if environment.cuda_devices() else max_workers // 2)


@contextlib.contextmanager
def _generation_hold(device: str):
    lock = device_lock("cuda:0" if device in ("cuda", "auto") else device)
    lock.acquire_shared(generation=True)
    try:
        yield
    finally:
        lock.release_shared(generation=True)


def hardware_label(device: str, num_threads: int | None = None) -> str:
    """e.g. "cpu: AMD EPYC 9654 x4 threads" or "NVIDIA H200"."""
    if device == "auto":
        device = "cuda:0" if environment.cuda_devices() else "cpu"
    return environment.hardware_label(device, num_threads)


# Passing an Evaluator's timing_slot to evaluate() must not nest the same lock.
Evaluator.timing_slot._sgs_internal = True
