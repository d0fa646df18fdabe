#!/usr/bin/env python
"""Check the import contracts of pyproject.toml ([tool.importlinter]) on the package as installed.

    python scripts/lint_imports.py [lint-imports options, e.g. --verbose]

The folders core/, gpu_eval/, tui/ and splits/ become sgs.core, sgs.gpu_eval,
... only once installed (setuptools' package-dir), while import-linter finds a
package's modules on the file system, under the package's folder. So this lays
the installed layout out as symbolic links in a temporary folder, built from
package-dir, and runs lint-imports there. Exits with lint-imports' status.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lay_out_installed_package(dest: Path) -> None:
    """dest/sgs/... as installed: each package-dir entry linked at its dotted path."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        target = dest.joinpath(*name.split("."))
        if target.parent != dest and not target.parent.is_dir():
            sys.exit(f"package-dir maps {name} but not its parent package")
        if "." in name:
            target.symlink_to(ROOT / folder, target_is_directory=True)
            continue
        # A top-level package gets a real folder, so that its subpackages can be linked into it.
        target.mkdir()
        for entry in (ROOT / folder).iterdir():
            if entry.name != "__pycache__":
                (target / entry.name).symlink_to(entry)


def main() -> int:
    lint_imports = shutil.which("lint-imports", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if lint_imports is None:
        print("error: lint-imports not found; install the test extra: pip install -e '.[test]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sgs-lint-imports-") as tmp:
        lay_out_installed_package(Path(tmp))
        # Run from the layout, never from the repository: there `sgs` would be the
        # bare sgs/ folder, without core/, gpu_eval/ and tui/.
        env = {**os.environ, "PYTHONPATH": tmp}
        return subprocess.run([lint_imports, str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo", *sys.argv[1:]],
                              cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
