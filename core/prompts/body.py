"""The `body` style: the model writes only the body of ModelNew.forward in PyTorch.

The evaluated module is the reference source followed by
``class ModelNew(Model)`` whose forward has the reference's signature and
the extracted body.
"""
from __future__ import annotations

import ast
import textwrap

from ..backends.base import Prompt
from ..tasks.parse import forward_signature
from ..types import Task
from . import templates
from .extraction import Extraction, Reading, best
from .reply import (
    PYTHON_LANGS, Block, Reply, body_variants, code_kind, needs_reference, parse_error,
    try_parse, variants,
)

INDENT = "    "


def build(task: Task) -> Prompt:
    user = templates.BODY_USER.format(
        reference=task.reference_src.strip("\n"), signature=forward_signature(task.reference_src))
    return Prompt(({"role": "system", "content": templates.BODY_SYSTEM},
                   {"role": "user", "content": user}))


def _header(task: Task) -> str:
    return task.reference_src.rstrip() + "\n\n\nclass ModelNew(Model):\n"


def assemble(task: Task, body: str) -> str:
    """Reference source + ModelNew(Model) with the reference's forward signature and `body`."""
    signature = forward_signature(task.reference_src)
    return (_header(task) + INDENT + signature + "\n"
            + textwrap.indent(body.strip("\n"), INDENT * 2, lambda line: True) + "\n")


def _lines(code: str, node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(code.split("\n")[first - 1:node.end_lineno])


def _forward_of(cls: ast.ClassDef) -> ast.FunctionDef | None:
    for item in cls.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "forward":
            return item
    return None


def _reference_forward_dump(task: Task) -> str | None:
    tree = try_parse(task.reference_src)
    for node in tree.body if tree else []:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            fwd = _forward_of(node)
            return ast.dump(fwd) if fwd else None
    return None


def _check(code: str, line_offset: int, block: Block, score: float, kind: str) -> Reading:
    error = parse_error(code, line_offset)
    if error:
        return Reading(score - 10, None, error, block.start, block.end, kind)
    return Reading(score, code, None, block.start, block.end, kind)


def _module_reading(task: Task, code: str, tree: ast.Module, block: Block, kind: str) -> Reading | None:
    """A reply holding a class ModelNew, a forward def, or a rewritten class."""
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if any(c.name == "ModelNew" for c in classes):
        # Always after the reference, so the module carries its inputs and imports;
        # alone only if it cannot follow it (a `from __future__` import).
        module = _header(task)[:-len("class ModelNew(Model):\n")] + code
        offset = module.count("\n") - code.count("\n")
        if parse_error(module) and not parse_error(code) and not needs_reference(tree):
            module, offset = code, 0
        return _check(module, offset, block, 3, kind)

    forward_node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and n.name == "forward"), None)
    owner = None
    if forward_node is None:
        for cls in classes:
            if _forward_of(cls) is not None:
                owner, forward_node = cls, _forward_of(cls)
                break
    if forward_node is None:
        return None

    score = 2.0
    if owner is not None and ast.dump(forward_node) == _reference_forward_dump(task):
        score = -20.0  # the reference echoed back, not an answer
    prelude = [n for n in tree.body if n is not owner and n is not forward_node]
    if owner is not None and any(item is not forward_node and not isinstance(item, ast.Expr)
                                 for item in owner.body):
        # A whole class with its own __init__ or helpers: keep it, as ModelNew.
        lines = code.split("\n")
        head = lines[owner.lineno - 1]
        lines[owner.lineno - 1] = head.replace(f"class {owner.name}", "class ModelNew", 1)
        renamed = "\n".join(lines)
        return _check(_header(task)[:-len("class ModelNew(Model):\n")] + renamed, 0, block, score, kind)

    method = textwrap.dedent(_lines(code, forward_node))
    pre = "\n".join(_lines(code, n) for n in prelude)
    module = (task.reference_src.rstrip() + "\n\n" + (pre + "\n\n" if pre else "")
              + "\nclass ModelNew(Model):\n" + textwrap.indent(method, INDENT) + "\n")
    return _check(module, 0, block, score, kind)


def _body_reading(task: Task, block: Block, kind: str) -> Reading:
    header_lines = _header(task).count("\n") + 1  # + the signature line
    first_error = None
    for body in body_variants(block.text):
        tree = try_parse("def _f():\n" + textwrap.indent(body, INDENT, lambda line: True))
        if tree is None:
            continue
        stmts = tree.body[0].body
        score = 1.0 if any(isinstance(n, ast.Return) for s in stmts for n in _walk_same_scope(s)) else 0.0
        if len(stmts) == 1 and isinstance(stmts[0], ast.Expr) and score == 0.0:
            # A lone expression: the model forgot `return`.
            body, score = "return " + body.lstrip(), 0.5
        reading = _check(assemble(task, body), header_lines, block, score, kind)
        if reading.code is not None:
            return reading
        first_error = first_error or reading
    if first_error is not None:
        return first_error
    error = parse_error(textwrap.dedent(block.text))
    if not error:  # valid as a module but not as a body (e.g. `return` in odd places)
        error = parse_error("def _f():\n" + textwrap.indent(textwrap.dedent(block.text), INDENT), 1)
    guess = 3 if "class ModelNew" in block.text else 2 if "def forward" in block.text else 1
    return Reading(guess - 10, None, error or "extracted code does not parse", block.start, block.end, kind)


def _walk_same_scope(node: ast.AST):
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            yield from _walk_same_scope(child)


def _read_block(task: Task, block: Block) -> Reading:
    kind = code_kind(block.text)
    reading = None
    for code in variants(textwrap.dedent(block.text)):
        tree = try_parse(code)
        if tree is not None:
            reading = _module_reading(task, code, tree, block, kind)
            break
    if reading is None:
        reading = _body_reading(task, block, kind)
    if block.lang not in PYTHON_LANGS:
        reading.score -= 4
    return reading


def extract(reply: str, task: Task) -> Extraction:
    return best([_read_block(task, b) for b in Reply(reply).blocks()])
