"""Drives evaluation children from the evaluator process.

For one request: the task's trusted reference process (reference.py, one
per task, seed and device, shared by the task's candidates) and a fresh
child for the candidate (candidate.py) run side by side; the reference
checks the candidate's outputs and times beside it; the verdict is put
together here (outcome.py). Device choice and memory admission are in
devices.py, children's start and end in children.py.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

from .. import environment, sandbox, static_checks
from ..request import derive_seed, normalize
from . import outcome
from .candidate import Session
from .children import Children
from .devices import Devices, reserved_cpus
from .reference import References, ReferenceFailure

_LAYERS: dict[str, dict] = {}          # device -> probed sandbox layers (per process)
LAYERS_PROBE_VERSION = 2               # bump when what a probe checks changes
_LAYERS_LOCK = threading.Lock()


class EvaluationAborted(RuntimeError):
    """The evaluator was stopped (the run was interrupted) while this
    evaluation was under way: there is no verdict."""


class Runner:
    """State shared by the evaluations of one Evaluator (or one evaluate call)."""

    def __init__(self, reference_cache=None, server=None, build_cache: str | None = None,
                 max_jobs: int | None = None, concurrent_checks: int = 1, build_slots: int | None = None):
        self.reference_cache = reference_cache
        self.root = tempfile.mkdtemp(prefix="sgs-eval-")
        self.build_cache = build_cache or os.environ.get("SGS_BUILD_CACHE") or os.path.join(
            environment.cache_dir(), "builds")
        self.max_jobs = max_jobs or max(1, min(8, environment.usable_cores()))
        self.concurrent_checks = max(1, int(concurrent_checks))
        # Candidates compiling at once (None: no limit); a slot is held from
        # before the reference starts until the candidate has built.
        self.build_slots = threading.BoundedSemaphore(build_slots) if build_slots else None
        self.children = Children(server)
        self.references = References(self)
        self.devices = Devices(evict=self.references.evict)
        self.versions = environment.torch_versions()
        self.exec_children = False
        self.aborting = False
        self.reruns_alone = 0
        # The fork server and the device probe take seconds to start: begin
        # now, while the caller still prepares its first request.
        threading.Thread(target=self._warm_up, name="sgs-eval-warmup", daemon=True).start()

    def _warm_up(self) -> None:
        def quietly(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001 - the first evaluation will meet and report it
                pass
        probe = threading.Thread(target=quietly, args=(environment.cuda_devices,), daemon=True)
        probe.start()
        quietly(self.children.server)
        probe.join()

    # --- life ----------------------------------------------------------------
    def close(self) -> None:
        self.references.close_all()
        shutil.rmtree(self.root, ignore_errors=True)

    def abort(self) -> None:
        """Ends every evaluation under way: their children are killed, and
        each evaluate() call raises EvaluationAborted instead of a result."""
        self.aborting = True
        self.children.kill_all()

    # --- children's configuration ----------------------------------------------------
    def child_config(self, role: str, req: dict, device: str, tmpdir: str, ext_dir: str, num_threads: int) -> dict:
        info = self.devices.info(device)
        arch = "{}.{}".format(*info["capability"]) if info else None
        return {"role": role, "request": req, "device": device, "tmpdir": tmpdir, "ext_dir": ext_dir,
                "layers": self.layers(device) if role != "probe" else None,
                "writable": [tmpdir, ext_dir, "/dev"], "num_threads": num_threads,
                "check_threads": self.check_threads(num_threads),
                "init_seed": derive_seed(req["seed"], "init"), "arch": arch,
                "l2_bytes": info.get("l2_bytes") or 0, "tf32": bool(req.get("tf32")),
                "max_jobs": self.max_jobs, "time": bool(req.get("time", True)),
                "light_headers": bool(req.get("light_headers", True)),
                "reserved_cpus": reserved_cpus(device)}

    def check_threads(self, num_threads: int) -> int:
        """Torch threads of a child outside its timing: the cores shared out
        among the checks that may run at once. More would oversubscribe the
        cores, and OpenMP threads spin-waiting for a core slow every check."""
        cores = environment.usable_cores()
        return max(1, min(num_threads, cores // self.concurrent_checks))

    def timing_share(self, device: str) -> int | None:
        """Bytes a reference's timing sets may take: its share of the GPU,
        since reference processes stay alive beside other evaluations."""
        total = self.devices.state(device).budget.total
        return int(0.4 * total / self.concurrent_checks) or None

    def ipc_ok(self, device: str) -> bool:
        """Whether outputs can be shared over CUDA IPC on this device (probed)."""
        self.layers(device)
        return bool((_LAYERS.get(device) or {}).get("ipc"))

    # --- sandbox layers ---------------------------------------------------------------
    def layers(self, device: str) -> dict:
        """The most confining sandbox layers under which CUDA starts on this
        machine (probed once per device and process); all layers on CPU."""
        if not device.startswith("cuda"):
            return dict(sandbox.FULL)
        with _LAYERS_LOCK:
            if device not in _LAYERS:
                key = environment.machine_key("layers", device, sandbox.LAYER_SETS, LAYERS_PROBE_VERSION)
                report = environment.load_probe("layers", key)
                if not isinstance(report, dict) or "layers" not in report:
                    report = self._probe_layers(device, exec_child=False)
                    if len(report["refused"]) == len(sandbox.LAYER_SETS):
                        # CUDA does not start in a forked copy of the server here:
                        # children start fresh interpreters instead.
                        report = self._probe_layers(device, exec_child=True)
                        report["exec_children"] = True
                    environment.save_probe("layers", key, report)
                _LAYERS[device] = report
            self.exec_children = bool(_LAYERS[device].get("exec_children"))
            return dict(_LAYERS[device]["layers"])

    def _probe_layers(self, device: str, exec_child: bool = False) -> dict:
        from .. import protocol
        results: list = [None] * len(sandbox.LAYER_SETS)
        ipc: list = [None] * len(sandbox.LAYER_SETS)

        def probe(i: int) -> None:
            tmpdir = tempfile.mkdtemp(prefix="probe-", dir=self.root)
            req = {"reference_src": "", "candidate_src": "", "seed": 0, "timing_trials": 1, "warmup": 0,
                   "timing_budget_s": 0}
            cfg = self.child_config("probe", req, device, tmpdir, tmpdir, 1)
            cfg["layers"] = sandbox.LAYER_SETS[i]
            cfg["init_seed"] = 0
            pid, sock, log = self.children.spawn(tmpdir, exec_child)
            try:
                protocol.send(sock, cfg)
                deadline = time.monotonic() + 120
                while True:
                    h, _ = protocol.recv(sock, deadline)
                    if h.get("type") == "probe_ok":
                        results[i], ipc[i] = None, h.get("ipc")
                        return
                    if h.get("type") in ("error", "exit"):
                        results[i] = str(h.get("error") or h)[:300]
                        return
            except Exception as e:  # noqa: BLE001 - any failure means: not this layer set
                results[i] = f"{type(e).__name__}: {e}"[:300]
            finally:
                self.children.reap(pid, sock)
                shutil.rmtree(tmpdir, ignore_errors=True)

        threads = [threading.Thread(target=probe, args=(i,)) for i in range(len(sandbox.LAYER_SETS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, err in enumerate(results):
            if err is None:
                return {"layers": sandbox.LAYER_SETS[i], "ipc": ipc[i], "refused": [
                    {"layers": sandbox.LAYER_SETS[j], "error": results[j]} for j in range(i)]}
        return {"layers": sandbox.LAYER_SETS[-1], "ipc": False, "refused": [
            {"layers": sandbox.LAYER_SETS[j], "error": results[j]} for j in range(len(results))]}

    def probe_details(self) -> dict:
        """What the probe found on this machine (for notes and benchmarks)."""
        return {d: r for d, r in _LAYERS.items()}

    # --- contention -------------------------------------------------------------------
    def contention_probe(self, device: str, child_pid: int):
        """A snapshot for `contended`: GPU compute PIDs, or CPU busy time."""
        if device.startswith("cuda"):
            return environment.gpu_compute_pids(environment.cuda_index(device))
        return _cpu_snapshot(child_pid)

    def contended(self, device: str, before, after) -> bool:
        if before is None or after is None:
            return False
        if device.startswith("cuda"):
            return bool((set(before) | set(after)) - self.children.ours())
        # CPU: busy time of everything but the timing child and this process,
        # averaged over the timing; more than half a core means other work ran.
        elapsed = after[0] - before[0]
        if elapsed < 0.2:
            return False
        others = (after[1] - before[1]) - (after[2] - before[2]) - (after[3] - before[3])
        return others / elapsed > 0.5

    # --- one evaluation -----------------------------------------------------------------
    def evaluate(self, request: dict, timing_slot=None) -> dict:
        req = normalize(request)
        t_start = time.monotonic()
        static = static_checks.check(req["candidate_src"], req["kind"], req["reference_src"])

        def fresh(device: str | None = None, num_threads: int | None = None) -> dict:
            result = outcome.blank(req, self.versions)
            result.update({"flags": list(static["flags"]), "kernels_defined": static["kernels"],
                           "builds": static["builds"]})
            if device is not None:
                result.update({"device": device, "hardware": environment.hardware_label(device, num_threads),
                               "num_threads": num_threads if device == "cpu" else None})
            return result

        result = fresh()
        if static["syntax_error"]:
            return outcome.finish(result, "compile_error", static["syntax_error"])
        with self.devices.chosen(req) as device:
            if device is None:
                result["device"] = req["device"]
                result["hardware"] = "no gpu"
                return outcome.finish(result, "skipped", "no GPU")
            num_threads = int(req.get("num_threads") or environment.default_threads())
            result = fresh(device, num_threads)
            if device.startswith("cuda"):
                self.layers(device)
                refused = (_LAYERS.get(device) or {}).get("refused") or []
                # Sandbox layers this machine's GPU driver would not start under.
                result["sandbox_refused"] = [{k: v for k, v in r["layers"].items() if v} for r in refused]
            if static["reject"]:
                result["flags"].append("rejected")
                return outcome.finish(result, "incorrect", "rejected: " + static["reject"])
            session = self._session(req, device, num_threads, result, timing_slot, alone=bool(req.get("alone")))
            if outcome.needs_rerun_alone(session):
                # Others shared the device meanwhile: the timeout or the lack of
                # memory may be theirs. The candidate runs again with the device
                # to itself, and that verdict is the one kept.
                first = {"outcome": session.outcome, "error": session.error}
                self.reruns_alone += 1
                result = fresh(device, num_threads)
                session = self._session(req, device, num_threads, result, timing_slot, alone=True)
                result["rerun_alone"] = {"first": first}
            outcome.fill(result, session)
            outcome.finish(result, session.outcome, session.error)
        result["phases"]["total_s"] = round(time.monotonic() - t_start, 3)
        return result

    def _session(self, req: dict, device: str, num_threads: int, result: dict, timing_slot, alone: bool) -> Session:
        if self.aborting:
            raise EvaluationAborted("the evaluator was stopped")
        slot = _BuildSlot(self.build_slots if result.get("builds") else None)
        t_wait = time.monotonic()
        slot.acquire()
        if slot.held:
            result["phases"]["build_slot_wait_s"] = round(time.monotonic() - t_wait, 3)
        box: dict = {}

        def run_reference():
            try:
                box["ref"] = self.references.acquire(req, device, num_threads)
            except Exception as e:  # noqa: BLE001 - an evaluator fault: the task cannot be judged
                box["ref"] = ReferenceFailure(f"reference failed: evaluator error: {type(e).__name__}: {e}")

        worker = threading.Thread(target=run_reference, name="sgs-reference", daemon=True)
        worker.start()

        def wait_reference():
            worker.join()
            return box["ref"]

        session = Session(self, req, device, num_threads, result, wait_reference, slot, timing_slot, alone)
        state = self.devices.state(device)
        try:
            with state.evaluation() as overlap:
                session.run()
            session.shared = overlap["shared"]
        finally:
            worker.join()
            if "ref" in box and not isinstance(box["ref"], ReferenceFailure):
                self.references.release(box["ref"])
        if self.aborting:
            raise EvaluationAborted("the evaluator was stopped")
        return session


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


__all__ = ["Runner", "EvaluationAborted"]
