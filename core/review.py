"""Speedups that should not be trusted without a look.

A candidate equivalent to the reference (same forward after normalisation,
a forward that calls the reference's, or a ModelNew that inherits Model's
forward untouched) has a speedup that is pure timing noise.
"""
from __future__ import annotations

import ast
import threading

# Reviews run in the evaluator's result callbacks, several threads at once. CPython 3.11's AST
# constructor is not safe to use from several threads at a time (gh-106905: a spurious
# "SystemError: AST constructor recursion depth mismatch"), so parsing here goes one at a time.
_AST_LOCK = threading.Lock()

REVIEW_SPEEDUP = 10.0
REVIEW_FLAGS = ("reference_equivalent", "speedup_over_10x", "not_robust")


def _class_def(tree: ast.Module, name: str) -> ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    return None


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _normalised_body(fn: ast.FunctionDef) -> str:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # docstring
    return "\n".join(ast.dump(stmt, annotate_fields=False) for stmt in body)


def _calls_reference(fn: ast.FunctionDef) -> bool:
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        # super().forward(...), Model.forward(self, ...), Model(...)(...)
        if isinstance(f, ast.Attribute) and f.attr == "forward":
            base = f.value
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                return True
            if isinstance(base, ast.Name) and base.id == "Model":
                return True
        if isinstance(f, ast.Name) and f.id == "Model":
            return True
    return False


def reference_equivalent(reference_src: str, candidate_src: str) -> bool:
    try:
        with _AST_LOCK:
            ref_tree, cand_tree = ast.parse(reference_src), ast.parse(candidate_src)
    except SyntaxError:
        return False
    model, new = _class_def(ref_tree, "Model"), _class_def(cand_tree, "ModelNew")
    if new is None:
        return False
    new_forward = _method(new, "forward")
    if new_forward is None:
        # inherits Model.forward unchanged
        return any(isinstance(b, ast.Name) and b.id == "Model" for b in new.bases)
    if _calls_reference(new_forward):
        return True
    ref_forward = _method(model, "forward") if model is not None else None
    return ref_forward is not None and _normalised_body(ref_forward) == _normalised_body(new_forward)


def review_flags(reference_src: str, candidate_src: str | None, result: dict) -> list[str]:
    """The evaluator's flags plus the reviews sgs adds itself."""
    flags = list(result.get("flags") or [])
    if result.get("outcome") != "correct":
        return flags
    if candidate_src and reference_equivalent(reference_src, candidate_src) and "reference_equivalent" not in flags:
        flags.append("reference_equivalent")
    speedup = result.get("speedup")
    if speedup is not None and speedup > REVIEW_SPEEDUP and "speedup_over_10x" not in flags:
        flags.append("speedup_over_10x")
    if result.get("robust") is False and "not_robust" not in flags:
        flags.append("not_robust")
    return flags


def needs_review(flags: list[str]) -> bool:
    return any(f in REVIEW_FLAGS for f in flags)
