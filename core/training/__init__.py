"""Test-time training beside search: batch TTT with best-of-adaptation, SDPO,
and the over-sharpening probe.

- `TrainingConfig` (config.py): the settings, with the paper's defaults.
- `run_training` / `TrainingLoop` (loop.py): sample -> evaluate -> reward -> update, step by step, in SQLite.
- rewards.py: the running-median speedup reward and global advantage normalisation.
- losses.py: the importance-sampling loss and its data layout.
- sdpo.py: the feedback-conditioned teacher and its token advantages.
- probe.py: probe correlations (mean NLL vs speedup) and sample diversity.
- tables.py: the per-step table, best-of-adaptation with equivalent K, and the
  comparison with best-of-N at matched sample budgets.
- trainer.py: the protocol backends implement (local peft LoRA, Tinker).

Names are loaded on first use, so the pure modules (rewards, losses, sdpo,
probe, trainer) import without the store's dependencies (a bare GPU machine
runs benchmarks/bench_ttt.py with them).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "config": ("METHODS", "OptimSettings", "TrainingConfig"),
    "loop": ("TrainingLoop", "TrainingStopped", "create_training", "run_training"),
    "tables": ("ComparisonRow", "StepRow", "best_of_adaptation", "comparison_rows", "comparison_table", "step_row",
               "step_table", "training_summary"),
    "trainer": ("TRAINERS", "Trainer", "UpdateStats", "make_trainer"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
