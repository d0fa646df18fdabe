"""How a candidate is written: task specs, the module styles a body is rendered in,
and the failure modes shared by every task.

A task spec lists function bodies of `forward` (correct rewrites, wrong outputs,
runtime errors, out-of-memory); `render` turns one body into a whole module in
one of several styles (a plain method, a module-level helper, an inner module,
...) and with the arguments optionally renamed, so that the sources differ the
way independent samples of a model differ. Placeholders such as `{w}` (the
weight) are filled from the way `__init__` keeps the task's parameters.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Callable

# Verdicts a candidate should get, in the evaluator's outcome names; `oom` is
# a candidate that allocates far more than the GPU holds.
LABELS = ("correct", "incorrect", "runtime_error", "compile_error", "crashed", "timeout", "oom")
# What the evaluator reports for each label: an out-of-memory error is an
# exception in the candidate's forward, reported as a runtime error.
EXPECTED_OUTCOME = {label: label for label in LABELS} | {"oom": "runtime_error"}

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
HEADER_ALT = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"


@dataclass(frozen=True)
class Body:
    """One way to write forward's body. `text` returns the output (it may use
    `self`, the argument names and placeholders like `{w}`); `variant` says
    what kind of candidate it is (`rewrite`, `same_op`, `scale`, `axis`, ...)."""
    text: str
    variant: str
    imports: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()           # placeholders only some inits provide (e.g. "m": the module)


@dataclass(frozen=True)
class Init:
    """One way to write `__init__` (its body, without super().__init__()) and
    what the placeholders stand for with it."""
    body: str
    fill: dict = field(default_factory=dict)
    imports: tuple[str, ...] = ()


@dataclass
class TaskSpec:
    task_id: str
    args: tuple[str, ...]                      # forward's arguments, as the reference names them
    tensor_args: tuple[str, ...]
    renames: tuple[dict, ...]                  # other names for the arguments
    small: dict[str, str]                      # module constant -> small value (CPU label checks)
    correct: list[Body]
    wrong: list[Body]
    runtime: list[Body]
    oom: list[tuple[Body, Callable[[dict], float]]]   # body, GiB it asks for at the task's real sizes
    init_sig: str | None = None                # __init__'s parameters after self, None: no parameters
    inits: tuple[Init, ...] = (Init("pass"),)


def fill(text: str, values: dict) -> str:
    def sub(m):
        key = m.group(1)
        return values[key] if key in values else m.group(0)
    return re.sub(r"\{(\w+)\}", sub, text)


def rename_args(text: str, mapping: dict) -> str:
    if not mapping:
        return text
    pattern = re.compile(r"(?<![\w.'\"])(" + "|".join(map(re.escape, mapping)) + r")(?![\w'\"])")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.strip("\n").split("\n"))


STYLES = ("method", "helper", "no_grad", "split", "contiguous", "inner", "classic", "context")


def render(spec: TaskSpec, body: Body, style: str, rename: dict | None = None, init: Init | None = None,
           extra_imports: tuple[str, ...] = (), top_level: str = "") -> str:
    """A whole candidate module: ModelNew whose forward runs `body`."""
    init = init or spec.inits[0]
    rename = rename or {}
    args = [rename.get(a, a) for a in spec.args]
    tensors = [rename.get(a, a) for a in spec.tensor_args]
    text = rename_args(fill(body.text, init.fill), rename)
    sig = ", ".join(args)
    init_sig = spec.init_sig or ""
    params = f", {init_sig}" if init_sig else ""
    imports = sorted(set(body.imports) | set(init.imports) | set(extra_imports))
    head = (HEADER_ALT if style == "classic" else HEADER) + "".join(f"import {m}\n" for m in imports)
    if top_level:
        head += "\n" + top_level.strip("\n") + "\n"
    init_lines = init.body

    def ctor(cls: str, old_super: bool = False) -> str:
        sup = f"super({cls}, self).__init__()" if old_super else "super().__init__()"
        lines = sup if init_lines.strip() == "pass" else sup + "\n" + init_lines
        return f"    def __init__(self{params}):\n" + indent(lines, 8) + "\n"

    if style == "method":
        cls = ("\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    def forward(self, {sig}):\n" + indent(text, 8) + "\n")
    elif style == "classic":
        cls = ("\n\nclass ModelNew(nn.Module):\n    \"\"\"Optimised version of Model.\"\"\"\n\n"
               + ctor("ModelNew", old_super=True) +
               f"\n    def forward(self, {sig}):\n" + indent(text, 8) + "\n")
    elif style == "helper":
        fn = "\n\ndef _forward_impl(mod, " + sig + "):\n" + indent(rename_args(text, {"self": "mod"}), 4) + "\n"
        cls = (fn + "\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    def forward(self, {sig}):\n        return _forward_impl(self, {sig})\n")
    elif style == "no_grad":
        cls = ("\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    @torch.no_grad()\n    def forward(self, {sig}):\n"
               f"        \"\"\"Same result as Model.forward.\"\"\"\n" + indent(text, 8) + "\n")
    elif style == "split":
        cls = ("\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    def _compute(self, {sig}):\n" + indent(text, 8) +
               f"\n\n    def forward(self, {sig}):\n        return self._compute({sig})\n")
    elif style == "contiguous":
        pro = "\n".join(f"{t} = {t}.contiguous()" for t in tensors)
        cls = ("\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    def forward(self, {sig}):\n" + indent(pro, 8) + "\n" + indent(text, 8) + "\n")
    elif style == "inner":
        cls = ("\n\nclass _Kernel(nn.Module):\n" + ctor("_Kernel") +
               f"\n    def forward(self, {sig}):\n" + indent(text, 8) + "\n"
               "\n\nclass ModelNew(nn.Module):\n    def __init__(self, *args, **kwargs):\n"
               "        super().__init__()\n        self.kernel = _Kernel(*args, **kwargs)\n"
               f"\n    def forward(self, {sig}):\n        return self.kernel({sig})\n")
    elif style == "context":
        cls = ("\n\nclass ModelNew(nn.Module):\n" + ctor("ModelNew") +
               f"\n    def forward(self, {sig}):\n        with torch.no_grad():\n" + indent(text, 12) + "\n")
    else:
        raise ValueError(f"unknown style {style!r}")
    return head + cls


# --- reference-equivalent variants -----------------------------------------
# `flag`: whether the evaluator (static check or review) is expected to raise
# `reference_equivalent` on it. A ModelNew that keeps a Model instance in an
# attribute is not recognised by either check today.

def reference_equivalents(spec: TaskSpec, reference_src: str) -> list[tuple[str, str, bool]]:
    """(variant, source, flag expected) for the task: ModelNew inheriting Model,
    calling its forward, holding one, or a copy of its class."""
    sig = ", ".join(spec.args)
    out = [
        ("inherit", HEADER + "\n\nclass ModelNew(Model):\n    pass\n", True),
        ("inherit_init", HEADER + "\n\nclass ModelNew(Model):\n    def __init__(self, *args, **kwargs):\n"
                                  "        super().__init__(*args, **kwargs)\n", True),
        ("super_forward", HEADER + "\n\nclass ModelNew(Model):\n    \"\"\"The reference is already optimal.\"\"\"\n\n"
                                   f"    def forward(self, {sig}):\n        return super().forward({sig})\n", True),
        ("model_forward", HEADER + "\n\nclass ModelNew(Model):\n"
                                   f"    def forward(self, {sig}):\n        return Model.forward(self, {sig})\n", True),
        ("holds_model", HEADER + "\n\nclass ModelNew(nn.Module):\n    def __init__(self, *args):\n"
                                 "        super().__init__()\n        self.reference = Model(*args)\n\n"
                                 f"    def forward(self, {sig}):\n        return self.reference({sig})\n", False),
        ("copy", copy_of_model(reference_src), True),
    ]
    return out


def copy_of_model(reference_src: str) -> str:
    """The reference's Model class, renamed ModelNew, with the reference's imports."""
    tree = ast.parse(reference_src)
    lines = reference_src.splitlines()
    imports = [ast.get_source_segment(reference_src, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    start = min([cls.lineno] + [d.lineno for d in cls.decorator_list])
    text = "\n".join(lines[start - 1: cls.end_lineno])
    text = re.sub(r"\bclass Model\b", "class ModelNew", text, count=1)
    text = re.sub(r"super\(Model,", "super(ModelNew,", text)
    return "\n".join(imports) + "\n\n\n" + text + "\n"


# --- failures shared by every task ------------------------------------------

# Runtime errors after the task's own computation (its result in `out`).
RUNTIME_TAILS = [
    Body("raise NotImplementedError(\"fused epilogue not written yet\")", "not_implemented"),
    Body("out = torch.ops.aten.fused_epilogue(out)", "missing_op"),
    Body("out = out.fused_apply()", "missing_method"),
]


EXITS = [
    Body("os._exit(0)", "exit", imports=("os",)),
    Body("sys.exit(\"kernel launch failed\")", "exit", imports=("sys",)),
]

CRASHES = [
    Body("os.abort()", "abort", imports=("os",)),
    Body("ctypes.string_at(0)", "segfault", imports=("ctypes",)),
    Body("os.kill(os.getpid(), signal.SIGSEGV)", "segfault", imports=("os", "signal")),
    Body("ctypes.memset(0, 0, 64)", "segfault", imports=("ctypes",)),
]

HANGS_IN_FORWARD = [
    Body("residual = 1.0\nwhile residual > 0:\n    residual = residual * 1.0", "hang_forward"),
    Body("step = 0\nwhile True:\n    step += 1", "hang_forward"),
    Body("while not torch.cuda.is_available() or True:\n    time.sleep(0.01)", "hang_forward", imports=("time",)),
    Body("done = False\nwhile not done:\n    done = done and True", "hang_forward"),
]

# Module-level code that never finishes (an "autotuning" loop at import).
HANGS_AT_TOP = [
    "_BLOCK = 1\nwhile _BLOCK > 0:\n    _BLOCK = max(_BLOCK, 1)\n",
    "_TUNED = {}\nwhile len(_TUNED) < 1:\n    _TUNED.clear()\n",
]

# Module-level code that fails when the module is imported.
COMPILE_ERRORS = [
    ("missing_module", "import fused_kernels_ext\n"),
    ("missing_module", "from torch.utils.fused_ops import fused_forward\n"),
    ("missing_library", "torch.ops.load_library(\"libfused_forward.so\")\n"),
    ("undefined_name", "_kernel = build_fused_kernel(block_size=256)\n"),
    ("bad_annotation", None),            # forward annotated with a name that is not imported
]
