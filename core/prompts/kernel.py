"""The `kernel` style (KernelBench's): a complete module defining ModelNew with
custom kernels (CUDA through load_inline, or Triton)."""
from __future__ import annotations

import textwrap

from ..backends.base import Prompt
from ..types import Task
from . import templates
from .extraction import Extraction, Reading, best
from .reply import (
    PYTHON_LANGS, Block, Reply, code_kind, defines_model_new, needs_reference, parse_error, try_parse, variants,
)


def build(task: Task) -> Prompt:
    user = templates.KERNEL_USER.format(reference=task.reference_src.strip("\n"))
    return Prompt(({"role": "system", "content": templates.KERNEL_SYSTEM},
                   {"role": "user", "content": user}))


def _read_block(task: Task, block: Block) -> Reading:
    kind = code_kind(block.text)
    penalty = 0 if block.lang in PYTHON_LANGS else 4
    # The block as written first: a module that parses is evaluated byte for byte
    # (dedenting would also blank the whitespace-only lines of its CUDA strings).
    for code in dict.fromkeys([block.text] + variants(textwrap.dedent(block.text))):
        tree = try_parse(code)
        if tree is None:
            continue
        if not defines_model_new(tree):
            return Reading(1 - penalty, None, "no class ModelNew in reply", block.start, block.end, kind)
        module, offset = code, 0
        if needs_reference(tree):
            module = task.reference_src.rstrip() + "\n\n\n" + code
            offset = module.count("\n") - code.count("\n")
        error = parse_error(module, offset)
        if error:
            return Reading(3 - 10, None, error, block.start, block.end, kind)
        return Reading(3 - penalty, module, None, block.start, block.end, kind)
    guess = 3 if "class ModelNew" in block.text else 1
    error = parse_error(textwrap.dedent(block.text))
    return Reading(guess - 10 - penalty, None, error, block.start, block.end, kind)


def extract(reply: str, task: Task) -> Extraction:
    return best([_read_block(task, b) for b in Reply(reply).blocks()])
