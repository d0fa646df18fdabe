"""Tests of the benchmarks' own machinery (generator, drivers, baseline runner).

The benchmarks are scripts under benchmarks/, not an installed package: the
folder goes on sys.path here. Tests that need the shared KernelBench data skip
when it is absent (SGS_TEST_KERNELBENCH, default ../shared/kernelbench).
"""
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from real_workload import sources  # noqa: E402


@pytest.fixture(scope="session")
def kernelbench():
    root = sources.kernelbench_root()
    if root is None or not (root / "level1").is_dir():
        pytest.skip("KernelBench task files not found (set SGS_TEST_KERNELBENCH)")
    return root
