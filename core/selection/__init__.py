"""Selection strategies over a task's correct samples, registered by name."""
from __future__ import annotations

from ..registry import Registry, lazy
from .base import Group, Pick, Strategy, correct_groups

STRATEGIES: Registry = Registry("selection strategy")


def _load(module: str, cls: str):
    """A loader giving an instance of the strategy class."""
    load_class = lazy(f"{__name__}.{module}", cls)
    return lambda: load_class()()


STRATEGIES.register("oracle", _load("oracle", "Oracle"))
STRATEGIES.register("surprisal-top3", _load("surprisal_top3", "SurprisalTop3"))
STRATEGIES.register("surprisal", _load("surprisal", "Surprisal"))
STRATEGIES.register("random", _load("random_pick", "RandomPick"))
STRATEGIES.register("most-confident", _load("most_confident", "MostConfident"))

# The order tables list them in.
DEFAULT_ORDER = ["oracle", "surprisal-top3", "surprisal", "random", "most-confident"]

__all__ = ["STRATEGIES", "DEFAULT_ORDER", "Group", "Pick", "Strategy", "correct_groups"]
