"""Static checks of a candidate's source, by parsing it (ast), never by regex
over the Python text. They run in every evaluation path, before any code
of the candidate runs, and produce flags (and, for code that rewrites the
evaluator's timing or synchronisation functions, a rejection).
"""
from __future__ import annotations

import ast
import re

# Attributes whose replacement defeats the measurement itself: rejected.
_TIMING_ATTRS = {"synchronize", "perf_counter", "perf_counter_ns", "time", "monotonic", "Event",
                 "elapsed_time", "record", "allclose", "equal", "__call__"}
_INTROSPECTION = {"gc", "inspect", "ctypes", "cffi", "builtins", "importlib"}
_PROCESS = {"subprocess", "multiprocessing", "threading", "socket", "http", "urllib", "requests",
            "httpx", "asyncio", "signal", "pty", "shutil"}
_KERNEL_RE = re.compile(r"__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(?:static\s+)?void\s+(\w+)")
_STREAM_RE = re.compile(r"cudaStreamCreate|getStreamFromPool|cudaStreamNonBlocking")


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _strings(tree: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _class_dump(tree: ast.AST, cls_name: str) -> str | None:
    """The class's methods, docstrings left out, as a comparable string."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            body = []
            for item in node.body:
                if isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant):
                    continue
                if isinstance(item, ast.FunctionDef):
                    item = ast.FunctionDef(item.name, item.args, [
                        s for s in item.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                    ] or [ast.Pass()], [], None, None)
                body.append(item)
            # super(Model, self) and super(ModelNew, self) are the same call.
            return ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False).replace(
                f"Name('{cls_name}'", "Name('<cls>'")
    return None


def _calls_reference(tree: ast.AST) -> bool:
    """Builds the task's `Model`, or calls its forward (`Model.forward(...)`,
    or `super().forward(...)` in a subclass of it)."""
    subclasses = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                  and any(_dotted(b) == "Model" for b in n.bases)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in ("Model", "Model.forward"):
            return True
        if (isinstance(node.func, ast.Attribute) and node.func.attr == "forward" and subclasses
                and isinstance(node.func.value, ast.Call) and _dotted(node.func.value.func) == "super"):
            return True
    return False


def check(candidate_src: str, kind: str, reference_src: str | None = None) -> dict:
    """Returns {"syntax_error", "reject", "flags", "kernels"}."""
    result = {"syntax_error": None, "reject": None, "flags": [], "kernels": [], "builds": False}
    try:
        tree = ast.parse(candidate_src)
    except SyntaxError as e:
        result["syntax_error"] = f"SyntaxError: {e.msg} (line {e.lineno})"
        return result
    flags: set[str] = set()
    modules: dict[str, str] = {}           # local name -> module it names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                modules[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                top = a.name.split(".")[0]
                if top in _INTROSPECTION:
                    flags.add(f"static:introspection:{top}")
                if top in _PROCESS:
                    flags.add(f"static:process_or_network:{top}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for a in node.names:
                modules[a.asname or a.name] = f"{node.module}.{a.name}"
            if top in _INTROSPECTION:
                flags.add(f"static:introspection:{top}")
            if top in _PROCESS:
                flags.add(f"static:process_or_network:{top}")

    def is_module_attr(target: ast.AST) -> bool:
        return isinstance(target, ast.Attribute) and _root(target) in modules

    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            if node.args and _root(node.args[0]) in modules:
                name = _dotted(node.args[0])
                attr = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else "?"
                flags.add(f"static:monkeypatch:{name}.{attr}")
                if attr in _TIMING_ATTRS or attr == "?":
                    result["reject"] = f"candidate replaces {name}.{attr}"
        for t in targets:
            for sub in ([t] if not isinstance(t, ast.Tuple) else t.elts):
                if is_module_attr(sub):
                    name = _dotted(sub)
                    if ".backends." in f".{name}." and ("tf32" in name or "precision" in name):
                        flags.add(f"static:changes_precision_policy:{name}")
                        continue
                    flags.add(f"static:monkeypatch:{name}")
                    if sub.attr in _TIMING_ATTRS:
                        result["reject"] = f"candidate replaces {name}"
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted.endswith(("cuda.Stream", "cuda.stream", "cuda.set_stream")):
                flags.add("static:side_stream")
            if dotted in ("sys.modules", "sys._getframe", "os.environ", "os.system", "os.fork", "os.kill"):
                flags.add(f"static:uses:{dotted}")
            if dotted.endswith("set_float32_matmul_precision"):
                flags.add("static:changes_precision_policy:set_float32_matmul_precision")
        if isinstance(node, ast.Name) and node.id in ("__builtins__", "globals", "__import__", "eval", "exec"):
            flags.add(f"static:uses:{node.id}")
        if isinstance(node, ast.ClassDef):
            for b in node.bases:
                if _dotted(b).endswith("Tensor"):
                    flags.add("static:tensor_subclass")
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("__torch_function__", "__torch_dispatch__"):
                    flags.add("static:tensor_subclass")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                name = _dotted(d.func if isinstance(d, ast.Call) else d)
                if name.split(".")[-1] in ("lru_cache", "cache", "cached_property"):
                    flags.add("static:memoization")
                if name.split(".")[-1] in ("jit", "autotune") and ("triton" in name or name in ("jit", "autotune")):
                    result["kernels"].append(node.name)

    # Builds an extension (load_inline / load): its build goes to the build cache.
    result["builds"] = any(
        (isinstance(n, ast.Name) and n.id in ("load_inline", "load")) or
        (isinstance(n, ast.Attribute) and n.attr in ("load_inline", "cpp_extension"))
        for n in ast.walk(tree)) or kind in ("cuda", "triton")
    strings = _strings(tree)
    for s in strings:
        result["kernels"].extend(_KERNEL_RE.findall(s))
        if _STREAM_RE.search(s):
            flags.add("static:side_stream")
    result["kernels"] = sorted(set(result["kernels"]))
    if kind in ("cuda", "triton") and not result["kernels"]:
        flags.add("static:no_custom_kernel")
    if not any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in ast.walk(tree)):
        flags.add("static:no_ModelNew_class")
    if _calls_reference(tree):
        # A hint only: the run itself counts calls of the reference's forward
        # and flags `reference_equivalent` when there are any.
        flags.add("static:calls_reference")
    if reference_src and not result["kernels"]:
        # The same class as the reference's Model, method for method, and no
        # kernel of its own: the candidate is the reference.
        try:
            ref_cls = _class_dump(ast.parse(reference_src), "Model")
            cand_cls = _class_dump(tree, "ModelNew")
            if ref_cls is not None and ref_cls == cand_cls:
                flags.add("reference_equivalent")
        except SyntaxError:
            pass
    result["flags"] = sorted(flags)
    return result
