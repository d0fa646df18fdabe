"""Where the task files and the kernel corpus are, and what a task file's
module-level size constants are.

Looked up in order: an explicit path, `$SGS_SHARED`, `../shared` beside the
repository, then `.gpu_data/` in the repository (the folder carried to a GPU
machine, which holds only the files the benchmark needs: the full shared
folder wins where both exist). Nothing from these folders is committed to the
project.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPLIT_FILE = REPO / "splits" / "l1_seed42.json"
GPU_DATA = REPO / ".gpu_data"


def shared_roots() -> list[Path]:
    roots = [Path(os.environ["SGS_SHARED"])] if os.environ.get("SGS_SHARED") else []
    return roots + [REPO / ".." / "shared", Path("/work/shared"), GPU_DATA]


def find(relative: str, env: str | None = None) -> Path | None:
    """The first existing `root/relative`; `env` names a variable that gives
    the path itself (e.g. SGS_TEST_KERNELBENCH for the current task set)."""
    if env and os.environ.get(env):
        p = Path(os.environ[env])
        return p if p.exists() else None
    for root in shared_roots():
        p = root / relative
        if p.exists():
            return p.resolve()
    return None


def kernelbench_root() -> Path | None:
    return find("kernelbench", "SGS_TEST_KERNELBENCH")


def kernelbench_v0_root() -> Path | None:
    return find("kernelbench-v0")


def corpus_path() -> Path | None:
    return find("corpora/leaderboard_kernels.jsonl") or find("leaderboard_kernels.jsonl")


def task_file(root: Path, level: int, problem_id: int) -> Path:
    matches = sorted((root / f"level{level}").glob(f"{problem_id}_*.py"))
    if len(matches) != 1:
        raise FileNotFoundError(f"level {level} problem {problem_id}: {len(matches)} files in {root}")
    return matches[0]


def eval_split_ids() -> list[int]:
    import json
    return list(json.loads(SPLIT_FILE.read_text())["problem_ids"]["eval"])


def module_constants(src: str) -> dict:
    """Top-level `NAME = <expression of numbers and earlier constants>`
    assignments, evaluated without builtins (e.g. `K = 131072 * 8`,
    `input_shape = (num_classes,)`, `height, width = 32, 32`)."""
    env: dict = {}
    for node in ast.parse(src).body:
        if not isinstance(node, ast.Assign):
            continue
        try:
            value = eval(compile(ast.Expression(node.value), "<constant>", "eval"), {"__builtins__": {}}, dict(env))
        except Exception:  # noqa: BLE001 - not a constant expression (a call, a tensor): skipped
            continue
        if not _numeric(value):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name):
                env[target.id] = value
            elif isinstance(target, ast.Tuple) and isinstance(value, tuple) and len(target.elts) == len(value):
                for elt, v in zip(target.elts, value):
                    if isinstance(elt, ast.Name):
                        env[elt.id] = v
    return env


def _numeric(value) -> bool:
    if isinstance(value, tuple):
        return all(_numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shrink(src: str, small: dict[str, str]) -> str:
    """A copy of a task file with the named module-level constants set to
    small values (the whole assignment line is replaced)."""
    out = src
    for name, value in small.items():
        pattern = re.compile(rf"^{re.escape(name)}\s*=.*$", re.M)
        if not pattern.search(out):
            raise KeyError(f"no module-level constant {name!r} in the task file")
        out = pattern.sub(f"{name} = {value}", out, count=1)
    return out
