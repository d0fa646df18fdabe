"""Model backends, registered by name (``backend/model`` strings select them)."""
from __future__ import annotations

from ..registry import Registry, lazy
from .base import Backend, BackendError, Capabilities, Prompt

BACKENDS: Registry = Registry("backend")
BACKENDS.register("hf", lazy(f"{__name__}.hf", "HFBackend"))
BACKENDS.register("scripted", lazy(f"{__name__}.scripted", "ScriptedBackend"))
BACKENDS.register("openai", lazy(f"{__name__}.openai", "OpenAIBackend"))
BACKENDS.register("tinker", lazy(f"{__name__}.tinker", "TinkerBackend"))


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
