"""Per-device locks that keep timings apart from all other work.

Each device has one lock with two kinds of holders:
* shared: correctness checks of evaluations, and the engine generating with
  a local model on that device (`Evaluator.timing_slot`); any number at once;
* exclusive: one timing; no shared holder and no other timing meanwhile.

A waiting timing blocks new shared holders, so timings are not starved.
The locks are per evaluator process (one registry), so two Evaluators in the
same process never time on a device at the same time.
"""
from __future__ import annotations

import contextlib
import threading


class DeviceLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._checks = 0
        self._generations = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    def acquire_shared(self, generation: bool = False) -> None:
        with self._cond:
            if generation:
                while self._exclusive:
                    self._cond.wait()
                self._generations += 1
                return
            # A waiting timing blocks new checks (no starvation), unless a
            # generation holds the device anyway: then checks go on meanwhile.
            while self._exclusive or (self._waiting_exclusive and not self._generations):
                self._cond.wait()
            self._checks += 1

    def release_shared(self, generation: bool = False) -> None:
        with self._cond:
            if generation:
                self._generations -= 1
            else:
                self._checks -= 1
            self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        with self._cond:
            self._waiting_exclusive += 1
            try:
                while self._exclusive or self._checks or self._generations:
                    self._cond.wait()
            finally:
                self._waiting_exclusive -= 1
            self._exclusive = True

    def release_exclusive(self) -> None:
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()

    @contextlib.contextmanager
    def shared(self, generation: bool = False):
        self.acquire_shared(generation)
        try:
            yield
        finally:
            self.release_shared(generation)

    @contextlib.contextmanager
    def exclusive(self):
        self.acquire_exclusive()
        try:
            yield
        finally:
            self.release_exclusive()

    def busy(self) -> bool:
        with self._cond:
            return self._exclusive or self._checks > 0 or self._generations > 0


_registry: dict[str, DeviceLock] = {}
_registry_lock = threading.Lock()


def device_lock(device: str) -> DeviceLock:
    key = "cuda:0" if device == "cuda" else device
    with _registry_lock:
        if key not in _registry:
            _registry[key] = DeviceLock()
        return _registry[key]
