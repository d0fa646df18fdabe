"""Builds of candidates' CUDA extensions (torch.utils.cpp_extension), inside
the candidate's child: a lighter torch/extension.h first, and compilers run
niced so the checks beside them keep a core.
"""
from __future__ import annotations

import os

BUILD_NICE = 10         # niceness of a candidate's compiles (0: as the child)

# Written over `#include <torch/extension.h>` for load_inline builds: the
# tensor API (ATen, torch::Tensor, torch::zeros/empty, TORCH_CHECK,
# AT_DISPATCH) without torch/all.h's C++ frontend (nn, optim, data, jit,
# serialize), which candidates' kernels do not use and which made up more
# than half of each build's compile time. The pybind11 bindings that
# load_inline generates get torch/python.h. A source that needs more fails
# to build and is built again with the full header.
LIGHT_EXTENSION_H = """#pragma once
// sgs: a lighter torch/extension.h for evaluation builds (see sgs.gpu_eval.harness)
#include <torch/types.h>
#if !defined(__CUDACC__)
#include <torch/python.h>
#endif
"""
LIGHT_FAILED_MARK = "sgs: the build with the light torch/extension.h failed; building with the full header"


class _NiceSubprocess:
    """torch.utils.cpp_extension's view of the subprocess module: the ninja
    build it runs (and the compilers under it) starts at a lower priority."""

    def __init__(self, real, nice: int):
        self._real, self._nice = real, nice

    def __getattr__(self, name):
        return getattr(self._real, name)

    def run(self, *args, **kwargs):
        if "preexec_fn" not in kwargs:
            nice = self._nice
            kwargs["preexec_fn"] = lambda: os.nice(nice)
        return self._real.run(*args, **kwargs)


def lower_build_priority(nice: int) -> None:
    """Compiles run niced: while they fill every core, the correctness checks
    beside them (which hold the GPU while they run, keeping timings waiting)
    and the parent that compares outputs still get the CPU when they need it.
    The cores still go to the compiles whenever nothing else wants them."""
    if nice <= 0 or not hasattr(os, "nice"):
        return
    import torch.utils.cpp_extension as cpp_ext
    real = getattr(cpp_ext, "subprocess", None)
    if real is not None and not isinstance(real, _NiceSubprocess):
        cpp_ext.subprocess = _NiceSubprocess(real, nice)


def light_header_builds(ext_dir: str, record: list) -> None:
    """Make load_inline build against LIGHT_EXTENSION_H first (through an
    include folder searched before torch's), falling back to the full header
    when that build fails. `record` gets "light" or "full" per build. A
    failed light build leaves a mark in the build-cache entry, so later
    evaluations of the same source go straight to the full header."""
    import functools
    import inspect

    import torch.utils.cpp_extension as cpp_ext
    orig = getattr(cpp_ext.load_inline, "__wrapped__", cpp_ext.load_inline)
    shim = os.path.join(ext_dir, "sgs_light_include")
    mark = os.path.join(ext_dir, "sgs_light_failed")
    header = os.path.join(shim, "torch", "extension.h")
    try:
        os.makedirs(os.path.dirname(header), exist_ok=True)
        with open(header) as f:
            current = f.read()
    except OSError:
        current = None
    if current != LIGHT_EXTENSION_H:
        # Written once per cache entry: a fresher header would make ninja
        # rebuild what the entry holds already. Atomic for concurrent builders.
        try:
            tmp = f"{header}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(LIGHT_EXTENSION_H)
            os.replace(tmp, header)
        except OSError:
            return
    sig = inspect.signature(orig)

    @functools.wraps(orig)
    def load_inline(*args, **kwargs):
        if os.path.exists(mark):
            record.append("full")
            return orig(*args, **kwargs)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return orig(*args, **kwargs)        # let torch report the bad call
        light = dict(bound.arguments)
        light["extra_include_paths"] = [shim] + list(light.get("extra_include_paths") or [])
        try:
            module = orig(**light)
            record.append("light")
            return module
        except RuntimeError as e:
            if "Error building extension" not in str(e):
                raise
            print(LIGHT_FAILED_MARK, flush=True)
            try:
                open(mark, "w").close()
            except OSError:
                pass
            # Build the full version under the plain name (version 0), as a
            # later process that skips the light attempt will ask for it; a
            # bumped "_v1" name would make that process build it all again.
            versioner = getattr(cpp_ext, "JIT_EXTENSION_VERSIONER", None)
            entries = getattr(versioner, "entries", None)
            if isinstance(entries, dict):
                entries.pop(light.get("name"), None)
        record.append("full")
        return orig(*args, **kwargs)

    cpp_ext.load_inline = load_inline
