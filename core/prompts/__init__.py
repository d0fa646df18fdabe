"""Prompt styles and reply extraction.

Styles (registered in PROMPT_STYLES):
- ``body``: the model returns only the body of ``ModelNew.forward`` in
  PyTorch; the evaluated module is the reference followed by
  ``class ModelNew(Model)`` with the reference's forward signature.
- ``kernel``: KernelBench's style, a full ``ModelNew`` module with custom
  CUDA (load_inline) or Triton kernels.

TEMPLATE_VERSION is recorded with every run; bump it whenever any template
text in `templates.py` changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from ..backends.base import Prompt
from ..registry import Registry, UnknownName
from ..types import Task
from .extraction import NO_CODE, Extraction

TEMPLATE_VERSION = "1"


@dataclass(frozen=True)
class PromptStyle:
    name: str
    build: Callable[[Task], Prompt]
    extract: Callable[[str, Task], Extraction]


def _style(name: str, module: ModuleType) -> PromptStyle:
    return PromptStyle(name, module.build, module.extract)


def _body() -> PromptStyle:
    from . import body
    return _style("body", body)


def _kernel() -> PromptStyle:
    from . import kernel
    return _style("kernel", kernel)


PROMPT_STYLES: Registry = Registry("prompt style")
PROMPT_STYLES.register("body", _body)
PROMPT_STYLES.register("kernel", _kernel)


class PromptError(ValueError):
    """An unknown prompt style (one line)."""


def get_style(style: str) -> PromptStyle:
    try:
        return PROMPT_STYLES.get(style)
    except UnknownName as e:
        raise PromptError(str(e)) from None


def build_prompt(task: Task, style: str = "body") -> Prompt:
    """Chat messages (system + user) asking for a faster version of `task`."""
    return get_style(style).build(task)


def extract(reply: str, task: Task, style: str = "body") -> Extraction:
    """The module to evaluate from a raw model reply, with its span in the reply."""
    return get_style(style).extract(reply, task)


__all__ = ["TEMPLATE_VERSION", "PROMPT_STYLES", "PromptStyle", "PromptError", "Extraction",
           "NO_CODE", "build_prompt", "extract", "get_style"]
