"""Timed calls of one model on its rotated input sets, in blocks the
evaluator asks for (measure.py interleaves two children's blocks).

GPU: CUDA events on the default stream around each call, a device-wide
synchronize after it (side streams included; host time recorded too), and
an L2 flush before it. The first block warms up first: a count of calls,
and, when the evaluator says the GPU has been idle (its clocks down), a
minimum time as well.
"""
from __future__ import annotations

import time

import torch

# Bound at import, before any candidate code runs in this process.
_perf_ns = time.perf_counter_ns
_no_grad = torch.no_grad
_cuda_sync = torch.cuda.synchronize
_cuda_Event = torch.cuda.Event
_Event_record = torch.cuda.Event.record
_Event_elapsed = torch.cuda.Event.elapsed_time

GPU_WARMUP_MAX_CALLS = 20_000


class Timer:
    def __init__(self, model, sets: list, device: str, *, warmup: int, warmup_s: float, l2_bytes: int):
        self.model, self.sets = model, sets
        self.is_cuda = device.startswith("cuda")
        self.warmup, self.warmup_s = int(warmup), float(warmup_s)
        self.last = [None] * len(sets)
        self.i = 0
        self.warm = False
        if self.is_cuda:
            l2 = int(l2_bytes or 64 << 20)
            self.flush = torch.empty(max(2 * l2, 16 << 20) // 4, dtype=torch.int32, device=device)
            self.stream = torch.cuda.default_stream()
            self.events = [_cuda_Event(enable_timing=True) for _ in range(2)]

    def _call(self, k: int):
        with _no_grad():
            return self.model(*self.sets[k])

    def _warm_up(self) -> None:
        t0, w = _perf_ns(), 0
        limit_ns = int(self.warmup_s * 1e9) if self.is_cuda else 0
        while w < self.warmup or (_perf_ns() - t0 < limit_ns and w < GPU_WARMUP_MAX_CALLS):
            self._call(w % len(self.sets))
            w += 1
            if self.is_cuda and w % 16 == 0:
                _cuda_sync()
        if self.is_cuda:
            _cuda_sync()
        self.warm = True

    def block(self, n: int) -> tuple[list, list, list]:
        """n timed calls: event times, host times (to after a device-wide
        synchronize) and, on a GPU, enqueue times (to when the call returned
        to Python, before any wait for the GPU)."""
        if not self.warm:
            self._warm_up()
        times, host, enqueue = [], [], []
        for _ in range(max(1, n)):
            k = self.i % len(self.sets)
            if self.is_cuda:
                self.flush.zero_()                      # evict the inputs from L2
                _cuda_sync()
                h0 = _perf_ns()
                _Event_record(self.events[0], self.stream)
                out = self._call(k)
                h_enq = _perf_ns()
                _Event_record(self.events[1], self.stream)
                _cuda_sync()                            # device-wide: side streams included
                h1 = _perf_ns()
                times.append(_Event_elapsed(self.events[0], self.events[1]))
                host.append((h1 - h0) / 1e6)
                enqueue.append((h_enq - h0) / 1e6)
            else:
                h0 = _perf_ns()
                out = self._call(k)
                h1 = _perf_ns()
                times.append((h1 - h0) / 1e6)
                host.append(times[-1])
            self.last[k] = out
            self.i += 1
        return times, host, enqueue
