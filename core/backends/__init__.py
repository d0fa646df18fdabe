"""Model backends, registered by name (``backend/model`` strings select them)."""
from __future__ import annotations

from ..registry import Registry
from .base import Backend, BackendError, Capabilities, Prompt

BACKENDS: Registry = Registry("backend")


def _hf():
    from .hf import HFBackend
    return HFBackend


def _scripted():
    from .scripted import ScriptedBackend
    return ScriptedBackend


def _openai():
    from .openai import OpenAIBackend
    return OpenAIBackend


def _tinker():
    from .tinker import TinkerBackend
    return TinkerBackend


BACKENDS.register("hf", _hf)
BACKENDS.register("scripted", _scripted)
BACKENDS.register("openai", _openai)
BACKENDS.register("tinker", _tinker)


def parse_model_spec(spec: str, default_backend: str = "hf") -> tuple[str, str]:
    """'openai/gpt-4o' -> ('openai', 'gpt-4o'); a bare model id gets the default backend.

    Only a known backend name counts as a prefix, so HF ids such as
    'HuggingFaceTB/SmolLM2-135M' stay whole.
    """
    head, sep, tail = spec.partition("/")
    if sep and head in BACKENDS:
        return head, tail
    return default_backend, spec


def make_backend(name: str, model: str, **options) -> Backend:
    cls = BACKENDS.get(name)
    return cls(model=model, **options)


__all__ = ["BACKENDS", "Backend", "BackendError", "Capabilities", "Prompt", "make_backend", "parse_model_spec"]
