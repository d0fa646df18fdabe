"""The trusted reference child: runs the task's `Model` once per input set,
then serves the evaluator for as long as the task's candidates need it.

It is the checker: a candidate's outputs reach it as CUDA IPC handles (on
a GPU) or raw bytes forwarded by the evaluator (on the CPU), and it
compares them on the device against its own outputs, which it keeps where
memory allows and computes again otherwise. It is also the timer for
paired timings: its timed blocks alternate with the candidate's.

Every phase is announced first, so that a timeout names it ("generating
inputs", "running the reference", ...).
"""
from __future__ import annotations

import os

import torch

from . import ipc, tensors
from .harness import Child, Failure, is_fatal, patched_names, short
from .timer import Timer

MAX_PAYLOAD = 1 << 40
ROTATE_BELOW_BYTES = 256 << 20      # input sets smaller than this rotate through up to 8 timing sets


class ReferenceChild(Child):
    def __init__(self, sock, cfg: dict):
        super().__init__(sock, cfg)
        self.specs: dict[tuple, dict] = {}        # (tag, index) -> {"seed", "transform"}
        self.outputs: dict[tuple, list] = {}      # kept reference outputs
        self.scales: dict[tuple, float] = {}
        self.timer: Timer | None = None
        self.timing_seeds: list[int] = []
        self.first: dict | None = None

    def run(self) -> None:
        self.setup()
        self.phase("loading the task")
        module = self.load_reference()
        cls = getattr(module, "Model", None)
        if cls is None:
            raise Failure("runtime_error", "reference: defines no class Model")
        go = self.ask("prepare")
        self.init_device()
        self.phase("building the model")
        self.build(cls)
        self.prepare(go)
        self.serve()

    # --- the reference's own run ---------------------------------------------
    def _inputs(self, spec: dict):
        return tensors.make_inputs(self.get_inputs, int(spec["seed"]), self.device, spec.get("transform"))

    def prepare(self, go: dict) -> None:
        """Runs every input set once: output descriptions, input
        fingerprints, whether the reference mutates its inputs, which
        robust sets give finite outputs, the memory one set needs."""
        atol, rtol = self.req.get("atol"), self.req.get("rtol")
        cache_left = int(go.get("cache_bytes") or 0)
        sets = [dict(s) for s in go["sets"]]
        timing_seeds = list(go.get("timing_seeds") or [])
        info: dict = {"sets": {}, "mutates_inputs": False, "tiny_output": False, "robust_errors": {}}
        if self.is_cuda:
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_reserved() if self.is_cuda else 0
        first = None
        i = 0
        while i < len(sets):
            spec = sets[i]
            key = (spec["tag"], int(spec["index"]))
            self.specs[key] = spec
            self.phase("generating inputs")
            inputs, scale = self._inputs(spec)
            self.scales[key] = scale
            before = tensors.fingerprint(inputs)
            self.phase("running the reference")
            try:
                out = self.run_once(inputs)
            except Exception as e:
                if spec["tag"] != "robust" or is_fatal(e):
                    raise
                # A robust set the reference itself cannot run: nothing to hold candidates to.
                info["robust_errors"][str(key[1])] = short(e)
                del inputs
                i += 1
                continue
            after = tensors.fingerprint(inputs)
            outs = tensors.flatten(out, strict=False)
            info["sets"][f"{key[0]}:{key[1]}"] = {
                "tensors": tensors.metas(outs), "inputs_before": before, "scale": scale,
                "finite": tensors.all_finite(outs)}
            if before != after:
                info["mutates_inputs"] = True
            if spec["tag"] == "correct" and tensors.zero_would_pass(outs, atol, rtol):
                info["tiny_output"] = True
            if first is None:
                first = spec
                info["input_spec"] = tensors.input_spec(inputs)
                info["input_bytes"] = tensors.nbytes(inputs)
                info["output_bytes"] = tensors.nbytes(outs)
                if self.is_cuda:
                    # What the process took from the device, not only what its
                    # tensors held: library workspaces and the allocator's blocks too.
                    info["set_peak_bytes"] = int(torch.cuda.max_memory_reserved() - base)
                # As many timing sets as the evaluator's share allows (>= 2):
                # the reference's timer holds them for the task's candidates.
                per_set = max(1, info["input_bytes"] + info["output_bytes"])
                share = int(go.get("timing_share_bytes") or 0)
                n = len(timing_seeds) if not share else max(2, min(len(timing_seeds), share // per_set))
                if per_set > ROTATE_BELOW_BYTES:
                    # Sets this large never stay in a cache: two (against
                    # memoised outputs) are as good as eight, at a quarter of the memory.
                    n = min(n, 2)
                self.timing_seeds = timing_seeds[:n]
                sets += [{"tag": "timing", "index": k, "seed": s, "transform": None}
                         for k, s in enumerate(self.timing_seeds)]
            n_out = tensors.nbytes(outs)
            if n_out <= cache_left:
                self.outputs[key] = outs
                cache_left -= n_out
            del inputs, out, outs
            i += 1
        info["timing_seeds"] = self.timing_seeds
        self.first = first
        if self.is_cuda:
            torch.cuda.empty_cache()            # what it holds now is what it keeps
        info["resident_bytes"] = self._resident()
        self.send({"type": "prepared", **info})

    def _resident(self) -> int:
        if self.is_cuda:
            return int(torch.cuda.memory_reserved())
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def _outputs(self, key: tuple) -> list:
        kept = self.outputs.get(key)
        if kept is not None:
            return kept
        inputs, _ = self._inputs(self.specs[key])
        return tensors.flatten(self.run_once(inputs), strict=False)

    # --- serving the evaluator ---------------------------------------------------
    def serve(self) -> None:
        while True:
            msg, payload = self.wait(max_payload=MAX_PAYLOAD)
            kind = msg.get("type")
            if kind == "check":
                self.check(msg, payload)
            elif kind == "timer":
                self.start_timer(msg)
            elif kind == "block":
                self._threads(timing=True)
                ms, host, enqueue = self.timer.block(int(msg.get("n") or 1))
                self.send({"type": "block_times", "ms": ms, "host_ms": host, "enqueue_ms": enqueue,
                           "patched": patched_names()})
            elif kind == "end":
                continue            # the timer stays ready for the next candidate
            elif kind == "kernels":
                # Asked for by the first kernel candidate of the task only.
                names = self.launched_kernels(self._inputs(self.first)[0]) if self.first else None
                self.send({"type": "kernels", "names": names})

    def check(self, msg: dict, payload) -> None:
        key = (msg["tag"], int(msg["index"]))
        if key not in self.specs:
            self.send({"type": "checked", "ok": False, "max_abs_diff": None,
                       "reason": f"no reference outputs for {key[0]} set {key[1]}", "candidate_fault": True})
            return
        self._threads(timing=False)
        kept = key in self.outputs
        try:
            ref = self._outputs(key)
        except Exception as e:
            if is_fatal(e):
                raise
            # Its own failure (out of memory beside other evaluations, say):
            # no verdict on the candidate; the evaluator decides what follows.
            if self.is_cuda:
                torch.cuda.empty_cache()
            self.send({"type": "checked", "ok": False, "max_abs_diff": None, "reference_fault": True,
                       "reason": f"the reference failed while checking: {short(e, 300)}"})
            return
        opened = ipc.Opened()
        try:
            try:
                if msg.get("share") is not None:
                    cand = tensors.from_shares(msg["tensors"], msg["share"], opened, self.device)
                else:
                    cand = tensors.from_bytes(msg["tensors"], payload, self.device)
            except (ipc.IpcUnavailable, ValueError, RuntimeError, TypeError, KeyError) as e:
                self.send({"type": "checked", "ok": False, "max_abs_diff": None, "candidate_fault": True,
                           "reason": f"its outputs could not be read: {short(e, 200)}"})
                return
            scale = self.scales.get(key, 1.0) if key[0] == "robust" else 1.0
            ok, diff, reason = tensors.compare(cand, ref, self.req.get("atol"), self.req.get("rtol"),
                                               atol_scale=scale)
            if self.is_cuda:
                torch.cuda.synchronize()
        finally:
            opened.close()
        del ref
        if self.is_cuda and not kept:
            torch.cuda.empty_cache()            # a recomputed set's memory goes back
        self.send({"type": "checked", "ok": ok, "max_abs_diff": diff, "reason": reason})

    def start_timer(self, msg: dict) -> None:
        if self.timer is None:
            self.phase("generating timing inputs")
            sets = [tensors.make_inputs(self.get_inputs, s, self.device)[0] for s in self.timing_seeds]
            self.timer = Timer(self.model, sets, self.device, warmup=int(self.req["warmup"]),
                               warmup_s=float(msg.get("warmup_s") or 0.0), l2_bytes=int(self.cfg.get("l2_bytes") or 0))
        elif float(msg.get("warmup_s") or 0.0) > 0:
            # The GPU idled since this timer last ran: warm it up again.
            self.timer.warm = False
            self.timer.warmup_s = float(msg["warmup_s"])
        self.send({"type": "timer_ready", "resident_bytes": self._resident()})

    def _threads(self, timing: bool) -> None:
        """Timing blocks run on the cores reserved for this GPU's timings (or
        with the pinned thread count on the CPU); checks share the rest."""
        if self.reserved and self.check_cpus:
            try:
                os.sched_setaffinity(0, self.reserved if timing else self.check_cpus)
            except OSError:
                pass
        if not self.is_cuda:
            torch.set_num_threads(int(self.cfg["num_threads"]) if timing else self.check_threads)
