"""One candidate's conversation with its child, as a state machine.

The child drives the order (compile, correctness, timing); each message it
sends has one handler here, which checks that it comes at a legal moment,
takes or gives back what the phase needs (a build slot, device memory, a
shared hold of the device for checks, the exclusive hold for measuring),
and sets the next deadline. Every resource is held in an ExitStack, so an
outcome at any moment gives everything back.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time

from .. import measure, protocol, verdict
from .children import ChildFailed, failure_of, tail_suffix
from .reference import HOST_CHILD_BYTES, Reference, ReferenceFailure, ReferenceLost, input_sets

START_S = 60.0          # for the child to start and load the task


class Session:
    def __init__(self, runner, req: dict, device: str, num_threads: int, result: dict, wait_reference,
                 build_slot, timing_slot, alone: bool):
        self.runner, self.req, self.device, self.num_threads = runner, req, device, num_threads
        self.result, self.wait_reference, self.build_slot = result, wait_reference, build_slot
        self.timing_slot, self.alone = timing_slot, alone
        self.state = runner.devices.state(device)
        self.is_cuda = device.startswith("cuda")
        self.phase, self.phase_t0 = "start", time.monotonic()
        self.t_created = self.phase_t0
        self.deadline = self.phase_t0 + START_S
        self.outcome = self.error = None
        self.out_of_memory = False
        self.reference_lost = False             # the reference failed while serving this candidate
        self.shared = False                     # other evaluations overlapped this one on its device
        self.ref: Reference | None = None
        self.correct_trials = 0
        self.robust: list[bool] = []
        self.max_diff = 0.0
        self.cand_times = self.ref_times = None
        self.gpu_s = 0.0
        self.sets: list[dict] = []
        self.hold = contextlib.ExitStack()      # what the current phase holds on the device
        self.handlers = {"hello": self._hello, "phase": self._phase, "want": self._want,
                         "outputs": self._outputs, "robust_error": self._robust_error, "kernels": self._kernels,
                         "done": self._done, "timer_ready": self._timer_ready, "bye": self._bye,
                         "error": self._failed, "exit": self._failed}

    # --- the conversation ---------------------------------------------------------
    def run(self) -> None:
        runner, req = self.runner, self.req
        tmpdir = tempfile.mkdtemp(prefix="cand-", dir=runner.root)
        ext_dir = self._ext_dir(tmpdir)
        os.makedirs(ext_dir, exist_ok=True)
        cfg = runner.child_config("candidate", req, self.device, tmpdir, ext_dir, self.num_threads)
        cfg["builds"] = bool(self.result.get("builds"))
        self.pid, self.sock, self.log = runner.children.spawn(tmpdir, runner.exec_children)
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, tmpdir, True)
            stack.callback(runner.children.reap, self.pid, self.sock)
            stack.callback(self.hold.close)
            stack.callback(self.build_slot.release)
            self.session = stack
            try:
                protocol.send(self.sock, cfg)
                while self.outcome is None:
                    h, plen = protocol.recv_header(self.sock, self.deadline)
                    handler = self.handlers.get(h.get("type"))
                    if handler is None:
                        raise protocol.ProtocolError(f"unexpected message {h.get('type')!r}")
                    handler(h, plen)
            except TimeoutError:
                limit = req["compile_timeout_s"] if self.phase == "compile" else self._limit()
                self._end("timeout", f"timed out after {limit:g}s during {self.phase}")
            except ChildFailed as e:
                self._end(e.outcome, e.error)
                self.out_of_memory = e.out_of_memory
            except (protocol.ProtocolError, OSError, ValueError, KeyError, TypeError) as e:
                self._end("crashed", f"lost contact with the candidate during {self.phase}: {e}"
                          + tail_suffix(self.log, 4))
        self.result["phases"]["device_s"] = round(self.gpu_s, 3)

    def _end(self, outcome: str, error: str | None) -> None:
        if self.outcome is None:
            self.outcome, self.error = outcome, error

    def _limit(self) -> float:
        return float(self.req["timeout_s"]) + (float(self.req["timing_budget_s"]) if self.phase == "timing" else 0.0)

    def _enter(self, phase: str) -> None:
        self.phase, self.phase_t0 = phase, time.monotonic()
        self.deadline = self.phase_t0 + self._limit()

    def _ok(self) -> None:
        protocol.send(self.sock, {"type": "ok"})

    def _skip_payload(self, plen: int) -> None:
        if plen:
            protocol.recv_payload(self.sock, plen, self.deadline)

    @contextlib.contextmanager
    def _on_gpu(self):
        """GPU work going on: counted in the evaluation's GPU seconds."""
        t0 = time.monotonic()
        with self.state.in_use():
            try:
                yield
            finally:
                self.gpu_s += time.monotonic() - t0

    def _checks_hold(self) -> None:
        """A shared hold of the device for checks (timings wait for it)."""
        self.hold.enter_context(self.state.lock.shared())
        self.hold.enter_context(self._on_gpu())

    def _ext_dir(self, tmpdir: str) -> str:
        """An entry of the content-addressed build cache when the candidate
        builds anything (the same source, torch, CUDA and arch reuse one
        build), else a private folder."""
        if not self.result.get("builds"):
            return os.path.join(tmpdir, "ext")
        info = self.runner.devices.info(self.device)
        key = hashlib.sha256(json.dumps([self.req["candidate_src"], self.req["kind"], self.runner.versions,
                                         info.get("capability")]).encode()).hexdigest()[:24]
        return os.path.join(self.runner.build_cache, key)

    # --- handlers ---------------------------------------------------------------------
    def _hello(self, h: dict, plen: int) -> None:
        self.result["sandbox"] = h.get("sandbox")
        # From the session's start to a child ready to work: the fork server's
        # start (importing torch) when it is the first, the sandbox's set-up.
        self.result["phases"]["start_s"] = round(time.monotonic() - self.t_created, 3)

    def _phase(self, h: dict, plen: int) -> None:
        if h.get("phase") == "compile":
            self.phase, self.phase_t0 = "compile", time.monotonic()
            self.deadline = self.phase_t0 + float(self.req["compile_timeout_s"])
        elif h.get("phase") == "compiled":
            self.build_slot.release()           # the next candidate may compile
            self.result["phases"]["compile_s"] = round(time.monotonic() - self.phase_t0, 3)
            if h.get("build_headers"):
                self.result["build_headers"] = h["build_headers"]
            self._enter("correctness")
            if h.get("patched"):
                self._reject_patched(h["patched"])

    def _reject_patched(self, names: list[str]) -> None:
        self.result["flags"].append("monkeypatch")
        self._end("incorrect", "rejected: candidate replaced " + ", ".join(names))

    def _want(self, h: dict, plen: int) -> None:
        if h.get("phase") == "correctness":
            self._start_checks()
        elif h.get("phase") == "timing":
            self._start_timing()
        else:
            raise protocol.ProtocolError(f"unexpected request for {h.get('phase')!r}")

    def _start_checks(self) -> None:
        t0 = time.monotonic()
        ref = self.wait_reference()
        self.result["phases"]["reference_wait_s"] = round(time.monotonic() - t0, 3)
        if isinstance(ref, ReferenceFailure):
            self.result["flags"].append("reference_failed")
            self._end("reference_failed", ref.error)
            return
        self.ref = ref
        # Admission: the task's measured need, on the device and on the host.
        self.session.enter_context(self.state.budget.reserve(ref.need_bytes(), alone=self.alone))
        if self.is_cuda:
            self.session.enter_context(self.runner.devices.host.reserve(HOST_CHILD_BYTES))
        self._checks_hold()
        sets, _ = input_sets(self.req, self.device)
        errors = ref.info.get("robust_errors") or {}
        self.sets = [s for s in sets if ref.set_meta(s["tag"], s["index"]) is not None
                     and str(s["index"]) not in (errors if s["tag"] == "robust" else {})]
        poison = sorted({m["nbytes"] for meta in ref.info.get("sets", {}).values() for m in meta["tensors"]})[-4:]
        protocol.send(self.sock, {"type": "go", "sets": self.sets, "timing_seeds": ref.info.get("timing_seeds") or [],
                                  "poison_sizes": poison,
                                  "share": "ipc" if self.is_cuda and self.runner.ipc_ok(self.device) else "bytes"})
        self._enter("correctness")

    def _outputs(self, h: dict, plen: int) -> None:
        ref, tag = self.ref, h.get("tag")
        if ref is None:
            raise protocol.ProtocolError("outputs before the checks began")
        if h.get("patched"):
            self._reject_patched(h["patched"])
            return
        meta = ref.set_meta("timing" if tag == "after_timing" else tag, int(h["index"]))
        if meta is None:
            raise protocol.ProtocolError(f"unexpected outputs {tag} {h.get('index')}")
        if int(h.get("reference_calls") or 0) > 0 and "reference_equivalent" not in self.result["flags"]:
            # Its forward ran the task's own Model: it is the reference.
            self.result["flags"].append("reference_equivalent")
        reason = verdict.check_metas(h["tensors"], meta["tensors"], self.device)
        if reason is not None:
            self._skip_payload(plen)
            if tag == "robust":
                self.robust.append(False)
                self._ok()
            else:
                self._end("incorrect", reason)
            return
        payload = protocol.recv_payload(self.sock, plen, self.deadline) if plen else None
        if (tag == "after_timing" and ref.info.get("mutates_inputs")) or (tag == "robust" and not meta["finite"]):
            # Nothing to hold it to: the timed calls changed the inputs as the
            # reference does, or the reference's own robust output is not finite.
            self._ok()
            return
        checked = self._check(h, payload)
        if checked.get("reference_fault"):
            self.reference_lost = True
            raise ChildFailed("crashed", checked.get("reason") or "the reference failed while checking it")
        if checked.get("candidate_fault"):
            self._end("incorrect", checked.get("reason") or "its outputs could not be checked")
            return
        ok, diff, reason = bool(checked["ok"]), checked.get("max_abs_diff"), checked.get("reason")
        if tag == "robust":
            self.robust.append(ok)
            self._ok()
            return
        self.max_diff = max(self.max_diff, float(diff or 0.0)) if diff is not None else self.max_diff
        if tag == "correct":
            if h["inputs_before"] != meta["inputs_before"]:
                self.result["flags"].append("inputs_differ_from_reference")
            if h["inputs_after"] != h["inputs_before"] and not ref.info.get("mutates_inputs"):
                self.result["flags"].append("inputs_mutated")
                self._end("incorrect", "candidate modified its inputs")
                return
        if not ok:
            if tag == "after_timing":
                reason = "after timed calls: " + (reason or "")
                self.result["flags"].append("wrong_after_timing")
            self.max_diff = max(self.max_diff, float(diff)) if diff is not None else self.max_diff
            self._end("incorrect", reason)
            return
        if tag == "correct":
            self.correct_trials += 1
        self._ok()

    def _check(self, h: dict, payload) -> dict:
        """The reference's verdict on one output set. A reference that dies
        or hangs while reading this candidate's outputs charges the
        candidate (its handles are the untrusted input); the next candidate
        gets a fresh reference."""
        try:
            return self.runner.references.check(self.ref, h, payload, self._limit())
        except TimeoutError:
            raise ChildFailed("timeout", f"timed out after {self._limit():g}s while its outputs were checked")
        except (ReferenceLost, protocol.ProtocolError, OSError) as e:
            # Not a verdict yet: evaluated again alone with a fresh reference;
            # only a failure then is charged to the candidate.
            self.reference_lost = True
            raise ChildFailed("crashed", f"its outputs broke the reference's check: {e}",
                              out_of_memory=getattr(e, "out_of_memory", False))

    def _robust_error(self, h: dict, plen: int) -> None:
        self.robust.append(False)

    def _kernels(self, h: dict, plen: int) -> None:
        names, result = h.get("names"), self.result
        if names is None:
            result["flags"].append("profiler_unavailable")
            return
        result["kernels_launched"] = names[:20]
        if self.req["kind"] not in ("cuda", "triton"):
            return
        defined = result.get("kernels_defined") or []
        ran = [d for d in defined if any(d in n for n in names)]
        ref_names = self.runner.references.kernels(self.ref, self._limit()) if self.ref and not ran else None
        if defined and not ran:
            result["flags"].append("custom_kernel_not_launched")
        if not ran and ref_names is not None and set(names) <= set(ref_names):
            # A "kernel" candidate that launches only what the reference launches.
            result["flags"].append("reference_equivalent")

    def _done(self, h: dict, plen: int) -> None:
        self.hold.close()
        if h.get("phase") == "correctness":
            self.result["phases"]["correctness_s"] = round(time.monotonic() - self.phase_t0, 3)
        elif h.get("phase") == "timing":
            self.result["phases"]["timing_s"] = round(time.monotonic() - self.phase_t0, 3)

    def _start_timing(self) -> None:
        """The candidate makes its timing sets under a shared hold; the
        exclusive one is taken only to measure (`_timer_ready`)."""
        req, ref = self.req, self.ref
        self._enter("timing")
        if not req.get("time", True) or ref is None:
            protocol.send(self.sock, {"type": "skip"})
            return
        self._checks_hold()
        warmup_s = self.state.warmup_s()
        self.paired = req["reference_timing"] == "paired" and self.runner.references.timer(ref, warmup_s, self._limit())
        if not self.paired and req["reference_timing"] == "paired":
            self.result["flags"].append("reference_timer_lost")
        if not self.paired and ref.timing is None:
            if req["reference_timing"] == "cached" and self.runner.references.timer(ref, warmup_s, self._limit()):
                self._time_reference_alone()
            if ref.timing is None:
                protocol.send(self.sock, {"type": "skip"})
                self.hold.close()
                return
        protocol.send(self.sock, {"type": "go", "warmup_s": warmup_s})

    def _time_reference_alone(self) -> None:
        """The cached mode's reference timing, taken once (on a miss)."""
        ref = self.ref
        self.hold.close()
        with self._grant(), ref.lock:
            t0 = time.monotonic()
            (side,) = measure.run([ref.sock], self.req, lambda: t0 + self._limit(), self.is_cuda, end=False)
        self.runner.references.store_timing(ref, side)
        self._checks_hold()

    @contextlib.contextmanager
    def _grant(self):
        """The exclusive hold of the device for one measurement."""
        with contextlib.ExitStack() as stack:
            slot = self.timing_slot
            if slot is not None and not getattr(slot, "_sgs_internal", False):
                stack.enter_context(slot(self.device) if callable(slot) and not hasattr(slot, "__enter__") else slot)
            stack.enter_context(self.state.lock.exclusive())
            stack.enter_context(self._on_gpu())
            yield

    def _timer_ready(self, h: dict, plen: int) -> None:
        self.hold.close()                       # the timing sets are made: only measuring holds the device
        before = self.runner.contention_probe(self.device, self.pid)
        t0 = time.monotonic()
        with self._grant():
            self.cand_times, self.ref_times = self._measure(lambda: t0 + self._limit())
        if self.runner.contended(self.device, before, self.runner.contention_probe(self.device, self.pid)):
            self.result["flags"].append("contended")
        if self.ref_times is not None and self.runner.references.needs_timing(self.ref):
            self.runner.references.store_timing(self.ref, self.ref_times)
        # The device is free again; the timed calls' outputs are checked under a shared hold.
        self._checks_hold()
        if self.cand_times.get("patched"):
            self._reject_patched(self.cand_times["patched"])

    def _measure(self, deadline_fn) -> tuple[dict, dict | None]:
        """Times the candidate, paired with the reference's timer when there
        is one: their blocks alternate in one window."""
        ref, req = self.ref, self.req
        ref_side = None
        if self.paired:
            with ref.lock:
                try:
                    # The candidate first: its warm-up also wakes the GPU for a
                    # reused timer, which warmed up when it was first used.
                    cand_side, ref_side = measure.run([self.sock, ref.sock], req, deadline_fn, self.is_cuda,
                                                      end=[True, False])
                except measure.TimingFailed as e:
                    if e.side == 0:
                        raise failure_of(e.header, "timing", self.log)
                    ref.dead = True
                except OSError:
                    ref.dead = True
            if ref.dead:
                self.result["flags"].append("reference_timer_lost")
                ref_side = None
        if ref_side is None:
            try:
                (cand_side,) = measure.run([self.sock], req, deadline_fn, self.is_cuda)
            except measure.TimingFailed as e:
                raise failure_of(e.header, "timing", self.log)
        cand = {"ms": cand_side["ms"], "host_ms": cand_side["host_ms"], "enqueue_ms": cand_side["enqueue_ms"],
                "patched": cand_side["patched"], "method": measure.timing_method(self.is_cuda),
                "blocks": cand_side["blocks"] if ref_side is not None else None}
        ref_times = None if ref_side is None else {
            "ms": ref_side["ms"], "host_ms": ref_side["host_ms"], "enqueue_ms": ref_side["enqueue_ms"],
            "blocks": ref_side["blocks"]}
        return cand, ref_times

    def _bye(self, h: dict, plen: int) -> None:
        self._end("correct", None)

    def _failed(self, h: dict, plen: int) -> None:
        self._skip_payload(plen)
        raise failure_of(h, self.phase, self.log)
