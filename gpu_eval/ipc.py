"""CUDA IPC for output buffers: the candidate exports, the trusted reference opens.

Outputs of multi-GB tasks never travel through the host: the candidate hands
the reference process a handle to each output's device memory and the
reference compares on the device. Only the CUDA driver API is used (through
ctypes), so nothing here depends on torch's own sharing machinery, which
needs a shared /dev/shm between the two processes.

A handle names a whole allocation (a block of torch's caching allocator);
an output is a byte range inside it: (handle, offset, nbytes). One process
may open a handle only once at a time, so the opener groups by handle.
"""
from __future__ import annotations

import base64
import ctypes

_HANDLE_BYTES = 64
_LAZY_ENABLE_PEER_ACCESS = 1


class IpcUnavailable(RuntimeError):
    """CUDA IPC cannot be used here (no driver, expandable segments, ...)."""


class _Handle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * _HANDLE_BYTES)]


_lib = None


def _driver():
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libcuda.so.1")
        except OSError as e:
            raise IpcUnavailable(f"no CUDA driver library: {e}") from None
        lib.cuMemGetAddressRange_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_size_t),
                                                ctypes.c_uint64]
        lib.cuIpcGetMemHandle.argtypes = [ctypes.POINTER(_Handle), ctypes.c_uint64]
        lib.cuIpcOpenMemHandle_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), _Handle, ctypes.c_uint]
        lib.cuIpcCloseMemHandle.argtypes = [ctypes.c_uint64]
        lib.cuGetErrorName.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        _lib = lib
    return _lib


def _check(code: int, what: str) -> None:
    if code != 0:
        name = ctypes.c_char_p()
        _driver().cuGetErrorName(code, ctypes.byref(name))
        raise IpcUnavailable(f"{what} failed: {(name.value or b'').decode() or code}")


def export(t) -> dict:
    """{"handle", "offset"} of a contiguous CUDA tensor's memory. The caller
    has synchronised the device, so the memory holds the final values."""
    lib = _driver()
    ptr = int(t.data_ptr())
    base, size = ctypes.c_uint64(), ctypes.c_size_t()
    _check(lib.cuMemGetAddressRange_v2(ctypes.byref(base), ctypes.byref(size), ctypes.c_uint64(ptr)),
           "cuMemGetAddressRange")
    handle = _Handle()
    _check(lib.cuIpcGetMemHandle(ctypes.byref(handle), base.value), "cuIpcGetMemHandle")
    raw = ctypes.string_at(ctypes.byref(handle), _HANDLE_BYTES)
    return {"handle": base64.b64encode(raw).decode("ascii"), "offset": ptr - base.value}


class _Array:
    """Just enough of __cuda_array_interface__ for torch.as_tensor to wrap
    device memory without copying."""

    def __init__(self, ptr: int, nbytes: int):
        self.__cuda_array_interface__ = {"shape": (nbytes,), "typestr": "|u1", "data": (ptr, False),
                                         "version": 2}


class Opened:
    """Byte views of another process's outputs, open until close()."""

    def __init__(self) -> None:
        self._bases: dict[str, tuple[int, int]] = {}      # handle -> (mapped start, end)

    def view(self, share: dict, nbytes: int, device: str):
        import torch
        key = share["handle"]
        if key not in self._bases:
            raw = base64.b64decode(key)
            if len(raw) != _HANDLE_BYTES:
                raise IpcUnavailable("malformed IPC handle")
            handle = _Handle.from_buffer_copy(raw)
            ptr = ctypes.c_uint64()
            _check(_driver().cuIpcOpenMemHandle_v2(ctypes.byref(ptr), handle, _LAZY_ENABLE_PEER_ACCESS),
                   "cuIpcOpenMemHandle")
            base, size = ctypes.c_uint64(), ctypes.c_size_t()
            _check(_driver().cuMemGetAddressRange_v2(ctypes.byref(base), ctypes.byref(size), ptr),
                   "cuMemGetAddressRange")
            self._bases[key] = (ptr.value, base.value + size.value)
        if nbytes == 0:
            return torch.empty(0, dtype=torch.uint8, device=device)
        start, end = self._bases[key]
        offset = int(share["offset"])
        # The range comes from the untrusted side: reading past the mapping
        # would fault in this (trusted) process.
        if offset < 0 or start + offset + nbytes > end:
            raise IpcUnavailable("an output's range lies outside its shared allocation")
        return torch.as_tensor(_Array(start + offset, nbytes), device=device)

    def close(self) -> None:
        lib = _lib
        for ptr, _ in self._bases.values():
            if lib is not None:
                lib.cuIpcCloseMemHandle(ptr)
        self._bases.clear()
