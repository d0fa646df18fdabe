"""The candidate child: builds the untrusted `ModelNew`, runs it on the input
sets the evaluator names, and hands over its outputs (CUDA IPC handles on a
GPU, raw bytes on the CPU) for the trusted reference to check; then serves
timed blocks.

The task module's `Model.forward` is wrapped with a counter before the
candidate is imported, so a candidate that calls the reference (an instance
of `Model`, or its forward) is reported whatever its source looks like.
"""
from __future__ import annotations

import functools
import os

import torch

from . import builds, ipc, tensors
from .harness import Child, Failure, Stop, is_fatal, load_module, patched_names, short
from .timer import Timer


def count_reference_calls(module) -> dict:
    """Wraps `module.Model.forward` with a call counter; returns the counter."""
    counter = {"n": 0}
    cls = getattr(module, "Model", None)
    forward = getattr(cls, "forward", None)
    if cls is None or forward is None:
        return counter

    @functools.wraps(forward)
    def counted(self, *args, **kwargs):
        counter["n"] += 1
        return forward(self, *args, **kwargs)

    cls.forward = counted
    return counter


class CandidateChild(Child):
    def __init__(self, sock, cfg: dict):
        super().__init__(sock, cfg)
        self.share_mode = "bytes"
        self.poison_sizes: list[int] = []
        self.reference_calls = {"n": 0}

    def run(self) -> None:
        self.setup()
        cls = self.load()
        go = self.ask("correctness")
        self.share_mode = go.get("share") or "bytes"
        self.poison_sizes = list(go.get("poison_sizes") or [])
        self.init_device()
        self.build(cls)
        sets = go["sets"]
        for spec in sets:
            self.trial(spec)
        if self.is_cuda and sets and self.req["kind"] in ("cuda", "triton"):
            # Which kernels ran tells a custom kernel from the reference's own
            # (the profiler costs a second or two: only kernel candidates pay it).
            inputs, _ = tensors.make_inputs(self.get_inputs, int(sets[0]["seed"]), self.device)
            self.send({"type": "kernels", "names": self.launched_kernels(inputs)})
            del inputs
        self.send({"type": "done", "phase": "correctness"})
        if self.cfg.get("time", True):
            self.timing(list(go.get("timing_seeds") or []))
        self.send({"type": "bye"})

    def load(self):
        module = self.load_reference()
        self.reference_calls = count_reference_calls(module)
        path = os.path.join(self.cfg["tmpdir"], "candidate.py")
        with open(path, "w") as f:
            f.write(self.req["candidate_src"])
        self.phase("compile")
        self.build_headers: list[str] = []
        if self.cfg.get("builds", True):
            # Only for a source that builds an extension: loading the build
            # machinery costs a third of a second.
            if self.cfg.get("light_headers", True):
                builds.light_header_builds(self.cfg["ext_dir"], self.build_headers)
            builds.lower_build_priority(builds.BUILD_NICE)
        try:
            candidate = load_module("sgs_candidate", path, base=module)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            raise Failure("compile_error", short(e))
        cls = getattr(candidate, "ModelNew", None)
        if cls is None:
            raise Failure("compile_error", "candidate defines no class ModelNew")
        self.send({"type": "phase", "phase": "compiled", "patched": patched_names(),
                   "build_headers": self.build_headers})
        return cls

    # --- correctness -------------------------------------------------------
    def poison(self) -> None:
        """Fill freed device memory with NaN so that returning memory left
        over from earlier work (e.g. a reference output) fails the check."""
        if not self.is_cuda:
            return
        for nbytes in self.poison_sizes:
            t = torch.empty(max(1, nbytes // 4), dtype=torch.float32, device=self.device)
            t.fill_(float("nan"))
            del t

    def trial(self, spec: dict) -> None:
        inputs, _ = tensors.make_inputs(self.get_inputs, int(spec["seed"]), self.device, spec.get("transform"))
        before = tensors.fingerprint(inputs)
        self.poison()
        self.reference_calls["n"] = 0
        try:
            out = self.run_once(inputs)
        except Exception as e:
            if spec["tag"] != "robust" or is_fatal(e):
                raise
            self.send({"type": "robust_error", "index": spec["index"], "error": short(e)})
            return
        after = tensors.fingerprint(inputs)
        self.report(spec["tag"], int(spec["index"]), out, before, after)

    def report(self, tag: str, index: int, out, before: str | None, after: str | None) -> None:
        outs = tensors.flatten(out, strict=True)
        header = {"type": "outputs", "tag": tag, "index": index, "tensors": tensors.metas(outs),
                  "inputs_before": before, "inputs_after": after, "patched": patched_names(),
                  "reference_calls": self.reference_calls["n"]}
        keep = None
        if self.share_mode == "ipc" and all(t.is_cuda for t in outs):
            try:
                header["share"], keep = tensors.share(outs)
            except ipc.IpcUnavailable:
                self.share_mode = "bytes"
        if keep is not None:
            self.send(header)
        else:
            self.send(header, [tensors.raw_bytes(t) for t in outs])
        reply, _ = self.wait()
        del keep
        if reply.get("type") != "ok":
            raise Stop()

    # --- timing --------------------------------------------------------------
    def timing(self, seeds: list[int]) -> None:
        """Timed calls in blocks the evaluator asks for, so that it can
        interleave the reference's blocks with these in one window."""
        go = self.ask("timing")
        if go.get("type") != "go":
            return
        if self.reserved:
            try:
                os.sched_setaffinity(0, self.reserved)
            except OSError:
                pass
        if not self.is_cuda:
            # CPU timing: the pinned count it is labelled with. A GPU timing
            # keeps the checks' count (it sits on one reserved core).
            torch.set_num_threads(self.cfg["num_threads"])
        sets = [tensors.make_inputs(self.get_inputs, s, self.device)[0] for s in seeds]
        timer = Timer(self.model, sets, self.device, warmup=int(self.req["warmup"]),
                      warmup_s=float(go.get("warmup_s") or 0.0), l2_bytes=int(self.cfg.get("l2_bytes") or 0))
        self.send({"type": "timer_ready"})
        while True:
            msg, _ = self.wait()
            if msg.get("type") == "block":
                ms, host, enqueue = timer.block(int(msg.get("n") or 1))
                self.send({"type": "block_times", "ms": ms, "host_ms": host, "enqueue_ms": enqueue,
                           "patched": patched_names()})
            elif msg.get("type") == "end":
                break
        # Outputs of the timed calls are checked too (memoising across calls fails here).
        for k, out in enumerate(timer.last):
            if out is not None:
                self.report("after_timing", k, out, None, None)
        self.send({"type": "done", "phase": "timing"})
