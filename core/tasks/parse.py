"""Static checks on a KernelBench-format task file.

Task files are only ever parsed with `ast`, never imported: some upstream
files download model configs at import time, and listing tasks must stay
instant and side-effect free.
"""
from __future__ import annotations

import ast

from ..types import TaskError

REQUIRED_FUNCTIONS = ("get_inputs", "get_init_inputs")


class BrokenTask(TaskError):
    """A task file that exists but cannot be used; carries the id it would have had."""

    def __init__(self, message: str, task_id: str | None = None, path: str | None = None):
        super().__init__(message)
        self.task_id = task_id
        self.path = path


def _parse(src: str, where: str, task_id: str | None = None) -> ast.Module:
    try:
        return ast.parse(src)
    except SyntaxError as e:
        raise BrokenTask(
            f"{where}: does not parse: line {e.lineno}: {e.msg}", task_id, where
        ) from None
    except ValueError as e:  # e.g. NUL bytes
        raise BrokenTask(f"{where}: does not parse: {e}", task_id, where) from None


def _top_level_names(tree: ast.Module) -> tuple[dict[str, ast.ClassDef], set[str]]:
    classes: dict[str, ast.ClassDef] = {}
    functions: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(node.name)
        elif isinstance(node, ast.Assign):
            # `get_inputs = make_inputs` style aliases still define the name.
            for target in node.targets:
                if isinstance(target, ast.Name):
                    functions.add(target.id)
    return classes, functions


def check_task_source(src: str, where: str, task_id: str | None = None) -> None:
    """Raise BrokenTask (one line naming `where`) unless `src` is a usable task."""
    tree = _parse(src, where, task_id)
    classes, functions = _top_level_names(tree)
    missing = []
    if "Model" not in classes:
        missing.append("class Model")
    missing += [f"{name}()" for name in REQUIRED_FUNCTIONS if name not in functions]
    if missing:
        raise BrokenTask(f"{where}: defines no {', '.join(missing)}", task_id, where)


def _forward_def(src: str) -> ast.FunctionDef | None:
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "forward":
                    return item
    return None


def forward_signature(src: str) -> str:
    """The reference `Model.forward` signature as one source line, e.g.
    ``def forward(self, x: torch.Tensor) -> torch.Tensor:``.

    Falls back to ``def forward(self, *args):`` for a Model that inherits
    its forward (the body then receives the inputs as ``args``).
    """
    node = _forward_def(src)
    if node is None:
        return "def forward(self, *args):"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"def forward({ast.unparse(node.args)}){returns}:"


def forward_argument_names(src: str) -> list[str]:
    """Parameter names of `Model.forward` after `self` (with * / ** markers)."""
    node = _forward_def(src)
    if node is None:
        return ["*args"]
    a = node.args
    names = [p.arg for p in a.posonlyargs + a.args][1:]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    names += [p.arg for p in a.kwonlyargs]
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    return names
