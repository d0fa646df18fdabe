"""The reference's lifecycle, seen from the evaluator.

One trusted reference process per (task source, device, seed, trials,
precision) runs the task's `Model` once per input set, then stays alive for
the task's candidates: it checks their outputs on the device and times its
blocks beside theirs. Its timing goes to the reference cache (the run's
database); its outputs are never stored, only made again by a new process
when an idle one was closed to make room.

A reference that fails is retried once, alone on its device. If it fails
again, the failure is the task's: it is kept (in memory and in the
reference cache, keyed with the limits it ran under), and every candidate
of the task gets the outcome `reference_failed` with that one message.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field

from .. import environment, measure, protocol
from ..cache import reference_key
from ..request import derive_seed, src_hash
from .children import ChildFailed, signal_name, tail_suffix

# A CUDA context with the kernels of the libraries a model loads (cuBLAS,
# cuDNN) and torch's own state: on the H200 machine, processes of small
# tasks held 1-2 GiB besides their tensors.
CONTEXT_BYTES = 2 << 30
HOST_CHILD_BYTES = 512 << 20        # host memory of one evaluation child beyond its tensors
OUTPUT_CACHE_GPU = 8 << 30          # reference outputs kept on a GPU per task (more: made again)
OUTPUT_CACHE_CPU = 1 << 30
PREPARE_GUESS_BYTES = 4 << 30       # reserved for a reference's first run, before its size is known
MAX_TIMING_SETS_GPU = 8
MAX_IDLE = 8                        # idle reference processes kept alive
RETIME_S = 3600.0                   # a cached reference timing older than this is measured again


class ReferenceRunFailed(Exception):
    """A reference run that failed: the phase it failed in and why."""

    def __init__(self, message: str, *, retry_alone: bool = True, out_of_memory: bool = False):
        super().__init__(message)
        self.message, self.retry_alone, self.out_of_memory = message, retry_alone, out_of_memory


class ReferenceLost(Exception):
    """The reference process failed while it served a candidate (its check
    or its timer): whose fault that is cannot be told while others share
    the device."""

    def __init__(self, error: str, out_of_memory: bool = False):
        super().__init__(error)
        self.error, self.out_of_memory = error, out_of_memory


@dataclass
class ReferenceFailure:
    """A task whose reference failed twice: the message every candidate gets."""
    error: str


@dataclass
class Reference:
    """A live reference process (client side)."""
    key: str
    device: str
    pid: int
    sock: object
    log: str
    tmpdir: str
    info: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    last_used: float = 0.0
    dead: bool = False
    timer_ready: bool = False
    timing: dict | None = None              # the reference's timing (cached or fresh)
    timing_cached: bool = False
    drift: float | None = None
    cache_key: str | None = None            # key of its timing in the reference cache
    hardware: str = ""
    method: str = ""
    starts: int = 1                         # processes started for this key so far

    def set_meta(self, tag: str, index: int) -> dict | None:
        return self.info.get("sets", {}).get(f"{tag}:{index}")

    def need_bytes(self) -> int:
        """What one candidate of this task needs on the device: its context,
        one input set with its outputs and temporaries, its timing sets, and
        the reference's own recomputation when outputs are not kept."""
        i = self.info
        per_set = int(i.get("input_bytes", 0)) + int(i.get("output_bytes", 0))
        peak = int(i.get("set_peak_bytes") or 2 * per_set)
        n_timing = len(i.get("timing_seeds") or [])
        need = peak + n_timing * per_set
        if not i.get("outputs_kept"):
            need += peak
        return need + (CONTEXT_BYTES if self.device.startswith("cuda") else HOST_CHILD_BYTES)


def identity(req: dict, device: str, num_threads: int) -> str:
    """One reference process per value of this."""
    return json.dumps([src_hash(req["reference_src"]), device, req["seed"], req["correctness_trials"],
                       req["robust_trials"], req["mode"], bool(req.get("tf32")), num_threads,
                       req["timing_trials"], req["warmup"], req.get("atol"), req.get("rtol")])


def failure_key(req: dict, device: str, num_threads: int, hardware: str) -> str:
    """Where a task's reference failure is kept across processes: what it ran
    on and under which limits (other limits may well succeed)."""
    blob = json.dumps([src_hash(req["reference_src"]), hardware, req["seed"], req["mode"],
                       req["correctness_trials"], req["robust_trials"], bool(req.get("tf32")),
                       num_threads if device == "cpu" else None, req["timeout_s"], req["compile_timeout_s"]])
    return "ref-failure:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def input_sets(req: dict, device: str) -> tuple[list[dict], list[int]]:
    """The correctness and robustness sets of a request, and its candidate
    timing seeds (the reference keeps as many as memory allows)."""
    base = req["seed"]
    sets = [{"tag": "correct", "index": i, "seed": derive_seed(base, "correct", i), "transform": None}
            for i in range(req["correctness_trials"])]
    sets += [{"tag": "robust", "index": j, "seed": derive_seed(base, "robust", j),
              "transform": "signed" if j % 2 == 0 else "rescaled"} for j in range(int(req["robust_trials"]))]
    n_timing = MAX_TIMING_SETS_GPU if device.startswith("cuda") else 2
    return sets, [derive_seed(base, "timing", k) for k in range(n_timing)]


class References:
    """The live reference processes of one Runner, and the failures."""

    def __init__(self, runner):
        self.runner = runner
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._live: dict[str, Reference] = {}
        self._failed: dict[str, ReferenceFailure] = {}
        self.started = 0                    # reference processes started (for benchmarks)
        self.retried_alone = 0

    # --- acquire / release ---------------------------------------------------------
    def acquire(self, req: dict, device: str, num_threads: int) -> Reference | ReferenceFailure:
        key = identity(req, device, num_threads)
        hardware = environment.hardware_label(device, num_threads)
        fkey = failure_key(req, device, num_threads, hardware)
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            failed = self._failed.get(key) or self._stored_failure(fkey)
            if failed is not None:
                self._failed[key] = failed
                return failed
            with self._lock:
                ref = self._live.get(key)
            if ref is not None and not ref.dead:
                with self._lock:
                    ref.users += 1
                return ref
            starts = (ref.starts + 1) if ref is not None else 1
            try:
                ref = self._start(key, req, device, num_threads, alone=False)
            except ReferenceRunFailed as first:
                if not first.retry_alone:
                    return self._fail(key, fkey, first.message)
                self.retried_alone += 1
                try:
                    ref = self._start(key, req, device, num_threads, alone=True)
                except ReferenceRunFailed as second:
                    return self._fail(key, fkey, second.message)
            ref.starts = starts
            with self._lock:
                self._live[key] = ref
                ref.users += 1
            return ref

    def release(self, ref: Reference) -> None:
        with self._lock:
            ref.users -= 1
            ref.last_used = time.monotonic()
        if ref.dead:
            self._close(ref)
        self.trim()

    def _fail(self, key: str, fkey: str, message: str) -> ReferenceFailure:
        failure = ReferenceFailure(message if message.startswith("reference failed") else
                                   "reference failed: " + message)
        self._failed[key] = failure
        cache = self.runner.reference_cache
        if cache is not None:
            try:
                cache.put(fkey, {"error": failure.error, "failed_at": time.time()})
            except Exception:  # noqa: BLE001 - a cache that cannot write loses only the memo
                pass
        return failure

    def _stored_failure(self, fkey: str) -> ReferenceFailure | None:
        cache = self.runner.reference_cache
        if cache is None:
            return None
        try:
            value = cache.get(fkey)
        except Exception:  # noqa: BLE001
            return None
        return ReferenceFailure(value["error"]) if value and value.get("error") else None

    # --- room ----------------------------------------------------------------------
    def trim(self) -> None:
        """Keep at most MAX_IDLE idle reference processes."""
        with self._lock:
            idle = sorted((r for r in self._live.values() if r.users == 0), key=lambda r: r.last_used)
        for ref in idle[: max(0, len(idle) - MAX_IDLE)]:
            self._close(ref)

    def evict(self, device: str, nbytes: int) -> int:
        """Close idle reference processes on `device`, least recently used
        first, until about `nbytes` are freed; returns what was freed."""
        with self._lock:
            idle = sorted((r for r in self._live.values() if r.users == 0 and r.device == device),
                          key=lambda r: r.last_used)
        freed = 0
        for ref in idle:
            if freed >= nbytes:
                break
            freed += self._resident(ref)
            self._close(ref)
        return freed

    def _resident(self, ref: Reference) -> int:
        extra = CONTEXT_BYTES if ref.device.startswith("cuda") else HOST_CHILD_BYTES
        return int(ref.info.get("resident_bytes") or 0) + extra

    def _close(self, ref: Reference) -> None:
        with self._lock:
            if self._live.get(ref.key) is ref and ref.users == 0:
                del self._live[ref.key]
            elif self._live.get(ref.key) is ref:
                return                          # still in use: closed on its last release
        ref.dead = True
        self.runner.devices.state(ref.device).budget.set_resident(f"ref:{ref.pid}", None)
        self.runner.children.reap(ref.pid, ref.sock)
        shutil.rmtree(ref.tmpdir, ignore_errors=True)

    def close_all(self) -> None:
        with self._lock:
            refs = list(self._live.values())
            self._live.clear()
        for ref in refs:
            ref.dead = True
            self.runner.devices.state(ref.device).budget.set_resident(f"ref:{ref.pid}", None)
            self.runner.children.reap(ref.pid, ref.sock)
            shutil.rmtree(ref.tmpdir, ignore_errors=True)

    # --- one reference run -----------------------------------------------------------
    def _start(self, key: str, req: dict, device: str, num_threads: int, alone: bool) -> Reference:
        """Starts a reference process and runs every input set through it.
        Each phase it announces runs under its own limit: loading the task
        under the compile timeout, every other phase under the run timeout."""
        runner = self.runner
        state = runner.devices.state(device)
        tmpdir = tempfile.mkdtemp(prefix="ref-", dir=runner.root)
        ext_dir = os.path.join(tmpdir, "ext")
        os.makedirs(ext_dir, exist_ok=True)
        sets, timing_seeds = input_sets(req, device)
        cfg = runner.child_config("reference", req, device, tmpdir, ext_dir, num_threads)
        pid, sock, log = runner.children.spawn(tmpdir, runner.exec_children)
        self.started += 1
        ref = Reference(key=key, device=device, pid=pid, sock=sock, log=log, tmpdir=tmpdir)
        ref.hardware = environment.hardware_label(device, num_threads)
        ref.method = measure.timing_method(device.startswith("cuda"))
        phase, limit = "starting", 60.0
        deadline = time.monotonic() + limit
        ok = False
        with contextlib.ExitStack() as on_device:
            try:
                protocol.send(sock, cfg)
                while True:
                    h, plen = protocol.recv_header(sock, deadline)
                    if plen:
                        protocol.recv_payload(sock, plen, deadline)
                    t = h.get("type")
                    if t == "phase":
                        phase = h["phase"]
                        limit = float(req["compile_timeout_s"] if phase == "loading the task" else req["timeout_s"])
                        deadline = time.monotonic() + limit
                    elif t == "want" and h.get("phase") == "prepare":
                        # Its size is not known before its first run: a guess is held meanwhile.
                        guess = PREPARE_GUESS_BYTES if device.startswith("cuda") else 0
                        on_device.enter_context(state.budget.reserve(guess, alone=alone))
                        on_device.enter_context(state.lock.shared())
                        on_device.enter_context(state.in_use())
                        protocol.send(sock, {"type": "go", "sets": sets, "timing_seeds": timing_seeds,
                                             "cache_bytes": OUTPUT_CACHE_GPU if device.startswith("cuda")
                                             else OUTPUT_CACHE_CPU,
                                             "timing_share_bytes": runner.timing_share(device)})
                    elif t == "prepared":
                        ref.info = h
                        break
                    elif t == "error":
                        raise ReferenceRunFailed(f"{h.get('error') or 'failed'} (while {phase})",
                                                 out_of_memory=bool(h.get("out_of_memory")))
                    elif t == "exit":
                        raise ReferenceRunFailed((f"crashed with {signal_name(h['signal'])}" if h.get("signal")
                                                  else f"exited with code {h.get('code')}") + f" while {phase}"
                                                 + tail_suffix(log))
                    elif t != "hello":
                        raise protocol.ProtocolError(f"unexpected message {t!r}")
                on_device.close()
                self._after_prepare(ref, req, device, num_threads)
                state.budget.set_resident(f"ref:{pid}", self._resident(ref))
                ok = True
                return ref
            except TimeoutError:
                raise ReferenceRunFailed(f"timed out after {limit:g} s {_gerund(phase)}") from None
            except (protocol.ProtocolError, OSError) as e:
                raise ReferenceRunFailed(f"lost contact while {phase} ({e})" + tail_suffix(log)) from None
            finally:
                if not ok:
                    runner.children.reap(pid, sock)
                    shutil.rmtree(tmpdir, ignore_errors=True)

    def _after_prepare(self, ref: Reference, req: dict, device: str, num_threads: int) -> None:
        info = ref.info
        kept = sum(1 for _ in info.get("sets", {}))
        # The child keeps outputs within its cache budget; the estimate of what a
        # candidate needs assumes recomputation unless everything fitted.
        out_total = int(info.get("output_bytes", 0)) * kept
        info["outputs_kept"] = out_total <= (OUTPUT_CACHE_GPU if device.startswith("cuda") else OUTPUT_CACHE_CPU)
        ref.cache_key = reference_key(
            reference_hash=src_hash(req["reference_src"]), input_spec=info.get("input_spec"),
            # The host CPU too: launch-bound references time at its pace.
            hardware=ref.hardware if device == "cpu" else f"{ref.hardware}; host {environment.cpu_model()}",
            torch_version=self.runner.versions["torch"], cuda_version=self.runner.versions["cuda"],
            method=ref.method, mode=req["mode"], tf32=bool(req.get("tf32")),
            num_threads=num_threads if device == "cpu" else None)
        cache = self.runner.reference_cache
        cached = cache.get(ref.cache_key) if cache is not None else None
        if cached and cached.get("ms"):
            ref.timing, ref.timing_cached = cached, True

    # --- serving -----------------------------------------------------------------------
    def check(self, ref: Reference, header: dict, payload, timeout: float) -> dict:
        """The reference's comparison of one output set of a candidate."""
        tag = "timing" if header["tag"] == "after_timing" else header["tag"]
        msg = {"type": "check", "tag": tag, "index": header["index"], "tensors": header["tensors"]}
        if header.get("share") is not None:
            msg["share"] = header["share"]
        deadline = time.monotonic() + timeout
        with ref.lock:
            if ref.dead:
                raise ChildFailed("crashed", "the reference process is gone")
            try:
                if header.get("share") is not None:
                    protocol.send(ref.sock, msg)
                else:
                    protocol.send_parts(ref.sock, msg, [payload])
                while True:
                    h, plen = protocol.recv_header(ref.sock, deadline)
                    if plen:
                        protocol.recv_payload(ref.sock, plen, deadline)
                    if h.get("type") == "checked":
                        return h
                    if h.get("type") == "phase":
                        continue
                    if h.get("type") in ("error", "exit"):
                        what = (h.get("error") or (f"killed by {signal_name(h['signal'])}" if h.get("signal")
                                                   else f"exited with code {h.get('code')}"))
                        raise ReferenceLost(str(what)[:400] + tail_suffix(ref.log, 3),
                                            out_of_memory=bool(h.get("out_of_memory")))
                    raise protocol.ProtocolError(f"unexpected message {h.get('type')!r}")
            except (TimeoutError, protocol.ProtocolError, OSError, ReferenceLost):
                ref.dead = True
                raise

    def kernels(self, ref: Reference, timeout: float) -> list | None:
        """The GPU kernels one call of the reference launches (profiled once,
        when a kernel candidate first needs them)."""
        if "kernels" in ref.info:
            return ref.info["kernels"]
        deadline = time.monotonic() + timeout
        with ref.lock:
            if ref.dead:
                return None
            try:
                protocol.send(ref.sock, {"type": "kernels"})
                while True:
                    h, plen = protocol.recv_header(ref.sock, deadline)
                    if plen:
                        protocol.recv_payload(ref.sock, plen, deadline)
                    if h.get("type") == "kernels":
                        ref.info["kernels"] = h.get("names")
                        return ref.info["kernels"]
                    if h.get("type") != "phase":
                        raise protocol.ProtocolError(f"unexpected message {h.get('type')!r}")
            except (TimeoutError, protocol.ProtocolError, OSError):
                ref.dead = True
                return None

    def timer(self, ref: Reference, warmup_s: float, timeout: float) -> bool:
        """Makes the reference ready to time blocks; False if it cannot."""
        deadline = time.monotonic() + timeout
        with ref.lock:
            if ref.dead:
                return False
            try:
                protocol.send(ref.sock, {"type": "timer", "warmup_s": warmup_s})
                while True:
                    h, plen = protocol.recv_header(ref.sock, deadline)
                    if plen:
                        protocol.recv_payload(ref.sock, plen, deadline)
                    if h.get("type") == "timer_ready":
                        ref.timer_ready = True
                        if h.get("resident_bytes"):
                            ref.info["resident_bytes"] = h["resident_bytes"]
                            self.runner.devices.state(ref.device).budget.set_resident(
                                f"ref:{ref.pid}", self._resident(ref))
                        return True
                    if h.get("type") != "phase":
                        ref.dead = True
                        return False
            except (TimeoutError, protocol.ProtocolError, OSError):
                ref.dead = True
                return False

    @staticmethod
    def needs_timing(ref: Reference) -> bool:
        """No timing yet, or a cached one older than RETIME_S."""
        if ref.timing is None:
            return True
        return ref.timing_cached and time.time() - float(ref.timing.get("timed_at", 0)) > RETIME_S

    def store_timing(self, ref: Reference, side: dict) -> None:
        """A fresh timing of the reference (the reference side of a paired
        timing, or a timing of its own) becomes the cached one; against an
        older cached one the drift is recorded."""
        old = ref.timing if ref.timing_cached else None
        ref.timing = {"ms": side["ms"], "host_ms": side["host_ms"], "enqueue_ms": side.get("enqueue_ms") or [],
                      "method": ref.method, "timed_at": time.time(), "hardware": ref.hardware}
        ref.timing_cached = False
        if old:
            from ..verdict import stats
            ref.drift = stats(side["ms"])["median"] / stats(old["ms"])["median"] - 1
            ref.timing["drift_vs_previous"] = ref.drift
        cache = self.runner.reference_cache
        if cache is not None and ref.cache_key:
            cache.put(ref.cache_key, ref.timing)


def _gerund(phase: str) -> str:
    return phase if phase.endswith("ing") or " " in phase else f"during {phase}"
