"""Selection strategies over a task's correct samples, registered by name."""
from __future__ import annotations

from ..registry import Registry, lazy
from .base import Group, Pick, Strategy, correct_groups, correct_samples, ranked_correct
from .identity import code_identity, normalise_code

STRATEGIES: Registry = Registry("selection strategy")


def _load(module: str, cls: str):
    """A loader giving an instance of the strategy class."""
    load_class = lazy(f"{__name__}.{module}", cls)
    return lambda: load_class()()


STRATEGIES.register("oracle", _load("oracle", "Oracle"))
STRATEGIES.register("surprisal-top3", _load("surprisal_top3", "SurprisalTop3"))
STRATEGIES.register("surprisal-top3-distinct", _load("surprisal_top3", "SurprisalTop3Distinct"))
STRATEGIES.register("surprisal", _load("surprisal", "Surprisal"))
STRATEGIES.register("random", _load("random_pick", "RandomPick"))
STRATEGIES.register("most-confident", _load("most_confident", "MostConfident"))

# The order tables list them in: the paper's five strategies.
DEFAULT_ORDER = ["oracle", "surprisal-top3", "surprisal", "random", "most-confident"]
# Every registered strategy, for reports.
ALL_ORDER = ["oracle", "surprisal-top3", "surprisal-top3-distinct", "surprisal", "random", "most-confident"]

__all__ = ["STRATEGIES", "DEFAULT_ORDER", "ALL_ORDER", "Group", "Pick", "Strategy", "code_identity",
           "correct_groups", "correct_samples", "normalise_code", "ranked_correct"]
