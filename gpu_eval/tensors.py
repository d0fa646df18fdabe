"""Tensor work inside evaluation children: input sets made where they are
used, fingerprints taken on the device, outputs described, shipped and
compared without a trip through the host on a GPU.

Imported by the children only (torch is loaded there); the evaluator
process itself never handles tensor data.
"""
from __future__ import annotations

import hashlib
import math

import torch

from . import ipc
from .request import default_tolerance

# Bound at import, before any candidate code runs in this process.
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_manual_seed = torch.manual_seed
_blake2b = hashlib.blake2b

CHUNK = 1 << 26                 # elements per step of a device-side pass (bounds temporaries)
RESCALE = {"half": 10.0, "full": 100.0}


class Failure(Exception):
    """Ends the child with a given outcome."""

    def __init__(self, outcome: str, error: str):
        super().__init__(error)
        self.outcome, self.error = outcome, error


def dtype_name(dt: torch.dtype) -> str:
    return str(dt).replace("torch.", "")


_DTYPES = {dtype_name(v): v for v in vars(torch).values() if isinstance(v, torch.dtype)}


def dtype_of(name: str) -> torch.dtype:
    dt = _DTYPES.get(name)
    if dt is None:
        raise ValueError(f"unknown dtype {name!r}")
    return dt


# --- inputs -----------------------------------------------------------------
def make_inputs(get_inputs, seed: int, device: str, transform: str | None = None) -> tuple[list, float]:
    """One input set, made on `device` from `seed` (the task's own
    get_inputs under that default device: an 8 GiB torch.rand takes
    milliseconds on a GPU and seconds on the host). Returns the inputs and
    the largest factor they were rescaled by (the robust "rescaled" set).
    Transforms work in place, a chunk at a time, so a multi-GB input set
    needs little memory beyond itself."""
    _manual_seed(seed)
    with torch.device(device):
        raw = list(get_inputs())
    gen = torch.Generator(device=device)
    gen.manual_seed(seed ^ 0x5A5A)
    scale = 1.0
    out, done = [], set()
    for x in raw:
        if isinstance(x, _Tensor):
            x = x.to(device)
            if transform and x.is_floating_point() and id(x) not in done:
                done.add(id(x))
                x = x.contiguous()
                flat = x.view(-1)
                if transform == "signed":
                    for start in range(0, flat.numel(), CHUNK):
                        part = flat[start:start + CHUNK]
                        sign = torch.randint(0, 2, part.shape, generator=gen, device=device, dtype=torch.int8)
                        part.mul_(sign.mul_(2).sub_(1))
                elif transform == "rescaled":
                    factor = RESCALE["half"] if x.dtype in (torch.float16, torch.bfloat16) else RESCALE["full"]
                    flat.mul_(factor)
                    scale = max(scale, factor)
        out.append(x)
    return out, scale


def input_spec(inputs: list) -> list:
    return [[dtype_name(x.dtype), list(x.shape)] if isinstance(x, _Tensor) else repr(x) for x in inputs]


def nbytes(tensors) -> int:
    return sum(x.numel() * x.element_size() for x in tensors if isinstance(x, _Tensor))


_WEIGHTS: dict[str, torch.Tensor] = {}


def _checksum(x: torch.Tensor) -> bytes:
    """A position-weighted sum of the tensor's bytes (as 32-bit words, with
    wrap-around), computed where the tensor lives, a chunk at a time:
    telling a mutated input from an untouched one needs no copy to the host
    and one read of the data."""
    flat = x.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    words = flat.view(torch.uint8)
    if words.numel() % 4 == 0:
        words = words.view(torch.int32)
    else:
        words = words.to(torch.int32)
    dev = str(words.device)
    need = min(CHUNK, words.numel())
    weights = _WEIGHTS.get(dev)
    if weights is None or weights.numel() < need:
        weights = _WEIGHTS[dev] = (torch.arange(need, device=words.device, dtype=torch.int32) % 65521 + 1)
    total = 0
    for i, start in enumerate(range(0, words.numel(), CHUNK)):
        chunk = words[start:start + CHUNK]
        part = int((chunk * weights[: chunk.numel()]).sum(dtype=torch.int64).item())
        total = (total * 1000003 + part + i) & 0xFFFFFFFFFFFFFFFF
    return total.to_bytes(8, "little")


def fingerprint(inputs) -> str:
    h = _blake2b(digest_size=16)
    for x in inputs:
        if isinstance(x, _Tensor):
            h.update(repr((dtype_name(x.dtype), tuple(x.shape))).encode())
            h.update(_checksum(x))
        else:
            h.update(repr(x).encode())
    return h.hexdigest()


# --- outputs ----------------------------------------------------------------
def flatten(out, strict: bool) -> list[torch.Tensor]:
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    tensors = []
    for i, x in enumerate(items):
        if isinstance(x, bool | int | float):
            x = torch.tensor(x)
        if not isinstance(x, _Tensor):
            raise Failure("incorrect", f"output {i} is a {type(x).__name__}, not a tensor")
        if strict and type(x) is not _Tensor and type(x) is not _Parameter:
            # A tensor subclass can defer or fake its work until it is read.
            raise Failure("incorrect", f"output {i} is a {type(x).__name__}, not a plain torch.Tensor")
        tensors.append(x.detach())
    return tensors


def metas(tensors: list[torch.Tensor]) -> list[dict]:
    return [{"dtype": dtype_name(t.dtype), "shape": list(t.shape), "device": str(t.device),
             "nbytes": t.numel() * t.element_size()} for t in tensors]


def raw_bytes(t: torch.Tensor) -> memoryview:
    t = t.detach().contiguous().cpu().reshape(-1)
    if t.numel() == 0:
        return memoryview(b"")
    return memoryview(t.view(torch.uint8).numpy())


def share(tensors: list[torch.Tensor]) -> tuple[list, list[torch.Tensor]]:
    """How the outputs reach the checker: on a GPU, IPC handles (nothing
    copied through the host); returns (shares, tensors kept alive until the
    checker answered). Raises ipc.IpcUnavailable when IPC cannot be used."""
    keep = [t.contiguous() for t in tensors]
    torch.cuda.synchronize()
    return [ipc.export(t) if t.numel() else {"handle": "", "offset": 0} for t in keep], keep


def from_bytes(meta_list: list[dict], payload, device: str) -> list[torch.Tensor]:
    """Tensors rebuilt from raw bytes (never unpickled), moved to `device`."""
    out, off = [], 0
    for m in meta_list:
        dt = dtype_of(m["dtype"])
        n = int(m["nbytes"])
        buf = payload[off:off + n]
        off += n
        if n == 0:
            t = torch.empty(m["shape"], dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=torch.uint8).view(dt).reshape(m["shape"])
        out.append(t.to(device))
    return out


def from_shares(meta_list: list[dict], shares: list[dict], opened: ipc.Opened, device: str) -> list[torch.Tensor]:
    out = []
    for m, s in zip(meta_list, shares):
        dt = dtype_of(m["dtype"])
        n = int(m["nbytes"])
        if n == 0:
            out.append(torch.empty(m["shape"], dtype=dt, device=device))
            continue
        out.append(opened.view(s, n, device).view(dt).reshape(m["shape"]))
    return out


# --- comparison ---------------------------------------------------------------
def tolerance(ref_dtype: str, atol, rtol) -> tuple[float, float]:
    da, dr = default_tolerance(ref_dtype)
    return (da if atol is None else float(atol)), (dr if rtol is None else float(rtol))


def compare(cand: list, ref: list, atol, rtol, atol_scale: float = 1.0) -> tuple[bool, float, str | None]:
    """(passed, max_abs_diff, reason), on whatever device the tensors are,
    in chunks so that a multi-GB output needs little extra memory. NaN and
    Inf never pass. `atol_scale` multiplies the absolute tolerance (inputs
    rescaled by that factor)."""
    worst = 0.0
    for i, (c, r) in enumerate(zip(cand, ref)):
        a, rt = tolerance(dtype_name(r.dtype), atol, rtol)
        a *= atol_scale
        cf, rf = c.reshape(-1), r.reshape(-1)
        if not (r.is_floating_point() or r.is_complex()):
            if not torch.equal(cf, rf):
                diff = (cf.to(torch.float64) - rf.to(torch.float64)).abs().max().item() if cf.numel() else 0.0
                return False, max(worst, diff), f"output {i} differs (exact match required for {r.dtype})"
            continue
        wide = torch.float64 if r.dtype == torch.float64 else torch.float32
        bad = 0
        md = 0.0
        for start in range(0, cf.numel(), CHUNK):
            c64 = cf[start:start + CHUNK].to(wide)
            r64 = rf[start:start + CHUNK].to(wide)
            if not bool(torch.isfinite(r64).all()):
                return False, math.inf, f"reference output {i} contains NaN or Inf"
            if not bool(torch.isfinite(c64).all()):
                return False, math.inf, f"output {i} contains NaN or Inf"
            diff = (c64 - r64).abs()
            md = max(md, float(diff.max().item()))
            bad += int((diff > a + rt * r64.abs()).sum().item())
        worst = max(worst, md)
        if bad:
            return False, worst, (f"output {i} mismatch: max abs diff {md:.3g} "
                                  f"(atol={a:g}, rtol={rt:g}, {bad}/{cf.numel()} elements off)")
    return True, worst, None


def zero_would_pass(ref: list, atol, rtol) -> bool:
    """True when an all-zero output would pass: the tolerance says nothing."""
    for r in ref:
        if not r.is_floating_point() or r.numel() == 0:
            return False
        a, rt = tolerance(dtype_name(r.dtype), atol, rtol)
        flat = r.reshape(-1)
        for start in range(0, flat.numel(), CHUNK):
            r32 = flat[start:start + CHUNK].to(torch.float32).abs()
            if not bool((r32 <= a + rt * r32).all()):
                return False
    return True


def all_finite(tensors: list) -> bool:
    return all((not x.is_floating_point()) or bool(x.isfinite().all()) for x in tensors)
