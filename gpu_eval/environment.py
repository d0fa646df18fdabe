"""What the evaluated code may see of the environment, and what it runs on.

Evaluated code is untrusted, so its environment is built from an allow-list
of harmless variables, and any name that looks like a credential is dropped
even when the allow-list would keep it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys

# Variables evaluated code may inherit: toolchains, locale, thread counts,
# CUDA and Python search paths. Anything else is dropped.
_ALLOWED = re.compile(
    r"^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM|SHELL|USER|LOGNAME|HOSTNAME|"
    r"PYTHONPATH|PYTHONHASHSEED|PYTHONUNBUFFERED|PYTHONDONTWRITEBYTECODE|VIRTUAL_ENV|CONDA_PREFIX|"
    r"LD_LIBRARY_PATH|LIBRARY_PATH|CPATH|C_INCLUDE_PATH|CPLUS_INCLUDE_PATH|CC|CXX|CUDAHOSTCXX|NVCC_[A-Z_]+|"
    r"CUDA_[A-Z_]+|NVIDIA_[A-Z_]+|CUDNN_[A-Z_]+|NCCL_[A-Z_]+|NVSHMEM_[A-Z_]+|"
    r"TORCH_[A-Z_]+|PYTORCH_[A-Z_]+|TRITON_[A-Z_]+|"
    r"OMP_[A-Z_]+|MKL_[A-Z_]+|KMP_[A-Z_]+|OPENBLAS_[A-Z_]+|GOMP_[A-Z_]+)$"
)

# Names that look like credentials are never passed on, allow-listed or not.
_SECRET = re.compile(
    r"(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|"
    r"^AWS_|^OPENAI_|^ANTHROPIC_|^AZURE_|^GOOGLE_|^GCP_|^HF_|^HUGGING|^TINKER_|^GITHUB_|^GH_|^WANDB_)",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def scrubbed_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment evaluated code starts from: allow-listed, credential-free."""
    base = os.environ if base is None else base
    return {k: v for k, v in base.items() if _ALLOWED.match(k) and not looks_secret(k)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def usable_cores() -> int:
    """Cores this process may run on (its affinity, e.g. under taskset or a
    container's cpuset), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def default_threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(4, n))


@functools.lru_cache(maxsize=1)
def torch_versions() -> dict:
    """torch's version and the CUDA it was built for, read from its
    version.py: the evaluator process itself never imports torch (seconds),
    only its children do."""
    import importlib.util
    import re
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return {"torch": None, "cuda": None}
    try:
        with open(os.path.join(list(spec.submodule_search_locations)[0], "version.py")) as f:
            text = f.read()
    except OSError:
        import torch
        return {"torch": str(torch.__version__), "cuda": torch.version.cuda}
    version = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)", text, re.M)
    cuda = re.search(r"^cuda(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)", text, re.M)
    return {"torch": version.group(1) if version else None, "cuda": cuda.group(1) if cuda else None}


_PROBE = r"""
import json, torch
out = {"cuda": torch.version.cuda, "devices": []}
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        free, _ = torch.cuda.mem_get_info(i)
        out["devices"].append({"index": i, "name": p.name, "capability": [p.major, p.minor],
            "total_memory": p.total_memory, "free_memory": free,
            "l2_bytes": getattr(p, "L2_cache_size", 0) or 0,
            "uuid": str(getattr(p, "uuid", "")), "sms": p.multi_processor_count})
print(json.dumps(out))
"""


def cache_dir() -> str:
    """sgs's cache folder: $SGS_CACHE, else $XDG_CACHE_HOME/sgs, else ~/.cache/sgs."""
    return os.environ.get("SGS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sgs")


def machine_key(*extra) -> str:
    """What a probe of this machine's GPUs depends on: the boot, the driver,
    the visible devices, torch and CUDA. A probe stored under the key holds
    until one of them changes."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    try:
        with open("/proc/driver/nvidia/version") as f:
            driver = f.readline().strip()
    except OSError:
        driver = ""
    versions = torch_versions()
    blob = json.dumps([boot, driver, os.environ.get("CUDA_VISIBLE_DEVICES"), versions, *extra])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_probe(name: str, key: str):
    try:
        with open(os.path.join(cache_dir(), "probes", f"{name}-{key}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save_probe(name: str, key: str, value) -> None:
    """Written atomically: several evaluators may probe at once."""
    folder = os.path.join(cache_dir(), "probes")
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{name}-{key}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump(value, f)
        os.replace(tmp, os.path.join(folder, f"{name}-{key}.json"))
    except OSError:
        pass


@functools.lru_cache(maxsize=1)
def cuda_devices() -> tuple[dict, ...]:
    """The visible CUDA devices, probed in a child so this process never
    initialises CUDA (a fork server must be started from a CUDA-free state);
    the probe is kept on disk for the next process on this boot."""
    if torch_versions()["cuda"] is None:
        return ()
    key = machine_key()
    stored = load_probe("devices", key)
    if isinstance(stored, list):
        return tuple(stored)
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                             timeout=120, env=scrubbed_env())
        devices = json.loads(out.stdout.strip().splitlines()[-1])["devices"]
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return ()
    save_probe("devices", key, devices)
    return tuple(devices)


def free_memory(index: int) -> int | None:
    """Bytes free on GPU `index` now (nvidia-smi, which needs no CUDA
    context here), or None when it cannot be told."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    physical = _physical(index)
    try:
        out = subprocess.run([smi, "-i", str(physical), "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
        return int(out.stdout.split()[0]) << 20 if out.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def _physical(index: int):
    """The NVML/nvidia-smi id of CUDA device `index` under CUDA_VISIBLE_DEVICES."""
    vis = os.environ.get("CUDA_VISIBLE_DEVICES")
    if vis:
        parts = [p.strip() for p in vis.split(",") if p.strip()]
        if index < len(parts):
            return int(parts[index]) if parts[index].isdigit() else parts[index]
    return index


def cuda_index(device: str) -> int:
    if device in ("cuda", "gpu"):
        return 0
    try:
        return int(device.split(":", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"bad device {device!r}: expected cpu, cuda, cuda:N or auto") from None


def hardware_label(device: str, num_threads: int | None = None) -> str:
    """Human-readable label of the hardware a device name runs on; part of
    every reference-cache key, so timings never mix machines."""
    if device == "cpu":
        n = num_threads or default_threads()
        return f"cpu: {cpu_model()} x{n} threads"
    if device.startswith("cuda") or device == "gpu":
        idx = cuda_index(device)
        devs = cuda_devices()
        if idx < len(devs):
            return devs[idx]["name"]
        return "no gpu"
    raise ValueError(f"bad device {device!r}: expected cpu, cuda, cuda:N or auto")


def gpu_compute_pids(index: int) -> set[int] | None:
    """PIDs of processes holding a compute context on GPU `index` (NVML order,
    mapped through CUDA_VISIBLE_DEVICES); None when it cannot be told."""
    physical = _physical(index)
    try:
        import pynvml  # nvidia-ml-py
        pynvml.nvmlInit()
        try:
            h = (pynvml.nvmlDeviceGetHandleByIndex(physical) if isinstance(physical, int)
                 else pynvml.nvmlDeviceGetHandleByUUID(physical))
            procs = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
            return {p.pid for p in procs}
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        pass
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "-i", str(physical), "--query-compute-apps=pid", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        return {int(x) for x in out.stdout.split() if x.strip().isdigit()}
    except (OSError, subprocess.TimeoutExpired):
        return None


def host_memory_available() -> int:
    """Bytes of host memory available to new processes (MemAvailable), or 0
    when it cannot be told."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
