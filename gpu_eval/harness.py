"""The code that runs inside an evaluation child process.

One child plays one role: `reference` (trusted: runs the task's `Model` only,
serves its outputs' comparisons and its timing blocks; reference_child.py),
`candidate` (runs the untrusted `ModelNew`; candidate_child.py) or `probe`
(can CUDA start under these sandbox layers?). Every function the timing and
reporting rely on is bound at import of this module and its helpers, before
any candidate code runs, and checked for replacement afterwards.
"""
from __future__ import annotations

import abc
import faulthandler
import importlib.util
import os
import re
import sys
import time
import traceback

import torch

from . import protocol, sandbox
from .tensors import Failure

# Bound before any candidate code is imported. Not watched: functions torch
# itself rewraps at run time (torch._dynamo wraps torch.manual_seed on import).
_manual_seed = torch.manual_seed
_no_grad = torch.no_grad
_cuda_sync = torch.cuda.synchronize
_WATCHED = {
    "time.perf_counter": (time, "perf_counter", time.perf_counter),
    "time.perf_counter_ns": (time, "perf_counter_ns", time.perf_counter_ns),
    "time.time": (time, "time", time.time),
    "torch.cuda.synchronize": (torch.cuda, "synchronize", torch.cuda.synchronize),
    "torch.cuda.Event": (torch.cuda, "Event", torch.cuda.Event),
    "torch.cuda.Event.record": (torch.cuda.Event, "record", torch.cuda.Event.record),
    "torch.cuda.Event.elapsed_time": (torch.cuda.Event, "elapsed_time", torch.cuda.Event.elapsed_time),
    "torch.cuda.Event.synchronize": (torch.cuda.Event, "synchronize", torch.cuda.Event.synchronize),
    "torch.cuda.Stream.synchronize": (torch.cuda.Stream, "synchronize", torch.cuda.Stream.synchronize),
    "torch.allclose": (torch, "allclose", torch.allclose),
    "torch.equal": (torch, "equal", torch.equal),
    "torch.Tensor.cpu": (torch.Tensor, "cpu", torch.Tensor.cpu),
    "torch.Tensor.clone": (torch.Tensor, "clone", torch.Tensor.clone),
    "torch.Tensor.contiguous": (torch.Tensor, "contiguous", torch.Tensor.contiguous),
    "torch.Tensor.numpy": (torch.Tensor, "numpy", torch.Tensor.numpy),
    "torch.Tensor.view": (torch.Tensor, "view", torch.Tensor.view),
    "torch.Tensor.__eq__": (torch.Tensor, "__eq__", torch.Tensor.__eq__),
    "torch.nn.Module.__call__": (torch.nn.Module, "__call__", torch.nn.Module.__call__),
}

# CUDA errors that leave the context unusable: the sample counts as crashed.
_FATAL_CUDA = ("illegal memory access", "device-side assert", "misaligned address",
               "unspecified launch failure", "illegal instruction", "CUDA error: an illegal",
               "cudaErrorIllegalAddress", "CUBLAS_STATUS_EXECUTION_FAILED", "uncorrectable ECC")
_OUT_OF_MEMORY = ("CUDA out of memory", "OutOfMemoryError", "can't allocate memory",
                  "DefaultCPUAllocator: not enough memory", "CUBLAS_STATUS_ALLOC_FAILED",
                  "cudaErrorMemoryAllocation")


class Stop(Exception):
    """The parent asked the child to stop."""


def patched_names() -> list[str]:
    return [name for name, (owner, attr, orig) in _WATCHED.items() if getattr(owner, attr, None) is not orig]


def short(exc: BaseException, limit: int = 600) -> str:
    """The exception's last line, which names what went wrong; for long
    compiler messages the first error lines are kept instead."""
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 or "Error building extension" in text:
        head = lines[0]
        if "Error building extension" in head:    # the rest of that line is the build command
            head = head[: head.index("Error building extension")] + re.search(
                r"Error building extension '[^']*'", head).group(0)
        errs = [ln.strip() for ln in lines[1:] if re.search(r"\berror\b", ln, re.IGNORECASE)]
        text = "\n".join([head] + (errs or lines[1:])[:6])
    return text[:limit]


def is_fatal(exc: BaseException) -> bool:
    text = str(exc)
    return any(s in text for s in _FATAL_CUDA)


def is_out_of_memory(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, MemoryError) or any(s in text for s in _OUT_OF_MEMORY)


def load_module(name: str, path: str, base=None):
    """Imports the file at `path` as module `name`. With `base` (the
    reference's module), the new module starts with the reference's top-level
    names: KernelBench runs a candidate in the namespace its reference ran in,
    so a candidate may use the task's constants (`hardtanh_min`) without
    defining them, and is judged correct there."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    if base is not None:
        for key, value in vars(base).items():
            if not (key.startswith("__") and key.endswith("__")):
                setattr(mod, key, value)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class Child(abc.ABC):
    """What every role shares: messages, set-up, the task module, the model."""

    def __init__(self, sock, cfg: dict):
        self.sock, self.cfg = sock, cfg
        self.role = cfg["role"]
        self.device = cfg["device"]
        self.is_cuda = self.device.startswith("cuda")
        self.req = cfg["request"]
        self.model = None
        self.get_inputs = None
        self.check_threads = int(cfg.get("check_threads") or cfg["num_threads"])
        self.reserved: set[int] = set()
        self.check_cpus: set[int] = set()
        self.device_ready = False

    # --- messaging -------------------------------------------------------
    def send(self, header: dict, parts=()) -> None:
        protocol.send_parts(self.sock, header, list(parts))

    def wait(self, max_payload: int = 0) -> tuple[dict, bytearray]:
        header, payload = protocol.recv(self.sock, max_payload=max_payload)
        if header.get("type") == "stop":
            raise Stop()
        return header, payload

    def ask(self, phase: str) -> dict:
        self.send({"type": "want", "phase": phase})
        return self.wait()[0]

    def phase(self, name: str) -> None:
        """Tell the evaluator which phase runs now: a timeout names it."""
        self.send({"type": "phase", "phase": name})

    # --- setup -----------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        tmp = cfg["tmpdir"]
        os.chdir(tmp)
        env = {"HOME": tmp, "TMPDIR": tmp, "TORCH_EXTENSIONS_DIR": cfg["ext_dir"],
               "TRITON_CACHE_DIR": os.path.join(cfg["ext_dir"], "triton"), "TRITON_HOME": tmp,
               "MAX_JOBS": str(cfg.get("max_jobs", 4)), "OMP_NUM_THREADS": str(self.check_threads)}
        if cfg.get("arch"):
            env["TORCH_CUDA_ARCH_LIST"] = cfg["arch"]
        os.environ.update(env)
        # Before any thread starts: namespaces need a single-threaded process.
        report = sandbox.confine(cfg["writable"], network=cfg.get("network", False), layers=cfg.get("layers"))
        self.sandbox_report = report
        self.reserved = set(cfg.get("reserved_cpus") or [])
        if self.reserved:
            # Compilers and correctness checks keep off the cores reserved for
            # the timing of this GPU, so a timing is not slowed by their load.
            try:
                others = os.sched_getaffinity(0) - self.reserved
                if others:
                    os.sched_setaffinity(0, others)
                    self.check_cpus = others
            except OSError:
                self.reserved = set()
        # Checks share the cores with other checks; timing takes its pinned count.
        torch.set_num_threads(self.check_threads)
        tf32 = bool(cfg.get("tf32", False))
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        self.send({"type": "hello", "pid": os.getpid(), "sandbox": report})

    def init_device(self) -> None:
        """The CUDA context is made only once the evaluator lets this child
        use the device: a compiled candidate waiting for its turn holds no
        GPU memory."""
        if self.is_cuda and not self.device_ready:
            torch.cuda.set_device(int(self.device.split(":")[1]))
            torch.cuda.init()
        self.device_ready = True

    def load_reference(self):
        """The task's module, or a task-level failure."""
        path = os.path.join(self.cfg["tmpdir"], "reference.py")
        with open(path, "w") as f:
            f.write(self.req["reference_src"])
        try:
            ref = load_module("sgs_reference", path)
            self.get_inputs = ref.get_inputs
            self.get_init = getattr(ref, "get_init_inputs", lambda: [])
        except Failure:
            raise
        except Exception as e:  # the task itself is broken
            raise Failure("runtime_error", "reference: " + short(e))
        return ref

    def build(self, cls) -> None:
        """Builds the model as KernelBench does: on the CPU from the same seed,
        then moved to the device (tensor init inputs first). Parameters are
        then drawn from the CPU generator on both sides, whichever way a
        model makes them: under a CUDA default device, `nn.Linear` would
        draw from the GPU's generator while the legacy `torch.Tensor(...)`
        constructor stays on the CPU, and a correct candidate would get
        other weights than its reference."""
        seed = self.cfg["init_seed"]
        try:
            _manual_seed(seed)
            init = [x.to(self.device) if isinstance(x, torch.Tensor) else x for x in self.get_init()]
            _manual_seed(seed)
            with _no_grad():
                model = cls(*init)
            # No .eval(): KernelBench runs models in their default (training) mode,
            # which changes what BatchNorm and Dropout compute.
            self.model = model.to(self.device)
        except Failure:
            raise
        except Exception as e:
            if is_fatal(e):
                raise
            who = "reference: " if self.role == "reference" else ""
            raise Failure("runtime_error", who + short(e))

    def run_once(self, inputs):
        with _no_grad():
            out = self.model(*inputs)
        if self.is_cuda:
            _cuda_sync()
        return out

    def launched_kernels(self, inputs) -> list[str] | None:
        """Names of the GPU kernels one forward call launches (profiler), so a
        custom kernel that is defined but never run can be told apart."""
        try:
            from torch.autograd import DeviceType
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                self.run_once(inputs)
            return sorted({e.name for e in prof.events() if e.device_type == DeviceType.CUDA})[:200]
        except Exception as e:  # no CUPTI here: the check is skipped, not failed
            if is_fatal(e):
                raise
            return None

    @abc.abstractmethod
    def run(self) -> None:
        """The role's whole conversation with the evaluator."""


class Probe(Child):
    """Can CUDA start (and share memory over IPC) under these sandbox layers?"""

    def run(self) -> None:
        self.setup()
        layers, report = self.cfg.get("layers") or {}, self.sandbox_report
        if layers.get("mounts") and "mountns" not in report.get("fs", ""):
            raise Failure("runtime_error", "write barrier not set up: " + str(report.get("fs_error") or "refused"))
        if layers.get("netns") and "netns" not in report.get("net", ""):
            raise Failure("runtime_error", "network namespace refused")
        self.init_device()
        x = torch.ones(4, device=self.device) * 2
        ipc_ok = None
        if self.is_cuda:
            _cuda_sync()
            from . import ipc
            try:
                ipc.export(x)
                ipc_ok = True
            except ipc.IpcUnavailable:
                ipc_ok = False
        self.send({"type": "probe_ok", "value": float(x.sum().item()), "ipc": ipc_ok})


def _child_class(role: str):
    if role == "reference":
        from .reference_child import ReferenceChild
        return ReferenceChild
    if role == "candidate":
        from .candidate_child import CandidateChild
        return CandidateChild
    return Probe


def child_main(sock, log_path: str) -> int:
    """Entry point in the forked child. Returns the exit code."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    faulthandler.enable()          # a segfault leaves its Python traceback in the log
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        cfg, _ = protocol.recv(sock, deadline=time.monotonic() + 60)
        _child_class(cfg.get("role"))(sock, cfg).run()
        return 0
    except Stop:
        return 0
    except Failure as f:
        _try_send(sock, {"type": "error", "outcome": f.outcome, "error": f.error})
        return 0
    except protocol.ProtocolError:
        return 3
    except BaseException as e:  # anything the code under evaluation raised while running
        traceback.print_exc()
        outcome = "crashed" if is_fatal(e) else "runtime_error"
        _try_send(sock, {"type": "error", "outcome": outcome, "error": short(e),
                         "out_of_memory": is_out_of_memory(e)})
        return 0


def _try_send(sock, header: dict) -> None:
    try:
        protocol.send(sock, header)
    except OSError:
        pass
