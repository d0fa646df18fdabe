"""Reference-timing cache: the key, and an in-memory cache for tests and
one-off runs (the engine passes its own SQLite-backed one)."""
from __future__ import annotations

import hashlib
import json
import threading


def reference_key(*, reference_hash: str, input_spec: list, hardware: str, torch_version: str,
                  cuda_version: str | None, method: str, mode: str, tf32: bool, num_threads: int | None) -> str:
    """Everything a reference timing depends on. Two evaluations share a
    timing only if all of it matches."""
    blob = json.dumps({"ref": reference_hash, "inputs": input_spec, "hw": hardware,
                       "torch": torch_version, "cuda": cuda_version, "method": method, "mode": mode,
                       "tf32": bool(tf32), "threads": num_threads}, sort_keys=True)
    return "ref-timing:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


class MemoryReferenceCache:
    """get/put store of reference timings kept in memory."""

    def __init__(self) -> None:
        self._data: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            return json.loads(json.dumps(value))

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._data[key] = json.loads(json.dumps(value))

    def __len__(self) -> int:
        return len(self._data)
