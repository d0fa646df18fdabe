"""Drives evaluation children from the evaluator process.

For one request: the reference runs in its own trusted child (its outputs are
kept in memory for the run, its timing in the reference cache); the
candidate runs in a fresh child; the parent compares outputs and computes
the speedup. The parent grants the phases: correctness checks run under a
shared hold of the device lock, timings under an exclusive one.
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field

from . import environment, measure, protocol, quiet, sandbox, static_checks, verdict
from .cache import reference_key
from .forkserver import ForkServer, shared_server
from .locks import device_lock
from .request import derive_seed, normalize, src_hash

MAX_TIMING_SETS_GPU = 8
_LAYERS: dict[str, dict] = {}          # device -> probed sandbox layers (per process)
_LAYERS_LOCK = threading.Lock()
REFERENCE_RETIME_S = 3600.0         # a cached reference timing older than this is re-measured
MAX_IDLE_TIMERS = 4                 # live reference timers kept for later candidates of their task


@dataclass
class ReferenceData:
    outputs: dict = field(default_factory=dict)        # (tag, index) -> (metas, tensors)
    inputs_before: dict = field(default_factory=dict)  # (tag, index) -> fingerprint
    mutates_inputs: bool = False
    input_spec: list | None = None
    input_bytes: int = 0
    timing_sets: int = 2
    robust_ok: set = field(default_factory=set)        # robust indices whose reference output is finite
    robust_scale: dict = field(default_factory=dict)   # robust index -> factor the reference rescaled its inputs by
    kernels: list | None = None                        # GPU kernels one forward call launches
    timing: dict | None = None                         # {"ms": [...], "host_ms": [...], "method": ...}
    timing_cached: bool = False
    drift: float | None = None
    key: str | None = None
    error: str | None = None
    timer: "_ReferenceTimer | None" = None             # live reference child serving timing blocks
    hardware: str = ""                                 # what its timings are labelled with
    method: str = ""                                   # how they are taken (measure.timing_method)
    users: int = 0                                     # evaluations using this reference now


@dataclass
class _ReferenceTimer:
    """A reference child kept alive after its checks, holding its model and
    timing inputs, to time blocks beside a candidate's (measure.py)."""
    pid: int
    sock: object
    log: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    dead: bool = False


class _ChildError(Exception):
    def __init__(self, outcome: str, error: str):
        super().__init__(error)
        self.outcome, self.error = outcome, error


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _log_tail(path: str, n: int = 8) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    lines = [ln for ln in lines if ln.strip()]
    return "\n".join(lines[-n:])


class Runner:
    """State shared by the evaluations of one Evaluator (or one evaluate call)."""

    def __init__(self, reference_cache=None, server: ForkServer | None = None,
                 build_cache: str | None = None, max_jobs: int | None = None,
                 concurrent_checks: int = 1, build_slots: int | None = None):
        self.reference_cache = reference_cache
        self._server = server
        self.root = tempfile.mkdtemp(prefix="sgs-eval-")
        self.build_cache = build_cache or os.environ.get("SGS_BUILD_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sgs", "builds")
        self.max_jobs = max_jobs or max(1, min(8, environment.usable_cores()))
        self.concurrent_checks = max(1, int(concurrent_checks))
        # Candidates compiling at once (None: no limit); a slot is held from
        # before the reference starts until the candidate has built.
        self.build_slots = threading.BoundedSemaphore(build_slots) if build_slots else None
        self._refs: dict[str, ReferenceData] = {}
        self._ref_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.own_pids: set[int] = set()
        # Every child ever started: a child that just exited can still be listed
        # by NVML while its context is torn down, and must not count as another
        # user of the GPU.
        self.spawned_pids: collections.deque = collections.deque(maxlen=4096)
        self._gpu_load: dict[int, int] = {}
        self.versions = environment.torch_versions()
        self.exec_children = False

    # --- plumbing --------------------------------------------------------
    def server(self) -> ForkServer:
        if self._server is not None:
            if not self._server.alive():
                self._server = ForkServer(environment.scrubbed_env())
            return self._server
        return shared_server(environment.scrubbed_env)

    def close(self) -> None:
        with self._lock:
            refs = list(self._refs.values())
        for ref in refs:
            self._drop_timer(ref)
        shutil.rmtree(self.root, ignore_errors=True)

    def _drop_timer(self, ref: ReferenceData) -> None:
        timer, ref.timer = ref.timer, None
        if timer is not None:
            timer.dead = True
            self._reap(timer.pid, timer.sock)

    def _trim_timers(self) -> None:
        """Keep at most MAX_IDLE_TIMERS live reference children that no
        evaluation is using (each holds a CUDA context and input sets)."""
        with self._lock:
            idle = [r for r in self._refs.values() if r.timer is not None and r.users == 0]
        for ref in idle[: max(0, len(idle) - MAX_IDLE_TIMERS)]:
            self._drop_timer(ref)

    def resolve_device(self, req: dict) -> str | None:
        """cpu, cuda:N, or None when a GPU is needed but there is none."""
        dev, kind = req["device"], req["kind"]
        gpus = environment.cuda_devices()
        if dev == "cpu":
            return None if kind != "torch" else "cpu"
        if not gpus:
            return "cpu" if (dev == "auto" and kind == "torch") else None
        if dev == "auto" or dev == "cuda":
            if dev == "cuda" and len(gpus) == 1:
                return "cuda:0"
            with self._lock:                          # least busy GPU
                idx = min(range(len(gpus)), key=lambda i: self._gpu_load.get(i, 0))
            return f"cuda:{idx}"
        idx = environment.cuda_index(dev)
        return f"cuda:{idx}" if idx < len(gpus) else None

    @contextlib.contextmanager
    def _on_device(self, req: dict):
        """Resolves the request's device and counts the evaluation against
        that GPU until it ends; choosing and counting under one lock spreads
        evaluations submitted at once over the GPUs."""
        device = self.resolve_device(req)
        idx = None
        if device is not None and device.startswith("cuda"):
            n_gpus = len(environment.cuda_devices())
            with self._lock:
                if req["device"] in ("auto", "cuda") and n_gpus > 1:
                    idx = min(range(n_gpus), key=lambda i: self._gpu_load.get(i, 0))
                    device = f"cuda:{idx}"
                else:
                    idx = environment.cuda_index(device)
                self._gpu_load[idx] = self._gpu_load.get(idx, 0) + 1
        try:
            yield device
        finally:
            if idx is not None:
                with self._lock:
                    self._gpu_load[idx] -= 1

    def _device_info(self, device: str) -> dict:
        if device.startswith("cuda"):
            devs = environment.cuda_devices()
            return devs[environment.cuda_index(device)]
        return {}

    # --- one child -------------------------------------------------------
    def _spawn(self, tmpdir: str, exec_child: bool | None = None):
        log = os.path.join(tmpdir, "log.txt")
        if exec_child is None:
            exec_child = self.exec_children
        pid, sock = self.server().spawn(log, exec_child)
        with self._lock:
            self.own_pids.add(pid)
            self.spawned_pids.append(pid)
        quiet.register(pid)
        return pid, sock, log

    def _reap(self, pid: int, sock) -> None:
        quiet.unregister(pid)
        self.server().kill(pid)
        try:
            sock.close()
        except OSError:
            pass
        with self._lock:
            self.own_pids.discard(pid)

    def _config(self, role: str, req: dict, device: str, tmpdir: str, ext_dir: str, seeds: dict,
                num_threads: int, poison_sizes=()) -> dict:
        info = self._device_info(device)
        arch = None
        if info:
            arch = "{}.{}".format(*info["capability"])
        writable = [tmpdir, ext_dir, "/dev"]
        return {"role": role, "request": req, "device": device, "tmpdir": tmpdir, "ext_dir": ext_dir,
                "layers": self.layers(device) if role != "probe" else None,
                "writable": writable, "seeds": seeds, "num_threads": num_threads,
                "check_threads": self.check_threads(num_threads),
                "init_seed": derive_seed(req["seed"], "init"), "arch": arch,
                "l2_bytes": info.get("l2_bytes") or 0, "tf32": bool(req.get("tf32")),
                "max_jobs": self.max_jobs, "poison_sizes": list(poison_sizes),
                # Timing input sets of one evaluation: its share of the GPU, since
                # reference timers stay alive beside the other evaluations.
                "timing_bytes": int(0.4 * (info.get("total_memory") or 0) / self.concurrent_checks) or None,
                "time": bool(req.get("time", True)), "light_headers": bool(req.get("light_headers", True)),
                "reserved_cpus": self._reserved_cpus(device)}

    def check_threads(self, num_threads: int) -> int:
        """Torch threads of a child outside its timing: the cores shared out
        among the checks that may run at once. More would oversubscribe the
        cores, and OpenMP threads spin-waiting for a core slow every check."""
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        return max(1, min(num_threads, cores // self.concurrent_checks))

    @staticmethod
    def _reserved_cpus(device: str) -> list[int]:
        """One core per GPU (with its SMT siblings) kept free of compiles
        for that GPU's timings."""
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

    # --- sandbox layers ------------------------------------------------
    def layers(self, device: str) -> dict:
        """The most confining sandbox layers under which CUDA starts on this
        machine (probed once per device and process); all layers on CPU."""
        if not device.startswith("cuda"):
            return dict(sandbox.FULL)
        with _LAYERS_LOCK:
            if device not in _LAYERS:
                report = self._probe_layers(device, exec_child=False)
                if len(report["refused"]) == len(sandbox.LAYER_SETS):
                    # CUDA does not start in a forked copy of the server here:
                    # children start fresh interpreters instead.
                    report = self._probe_layers(device, exec_child=True)
                    report["exec_children"] = True
                _LAYERS[device] = report
            self.exec_children = bool(_LAYERS[device].get("exec_children"))
            return dict(_LAYERS[device]["layers"])

    def _probe_layers(self, device: str, exec_child: bool = False) -> dict:
        results: list = [None] * len(sandbox.LAYER_SETS)

        def probe(i: int) -> None:
            tmpdir = tempfile.mkdtemp(prefix="probe-", dir=self.root)
            req = {"reference_src": "", "candidate_src": "", "seed": 0, "timing_trials": 1, "warmup": 0,
                   "timing_budget_s": 0}
            cfg = self._config("probe", req, device, tmpdir, tmpdir,
                               {"correct": [], "robust": [], "timing": []}, 1)
            cfg["layers"] = sandbox.LAYER_SETS[i]
            cfg["init_seed"] = 0
            pid, sock, log = self._spawn(tmpdir, exec_child)
            try:
                protocol.send(sock, cfg)
                deadline = time.monotonic() + 120
                while True:
                    h, plen = protocol.recv(sock, deadline)
                    if h.get("type") == "probe_ok":
                        results[i] = None
                        return
                    if h.get("type") in ("error", "exit"):
                        results[i] = str(h.get("error") or h)[:300]
                        return
            except Exception as e:  # noqa: BLE001 - any failure means: not this layer set
                results[i] = f"{type(e).__name__}: {e}"[:300]
            finally:
                self._reap(pid, sock)
                shutil.rmtree(tmpdir, ignore_errors=True)

        threads = [threading.Thread(target=probe, args=(i,)) for i in range(len(sandbox.LAYER_SETS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, err in enumerate(results):
            if err is None:
                return {"layers": sandbox.LAYER_SETS[i], "refused": [
                    {"layers": sandbox.LAYER_SETS[j], "error": results[j]} for j in range(i)]}
        return {"layers": sandbox.LAYER_SETS[-1], "refused": [
            {"layers": sandbox.LAYER_SETS[j], "error": results[j]} for j in range(len(results))]}

    def probe_details(self) -> dict:
        """What the probe found on this machine (for notes and benchmarks)."""
        return {d: r for d, r in _LAYERS.items()}

    # --- timing grants ---------------------------------------------------
    def _contention_probe(self, device: str, child_pid: int):
        """A snapshot for `_contended`: GPU compute PIDs, or CPU busy time."""
        if device.startswith("cuda"):
            return environment.gpu_compute_pids(environment.cuda_index(device))
        return _cpu_snapshot(child_pid)

    def _contended(self, device: str, before, after) -> bool:
        if before is None or after is None:
            return False
        if device.startswith("cuda"):
            with self._lock:
                own = set(self.own_pids) | set(self.spawned_pids) | {os.getpid()}
            return bool((set(before) | set(after)) - own)
        # CPU: busy time of everything but the timing child and this process,
        # averaged over the timing; more than half a core means other work ran.
        elapsed = after[0] - before[0]
        if elapsed < 0.2:
            return False
        others = (after[1] - before[1]) - (after[2] - before[2]) - (after[3] - before[3])
        return others / elapsed > 0.5

    # --- reference -------------------------------------------------------
    def reference(self, req: dict, device: str, num_threads: int, timing_slot) -> ReferenceData:
        ident = json.dumps([src_hash(req["reference_src"]), device, req["seed"], req["correctness_trials"],
                            req["robust_trials"], req["mode"], bool(req.get("tf32")), num_threads,
                            req["timing_trials"], req["warmup"], bool(req.get("time", True))])
        with self._lock:
            lock = self._ref_locks.setdefault(ident, threading.Lock())
        with lock:
            ref = self._refs.get(ident)
            if ref is None or ref.error:
                ref = self._run_reference(req, device, num_threads, timing_slot)
                evicted = None
                with self._lock:
                    if len(self._refs) > 64:               # bounded: outputs can be large
                        evicted = self._refs.pop(next(iter(self._refs)))
                    self._refs[ident] = ref
                if evicted is not None and evicted.users == 0:
                    self._drop_timer(evicted)
            with self._lock:
                ref.users += 1
            return ref

    def release_reference(self, ref: ReferenceData) -> None:
        with self._lock:
            ref.users -= 1
            orphan = ref.users == 0 and not any(r is ref for r in self._refs.values())
        if orphan:                                  # evicted while in use: nobody can reach its timer
            self._drop_timer(ref)
        self._trim_timers()

    def _seeds(self, req: dict, device: str) -> dict:
        base = req["seed"]
        n_sets = MAX_TIMING_SETS_GPU if device.startswith("cuda") else 2
        return {"correct": [derive_seed(base, "correct", i) for i in range(req["correctness_trials"])],
                "robust": [(derive_seed(base, "robust", j), "signed" if j % 2 == 0 else "rescaled")
                           for j in range(int(req["robust_trials"]))],
                "timing": [derive_seed(base, "timing", k) for k in range(n_sets)]}

    def _run_reference(self, req: dict, device: str, num_threads: int, timing_slot,
                       timing_only: ReferenceData | None = None) -> ReferenceData:
        """The reference child: outputs of every input set, the launched
        kernels, and (on a cache miss) its timing. It is then kept alive as
        a timer for the candidates' paired timings (`ref.timer`).
        timing_only: start a child only to serve as the timer of that
        reference (the first one was dropped)."""
        ref = ReferenceData()
        tmpdir = tempfile.mkdtemp(prefix="ref-", dir=self.root)
        seeds = self._seeds(req, device)
        if timing_only is not None:
            seeds["timing"] = seeds["timing"][: timing_only.timing_sets]
        cfg = self._config("reference", req, device, tmpdir, os.path.join(tmpdir, "ext"), seeds, num_threads)
        cfg["timing_only"] = timing_only is not None
        os.makedirs(cfg["ext_dir"], exist_ok=True)
        pid, sock, log = self._spawn(tmpdir)
        t_spawn = time.monotonic()
        hardware = environment.hardware_label(device, num_threads)
        deadline = time.monotonic() + max(req["timeout_s"], 120.0)
        held = None
        keep = False
        try:
            protocol.send(sock, cfg)
            while True:
                h, plen = _recv_header(sock, deadline, t_spawn)
                t = h.get("type")
                if t == "want" and h["phase"] == "correctness":
                    held = device_lock(device)
                    held.acquire_shared()
                    protocol.send(sock, {"type": "go"})
                elif t == "outputs":
                    payload = protocol.recv_payload(sock, plen, deadline + quiet.paused_since(t_spawn))
                    self._reference_outputs(ref, h, payload)
                    protocol.send(sock, {"type": "ok"})
                elif t == "robust_error":
                    pass
                elif t == "kernels":
                    ref.kernels = h.get("names")
                elif t == "done" and h["phase"] == "correctness":
                    held.release_shared()
                    held = None
                    if timing_only is not None:
                        continue
                    ref.input_spec = h.get("input_spec")
                    ref.input_bytes = h.get("input_bytes", 0)
                    ref.timing_sets = h.get("timing_sets", 2)
                    ref.hardware, ref.method = hardware, measure.timing_method(device.startswith("cuda"))
                    ref.key = reference_key(
                        reference_hash=src_hash(req["reference_src"]), input_spec=ref.input_spec,
                        # The host CPU too: launch-bound references time at its pace.
                        hardware=hardware if device == "cpu" else f"{hardware}; host {environment.cpu_model()}",
                        torch_version=self.versions["torch"],
                        cuda_version=self.versions["cuda"], method=ref.method, mode=req["mode"],
                        tf32=bool(req.get("tf32")), num_threads=num_threads if device == "cpu" else None)
                    cached = self.reference_cache.get(ref.key) if self.reference_cache is not None else None
                    if cached and cached.get("ms"):
                        ref.timing, ref.timing_cached = cached, True
                elif t == "want" and h["phase"] == "timing":
                    protocol.send(sock, {"type": "go" if req.get("time", True) else "skip"})
                elif t == "timer_ready":
                    timer = _ReferenceTimer(pid, sock, log)
                    if timing_only is None and req.get("reference_timing") == "cached":
                        # Paired timings fill the cache from their reference side instead.
                        self._time_reference(ref, timer, req, device, timing_slot)
                    ref.timer, keep = timer, True
                    break
                elif t == "bye":
                    break
                elif t == "error":
                    ref.error = h.get("error") or "reference failed"
                    break
                elif t == "exit":
                    ref.error = ("reference: crashed with " + _signal_name(h["signal"]) if h.get("signal")
                                 else f"reference: exited with code {h.get('code')}") + _tail_suffix(log)
                    break
                elif plen:
                    protocol.recv_payload(sock, plen, deadline + quiet.paused_since(t_spawn))
        except TimeoutError:
            ref.error = "reference: timed out"
        except _ChildError as e:
            ref.error = e.error
        except measure.TimingFailed as e:
            ref.error = "reference: timing failed: " + str(e)[:300]
        except (protocol.ProtocolError, OSError) as e:
            ref.error = f"reference: lost contact ({e})" + _tail_suffix(log)
        finally:
            if held is not None:
                held.release_shared()
            if not keep or ref.error:
                ref.timer = None
                self._reap(pid, sock)
                shutil.rmtree(tmpdir, ignore_errors=True)
        if ref.error and not ref.error.startswith("reference"):
            ref.error = "reference: " + ref.error
        return ref

    @staticmethod
    def _reference_outputs(ref: ReferenceData, h: dict, payload) -> None:
        tensors = verdict.to_tensors(h["tensors"], payload)
        key = (h["tag"], h["index"])
        ref.outputs[key] = (h["tensors"], tensors)
        ref.inputs_before[key] = h["inputs_before"]
        if h["inputs_before"] != h["inputs_after"]:
            ref.mutates_inputs = True
        if h["tag"] == "robust" and all(
                (not x.is_floating_point()) or bool(x.isfinite().all()) for x in tensors):
            ref.robust_ok.add(h["index"])
        if h["tag"] == "robust":
            ref.robust_scale[h["index"]] = float(h.get("input_scale") or 1.0)

    def _time_reference(self, ref: ReferenceData, timer: _ReferenceTimer, req: dict, device: str,
                        timing_slot) -> None:
        """Times the reference alone for the cache (on a miss, or when the
        cached timing is older than REFERENCE_RETIME_S: drift recorded)."""
        if not _needs_timing(ref):
            return
        limit = req["timeout_s"] + float(req["timing_budget_s"])
        with self._timing_grant(device, timing_slot), quiet.timing(timer.pid):
            t0 = time.monotonic()
            (side,) = measure.run([timer.sock], req, lambda: t0 + limit, device.startswith("cuda"), end=False)
        self._store_reference_timing(ref, side)

    def _store_reference_timing(self, ref: ReferenceData, side: dict) -> None:
        """A fresh timing of the reference (alone, or the reference side of a
        paired timing) becomes the cached one; against a stale cached one
        the drift is recorded."""
        old = ref.timing if ref.timing_cached else None
        ref.timing = {"ms": side["ms"], "host_ms": side["host_ms"], "enqueue_ms": side.get("enqueue_ms") or [],
                      "method": ref.method, "timed_at": time.time(), "hardware": ref.hardware}
        ref.timing_cached = False
        if old:
            ref.drift = verdict.stats(side["ms"])["median"] / verdict.stats(old["ms"])["median"] - 1
            ref.timing["drift_vs_previous"] = ref.drift
        if self.reference_cache is not None:
            self.reference_cache.put(ref.key, ref.timing)

    def _reference_timer(self, ref: ReferenceData, req: dict, device: str, num_threads: int,
                         timing_slot) -> _ReferenceTimer | None:
        """The reference's live timer, started again if it was dropped."""
        timer = ref.timer
        if timer is not None and not timer.dead:
            return timer
        fresh = self._run_reference(req, device, num_threads, timing_slot, timing_only=ref)
        if fresh.error or fresh.timer is None:
            return None
        stale = None
        with self._lock:
            if ref.timer is None or ref.timer.dead:
                stale = ref.timer
                ref.timer, fresh.timer = fresh.timer, None
        if stale is not None:                       # a timer that failed: its process goes too
            self._reap(stale.pid, stale.sock)
        if fresh.timer is not None:                 # another evaluation started one meanwhile
            self._drop_timer(fresh)
        return ref.timer

    @contextlib.contextmanager
    def _timing_grant(self, device: str, timing_slot):
        external = None
        if timing_slot is not None and not getattr(timing_slot, "_sgs_internal", False):
            external = timing_slot(device) if (callable(timing_slot) and not hasattr(timing_slot, "__enter__")) \
                else timing_slot
        with contextlib.ExitStack() as stack:
            if external is not None:
                stack.enter_context(external)
            stack.enter_context(device_lock(device).exclusive())
            yield

    # --- candidate -------------------------------------------------------
    def evaluate(self, request: dict, timing_slot=None) -> dict:
        req = normalize(request)
        t_start = time.monotonic()
        result = _blank_result(req, self.versions)
        static = static_checks.check(req["candidate_src"], req["kind"], req["reference_src"])
        result["flags"] = list(static["flags"])
        result["kernels_defined"] = static["kernels"]
        result["builds"] = static["builds"]
        if static["syntax_error"]:
            return _finish(result, "compile_error", static["syntax_error"])
        with self._on_device(req) as device:
            if device is None:
                result["device"] = req["device"]
                result["hardware"] = "no gpu"
                return _finish(result, "skipped", "no GPU")
            num_threads = int(req.get("num_threads") or environment.default_threads())
            result["device"] = device
            result["hardware"] = environment.hardware_label(device, num_threads)
            result["num_threads"] = num_threads if device == "cpu" else None
            result["tf32"] = "on" if req.get("tf32") else "off"
            if device.startswith("cuda"):
                self.layers(device)
                refused = (_LAYERS.get(device) or {}).get("refused") or []
                # Sandbox layers this machine's GPU driver would not start under.
                result["sandbox_refused"] = [{k: v for k, v in r["layers"].items() if v} for r in refused]
            if static["reject"]:
                result["flags"].append("rejected")
                return _finish(result, "incorrect", "rejected: " + static["reject"])
            slot = _BuildSlot(self.build_slots if result.get("builds") else None)
            t_wait = time.monotonic()
            slot.acquire()
            if slot.held:
                result["phases"]["build_slot_wait_s"] = round(time.monotonic() - t_wait, 3)
            box: dict = {}

            def run_reference():
                box["ref"] = self.reference(req, device, num_threads, timing_slot)

            worker = threading.Thread(target=run_reference, name="sgs-reference", daemon=True)
            worker.start()

            def wait_reference() -> ReferenceData:
                worker.join()
                return box.get("ref") or ReferenceData(error="reference: evaluator error")

            try:
                self._candidate(req, device, num_threads, wait_reference, result, timing_slot, slot)
            finally:
                slot.release()
                worker.join()
                if "ref" in box:
                    self.release_reference(box["ref"])
        result["phases"]["total_s"] = round(time.monotonic() - t_start, 3)
        return result

    def _ext_dir(self, req: dict, device: str, tmpdir: str, builds: bool) -> str:
        """The candidate's extensions folder: an entry of the content-addressed
        build cache when it builds anything (the same source, torch, CUDA and
        arch reuse one build), else a private folder."""
        if not builds:
            return os.path.join(tmpdir, "ext")
        info = self._device_info(device)
        key = hashlib.sha256(json.dumps([req["candidate_src"], req["kind"], self.versions,
                                         info.get("capability")]).encode()).hexdigest()[:24]
        return os.path.join(self.build_cache, key)

    def _candidate(self, req, device, num_threads, wait_reference, result: dict, timing_slot,
                   build_slot: "_BuildSlot | None" = None) -> None:
        """The candidate's child starts (and compiles) while the reference
        is still being run: `wait_reference()` gives the ReferenceData once
        the candidate asks for its checks."""
        tmpdir = tempfile.mkdtemp(prefix="cand-", dir=self.root)
        ext_dir = self._ext_dir(req, device, tmpdir, bool(result.get("builds")))
        os.makedirs(ext_dir, exist_ok=True)
        seeds = self._seeds(req, device)
        cfg = self._config("candidate", req, device, tmpdir, ext_dir, seeds, num_threads)
        ref = None
        pid, sock, log = self._spawn(tmpdir)
        phases = result["phases"]
        deadline = time.monotonic() + 60.0
        phase, phase_t0 = "start", time.monotonic()
        held_shared = None
        grant = None
        outcome, error = None, None
        correct_trials = 0
        robust: list[bool] = []
        max_diff = 0.0
        cand_times = ref_times = timer = None
        try:
            protocol.send(sock, cfg)
            while outcome is None:
                h, plen = _recv_header(sock, deadline, phase_t0)
                t = h.get("type")
                if t == "hello":
                    result["sandbox"] = h.get("sandbox")
                elif t == "phase" and h["phase"] == "compile":
                    phase, phase_t0 = "compile", time.monotonic()
                    deadline = phase_t0 + req["compile_timeout_s"]
                elif t == "phase" and h["phase"] == "compiled":
                    if build_slot is not None:
                        build_slot.release()        # the next candidate may compile
                    phases["compile_s"] = round(time.monotonic() - phase_t0, 3)
                    if h.get("build_headers"):
                        result["build_headers"] = h["build_headers"]
                    phase, phase_t0 = "correctness", time.monotonic()
                    deadline = phase_t0 + req["timeout_s"]
                    if h.get("patched"):
                        outcome, error = "incorrect", "rejected: candidate replaced " + ", ".join(h["patched"])
                        result["flags"].append("monkeypatch")
                elif t == "want" and h["phase"] == "correctness":
                    ref = wait_reference()
                    if ref.error:
                        result["flags"].append("reference_failed")
                        outcome, error = "runtime_error", ref.error
                        break
                    held_shared = device_lock(device)
                    held_shared.acquire_shared()
                    # What the reference decided: as many timing sets as it
                    # has outputs for; the sizes of freed memory to poison.
                    poison = sorted({m["nbytes"] for metas, _ in ref.outputs.values() for m in metas})[-4:]
                    protocol.send(sock, {"type": "go", "timing_seeds": seeds["timing"][: ref.timing_sets],
                                         "poison_sizes": poison})
                    phase, phase_t0 = "correctness", time.monotonic()
                    deadline = phase_t0 + req["timeout_s"]
                elif t == "outputs":
                    key = (h["tag"] if h["tag"] != "after_timing" else "timing", h["index"])
                    metas_ref, tensors_ref = ref.outputs.get(key, (None, None))
                    if h.get("patched"):
                        outcome, error = "incorrect", "rejected: candidate replaced " + ", ".join(h["patched"])
                        result["flags"].append("monkeypatch")
                        break
                    if metas_ref is None:
                        raise protocol.ProtocolError(f"unexpected outputs {key}")
                    reason = verdict.check_metas(h["tensors"], metas_ref, device)
                    if reason is not None:
                        if h["tag"] == "robust":
                            robust.append(False)
                            protocol.recv_payload(sock, plen, deadline + quiet.paused_since(phase_t0))
                            protocol.send(sock, {"type": "ok"})
                            continue
                        outcome, error = "incorrect", reason
                        break
                    payload = protocol.recv_payload(sock, plen, deadline + quiet.paused_since(phase_t0))
                    if h["tag"] == "after_timing" and ref.mutates_inputs:
                        # The timed calls changed the inputs as the reference does:
                        # nothing to compare them with.
                        protocol.send(sock, {"type": "ok"})
                        continue
                    tensors = verdict.to_tensors(h["tensors"], payload)
                    # Rescaled inputs scale the rounding error of any correct
                    # rewrite too: absolute tolerance grows with the factor (taken
                    # from the trusted reference), relative tolerance stays.
                    scale = ref.robust_scale.get(h["index"], 1.0) if h["tag"] == "robust" else 1.0
                    ok, diff, reason = verdict.compare(tensors, tensors_ref, req["atol"], req["rtol"],
                                                       atol_scale=scale)
                    if h["tag"] == "robust":
                        if h["index"] in ref.robust_ok:
                            robust.append(ok)
                        protocol.send(sock, {"type": "ok"})
                        continue
                    max_diff = max(max_diff, diff)
                    if h["tag"] == "correct":
                        if h["inputs_before"] != ref.inputs_before.get(key):
                            result["flags"].append("inputs_differ_from_reference")
                        if h["inputs_after"] != h["inputs_before"] and not ref.mutates_inputs:
                            if "inputs_mutated" not in result["flags"]:
                                result["flags"].append("inputs_mutated")
                            outcome, error = "incorrect", "candidate modified its inputs"
                            break
                    if not ok:
                        if h["tag"] == "after_timing":
                            reason = "after timed calls: " + reason
                            result["flags"].append("wrong_after_timing")
                        outcome, error = "incorrect", reason
                        break
                    if h["tag"] == "correct":
                        correct_trials += 1
                    protocol.send(sock, {"type": "ok"})
                elif t == "robust_error":
                    robust.append(False)
                elif t == "kernels":
                    self._kernel_flags(req, result, h.get("names"), ref.kernels)
                elif t == "done" and h["phase"] == "correctness":
                    held_shared.release_shared()
                    held_shared = None
                    phases["correctness_s"] = round(time.monotonic() - phase_t0, 3)
                elif t == "want" and h["phase"] == "timing":
                    phase, phase_t0 = "timing", time.monotonic()
                    # Before the exclusive hold: starting a timer again needs a shared one.
                    timer = self._reference_timer(ref, req, device, num_threads, timing_slot) \
                        if req.get("time", True) and req["reference_timing"] == "paired" else None
                    if not req.get("time", True) or (ref.timing is None and timer is None):
                        protocol.send(sock, {"type": "skip"})
                        continue
                    grant = self._timing_grant(device, timing_slot)
                    grant.__enter__()
                    protocol.send(sock, {"type": "go"})
                    deadline = time.monotonic() + req["timeout_s"] + float(req["timing_budget_s"])
                elif t == "timer_ready":
                    limit = req["timeout_s"] + float(req["timing_budget_s"])
                    cand_times, ref_times = self._measure_candidate(sock, pid, timer, req, device, limit, result)
                    # The device is free again: the timed calls' outputs are
                    # checked without holding up other timings.
                    grant.__exit__(None, None, None)
                    grant = None
                    phases["timing_s"] = round(time.monotonic() - phase_t0, 3)
                    if ref_times is not None and _needs_timing(ref):
                        self._store_reference_timing(ref, ref_times)
                    if cand_times.get("patched"):
                        outcome, error = "incorrect", "rejected: candidate replaced " + ", ".join(cand_times["patched"])
                        result["flags"].append("monkeypatch")
                        break
                elif t == "bye":
                    outcome = "correct"
                elif t == "error":
                    outcome = h.get("outcome") if h.get("outcome") in _CHILD_OUTCOMES else "runtime_error"
                    error = str(h.get("error") or outcome)[:800]
                    if outcome == "crashed":
                        error += _tail_suffix(log, 3)
                    elif outcome == "compile_error":
                        error = _with_compiler_errors(error, log)
                elif t == "exit":
                    if h.get("signal"):
                        outcome = "crashed"
                        error = f"crashed: killed by {_signal_name(h['signal'])}" + _tail_suffix(log, 4)
                    else:
                        outcome = "runtime_error"
                        error = f"exited with code {h.get('code')} during {phase}" + _tail_suffix(log, 4)
                elif plen:
                    protocol.recv_payload(sock, plen, deadline + quiet.paused_since(phase_t0))
        except TimeoutError:
            limit = req["compile_timeout_s"] if phase == "compile" else req["timeout_s"]
            outcome, error = "timeout", f"timed out after {limit:g}s during {phase}"
        except _ChildError as e:
            outcome, error = e.outcome, e.error + (_tail_suffix(log, 3) if e.outcome == "crashed" else "")
        except (protocol.ProtocolError, OSError, ValueError, KeyError, TypeError) as e:
            outcome, error = "crashed", f"lost contact with the candidate during {phase}: {e}" + _tail_suffix(log, 4)
        finally:
            if held_shared is not None:
                held_shared.release_shared()
            if grant is not None:
                grant.__exit__(None, None, None)
            self._reap(pid, sock)
            shutil.rmtree(tmpdir, ignore_errors=True)
        result["correct_trials"] = correct_trials
        result["trials"] = req["correctness_trials"]
        if ref is None or ref.error:                # failed before its checks began
            _finish(result, outcome, error)
            return
        result["max_abs_diff"] = max_diff if correct_trials or outcome == "incorrect" else None
        result["robust"] = (all(robust) if robust else None)
        if result["robust"] is False:
            result["flags"].append("not_robust")
        if ref.mutates_inputs:
            result["flags"].append("reference_mutates_inputs")
        if any(verdict.zero_would_pass(tensors, req["atol"], req["rtol"])
               for (tag, _), (_, tensors) in ref.outputs.items() if tag == "correct"):
            result["flags"].append("reference_output_tiny")
        if outcome == "correct" and cand_times is not None and ref.timing is not None:
            self._speedup(result, cand_times, ref_times or ref.timing, device)
            result["reference_timing"] = "paired" if ref_times else "cached"
            result["reference_cached_ms"] = verdict.stats(ref.timing["ms"])
        result["reference_cached"] = bool(ref.timing_cached)
        if ref.drift is not None:
            result["reference_drift"] = ref.drift
        _finish(result, outcome, error)

    def _measure_candidate(self, sock, pid: int, timer: _ReferenceTimer | None, req: dict, device: str, limit: float,
                           result: dict) -> tuple[dict, dict | None]:
        """Times the candidate (its child has sent timer_ready), paired with
        the reference's live timer when there is one: their blocks alternate
        in one window (every other child paused too with quiet timings on). Returns the
        candidate's times and the reference's (None: the cached timing
        applies)."""
        is_cuda = device.startswith("cuda")
        before = self._contention_probe(device, pid)
        t0 = time.monotonic()
        ref_times = None
        if timer is not None:
            with timer.lock, quiet.timing([timer.pid, pid]):
                result["timing_paused_processes"] = quiet.stopped_count()
                try:
                    # The candidate first: its warm-up also wakes the GPU for a
                    # reused timer, which warmed up when it was first used.
                    cand_side, ref_side = measure.run([sock, timer.sock], req, lambda: t0 + limit, is_cuda,
                                                      end=[True, False])
                    ref_times = {"ms": ref_side["ms"], "host_ms": ref_side["host_ms"],
                                 "enqueue_ms": ref_side["enqueue_ms"]}
                except measure.TimingFailed as e:
                    if e.side == 0:
                        raise _ChildError(*_child_failure(e.header))
                    timer.dead = True
                    cand_side = None
                except OSError:
                    timer.dead = True
                    cand_side = None
            if timer.dead:
                result["flags"].append("reference_timer_lost")
        if ref_times is None:
            with quiet.timing(pid):
                result["timing_paused_processes"] = quiet.stopped_count()
                try:
                    (cand_side,) = measure.run([sock], req, lambda: t0 + limit, is_cuda)
                except measure.TimingFailed as e:
                    raise _ChildError(*_child_failure(e.header))
        if self._contended(device, before, self._contention_probe(device, pid)):
            result["flags"].append("contended")
        cand = {"ms": cand_side["ms"], "host_ms": cand_side["host_ms"], "enqueue_ms": cand_side["enqueue_ms"],
                "patched": cand_side["patched"], "method": measure.timing_method(is_cuda)}
        return cand, ref_times

    @staticmethod
    def _kernel_flags(req: dict, result: dict, names, ref_names) -> None:
        if names is None:
            result["flags"].append("profiler_unavailable")
            return
        result["kernels_launched"] = names[:20]
        if req["kind"] not in ("cuda", "triton"):
            return
        defined = result.get("kernels_defined") or []
        ran = [d for d in defined if any(d in n for n in names)]
        if defined and not ran:
            result["flags"].append("custom_kernel_not_launched")
        if not ran and ref_names is not None and set(names) <= set(ref_names):
            # A "kernel" candidate that launches only what the reference launches.
            result["flags"].append("reference_equivalent")

    def _speedup(self, result: dict, cand: dict, ref_timing: dict, device: str) -> None:
        c_ms, r_ms = cand["ms"], ref_timing["ms"]
        result["timing_method"] = cand["method"]
        c_ev, c_host = verdict.stats(c_ms), verdict.stats(cand["host_ms"])
        if device.startswith("cuda"):
            # Work left on other streams escapes the events but not a device-wide
            # synchronize: a large gap means the event time is not the cost.
            gap = c_host["median"] - c_ev["median"]
            result["event_host_gap_ms"] = gap
            if gap > 0.05 and c_host["median"] > 1.5 * c_ev["median"]:
                result["flags"].append("event_host_gap")
                c_ms, r_ms = cand["host_ms"], ref_timing.get("host_ms") or r_ms
                result["timing_method"] += " (host time used)"
            # One side paced by the host's launches, the other by the GPU: the
            # speedup moves with the host's speed, which pairing cannot hold.
            cand_hb = verdict.host_bound(cand["ms"], cand.get("enqueue_ms") or [])
            ref_hb = verdict.host_bound(ref_timing["ms"], ref_timing.get("enqueue_ms") or [])
            if cand_hb:
                result["flags"].append("host_bound_candidate")
            if ref_hb:
                result["flags"].append("host_bound_reference")
            if cand_hb is not None and ref_hb is not None and cand_hb != ref_hb:
                result["flags"].append("speedup_host_dependent")
        result["candidate_ms"] = verdict.stats(c_ms)
        result["reference_ms"] = verdict.stats(r_ms)
        cm, rm = result["candidate_ms"]["median"], result["reference_ms"]["median"]
        if cm > 0:
            result["speedup"] = rm / cm
            result["speedup_ci"] = verdict.speedup_ci(r_ms, c_ms, seed=len(c_ms))
            if result["speedup"] > 10:
                result["flags"].append("speedup_over_10x")


class _BuildSlot:
    """One of the Runner's build slots (or none), released at most once: when
    the candidate has compiled, or when its evaluation ends first."""

    def __init__(self, slots: threading.BoundedSemaphore | None):
        self._slots = slots
        self.held = False

    def acquire(self) -> None:
        if self._slots is not None:
            self._slots.acquire()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


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


def _needs_timing(ref: ReferenceData) -> bool:
    """No timing yet, or a cached one older than REFERENCE_RETIME_S."""
    if ref.timing is None:
        return True
    return ref.timing_cached and time.time() - float(ref.timing.get("timed_at", 0)) > REFERENCE_RETIME_S


def _recv_header(sock, deadline: float, since: float):
    """protocol.recv_header with the deadline pushed back by the time
    children spent paused for other timings since `since` (quiet.py): a
    paused compile must not time out for it."""
    extended = 0.0
    while True:
        try:
            return protocol.recv_header(sock, deadline + extended)
        except TimeoutError:
            extra = quiet.paused_since(since)
            if extra <= extended + 1e-3:
                raise
            extended = extra


def _cpu_snapshot(child_pid: int):
    """(wall s, machine busy s, child cpu s, this process cpu s) or None."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0)) / tick
        with open(f"/proc/{child_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        child = (int(fields[11]) + int(fields[12])) / tick
        me = os.times()
        return (time.monotonic(), busy, child, me.user + me.system)
    except (OSError, ValueError, IndexError):
        return None


def harness_light_mark() -> str:
    return "sgs: the build with the light torch/extension.h failed"


_CHILD_OUTCOMES = {"compile_error", "runtime_error", "incorrect", "crashed"}


def _child_failure(h: dict) -> tuple[str, str]:
    """(outcome, error) of a child's error or exit message met while timing."""
    if h.get("type") == "error":
        outcome = h.get("outcome") if h.get("outcome") in _CHILD_OUTCOMES else "runtime_error"
        return outcome, str(h.get("error") or outcome)[:800]
    if h.get("type") == "exit" and h.get("signal"):
        return "crashed", f"crashed: killed by {_signal_name(h['signal'])} during timing"
    return "crashed", f"lost the candidate during timing: {str(h)[:200]}"


def _tail_suffix(log: str, n: int = 4) -> str:
    tail = _log_tail(log, n)
    return ("\n" + tail) if tail else ""


def _with_compiler_errors(error: str, log: str, n: int = 6) -> str:
    """Add the compiler's first error lines (printed to the log when the
    build ran verbosely) to a short build-failure message."""
    if error.count("\n") >= 2:
        return error
    try:
        with open(log, "rb") as f:
            text = f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return error
    # Errors of a light-header attempt say nothing about the source's own build.
    text = text.rsplit(harness_light_mark(), 1)[-1]
    lines = [ln.strip() for ln in text.splitlines()
             if ("error" in ln.lower() and not ln.lstrip().startswith(("File ", "Traceback", "raise ")))]
    lines = [ln for ln in lines if ln not in error][:n]
    return (error + "\n" + "\n".join(lines))[:1500] if lines else error


def _blank_result(req: dict, versions: dict) -> dict:
    return {"task_id": req["task_id"], "kind": req["kind"], "mode": req["mode"], "outcome": None,
            "error": None, "max_abs_diff": None, "correct_trials": 0, "trials": req["correctness_trials"],
            "candidate_ms": None, "reference_ms": None, "reference_cached": False, "speedup": None,
            "speedup_ci": None, "hardware": None, "device": None, "flags": [], "robust": None,
            "timing_method": None, "tf32": "on" if req.get("tf32") else "off",
            "phases": {"compile_s": None, "correctness_s": None, "timing_s": None},
            "versions": dict(versions), "seed": req["seed"], "sandbox": None}


def _finish(result: dict, outcome: str, error: str | None) -> dict:
    result["outcome"] = outcome
    result["error"] = None if outcome == "correct" else (error or outcome)
    if outcome != "correct":
        result["speedup"] = None
        result["speedup_ci"] = None
    result["flags"] = sorted(set(result["flags"]))
    return result
