"""Packaging: every package folder of the tree is installed, under the `sgs` namespace.

pyproject.toml maps the top-level folders (core/, gpu_eval/, tui/, splits/)
into `sgs.*` through `package-dir` and lists the packages by hand, so a new
folder that is not listed would be left out of a wheel while still importing
fine from an editable install. These tests compare the list with the tree,
build a wheel from a copy of the tree, and check that the install in use
exposes every listed package.
"""
import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
LISTED: list[str] = SETUPTOOLS["packages"]


def _folders(root: Path) -> list[Path]:
    return [root, *(d for d in sorted(root.rglob("*")) if d.is_dir() and "__pycache__" not in d.parts)]


def tree_packages() -> dict[str, Path]:
    """Dotted name -> folder, for every folder holding Python modules under a mapped folder."""
    found = {}
    for name, folder in PACKAGE_DIR.items():
        root = ROOT / folder
        for d in _folders(root):
            if any(d.glob("*.py")):
                found[".".join([name, *d.relative_to(root).parts])] = d
    return found


def test_every_package_folder_is_listed_in_pyproject():
    tree = tree_packages()
    assert {"sgs.core", "sgs.gpu_eval", "sgs.tui", "sgs.cli"} <= set(tree)
    missing = sorted(set(tree) - set(LISTED))
    stale = sorted(set(LISTED) - set(tree))
    assert missing == [], f"package folders not in [tool.setuptools] packages: {missing}"
    assert stale == [], f"[tool.setuptools] packages names folders that do not exist: {stale}"
    assert len(LISTED) == len(set(LISTED))


def test_a_built_wheel_holds_every_module_and_data_file(tmp_path):
    pytest.importorskip("setuptools", reason="the build backend (setuptools) is not installed")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in set(PACKAGE_DIR.values()):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"],
        cwd=src, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    # Every file of a mapped folder ships: modules, and data the code reads at run
    # time (the splits, the built-in candidate pool, the app's stylesheet).
    expected = set()
    for name, folder in PACKAGE_DIR.items():
        root = ROOT / folder
        expected |= {f"{name.replace('.', '/')}/{f.relative_to(root).as_posix()}" for f in root.rglob("*")
                     if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"}
    assert {"sgs/splits/l1_seed42.json", "sgs/core/tasks/builtin/pool/pool.jsonl", "sgs/tui/app.tcss"} <= expected
    assert sorted(expected - names) == []


def test_the_install_in_use_exposes_every_listed_package():
    unfound = [name for name in LISTED if importlib.util.find_spec(name) is None]
    assert unfound == []
    # and from this tree: an editable install of another checkout would test the wrong code
    for name in ("sgs.core", "sgs.gpu_eval", "sgs.tui", "sgs.cli"):
        origin = Path(importlib.util.find_spec(name).origin).resolve()
        assert origin.is_relative_to(ROOT), f"{name} comes from {origin}, not {ROOT}"
