"""The paper's statistics: estimators only, pure functions, no I/O.

Inputs are a run's candidates grouped by task (`{task: [Candidate]}`); for
several runs pooled, the keys are (run, task) units and `clusters` maps each
unit to its task, so that intervals resample tasks, not seeds.

- fast_1 of a strategy: share of tasks whose pick is correct and faster than
  the reference (speedup > 1); a task without a correct sample counts 0;
  `random` enters as its exact expectation. Noise-aware: the lower end of
  the pick's speedup interval must exceed 1. Intervals: percentile bootstrap
  over tasks (clusters of task x seed units when runs are pooled).
- A correct pick that was never timed has no speedup: it is not fast, it is
  counted apart (`n_untimed`), and it stays out of the speedup means.
- Mean speedup: arithmetic over tasks, 0 where there is no correct pick;
  geometric mean: over timed picks only.
- Best-of-K: exact expectations over the K-of-n subsets for oracle, random
  and the rank-and-keep-the-fastest strategies; subsampling otherwise.
- Paired tests between strategies: Wilcoxon signed-rank on per-task log
  speedup ratios (an incorrect pick enters as speedup 1e-6), exact sign
  test on the tasks where one pick is fast and the other not.

`best_of_k_exact`, `strategy_table` and the rest take plain Candidates and
return dataclasses or dicts, so the CLI, the report and the terminal app
all read the same numbers.
"""
from __future__ import annotations

from .best_of_k import (EXACT_BEST_OF_K, BestOfK, EquivalentK, best_of_k, best_of_k_curve, best_of_k_exact,
                        equivalent_k, prob_none_drawn)
from .comparisons import Comparison, cohens_h, compare_strategies, sign_test, wilcoxon_log_ratio
from .correlation import expert_tail, spearman, surprisal_speedup_correlation
from .intervals import (LEVEL, N_BOOT, bootstrap_mean_ci, interval_coverage, paired_block_bootstrap_ci,
                        speedup_interval, wilson_interval)
from .strategies import (AUDIT_FLAG, INCORRECT_SPEEDUP, OUTSIDE_FLAG, Budget, StrategyRow, TaskPick, audit_summary,
                         computable, is_fast, is_fast_noise_aware, pool_runs, sample_fast_1, strategy_row,
                         strategy_table, task_picks, unscored_count)

__all__ = [
    "AUDIT_FLAG", "BestOfK", "Budget", "Comparison", "EXACT_BEST_OF_K", "EquivalentK", "INCORRECT_SPEEDUP", "LEVEL",
    "N_BOOT", "OUTSIDE_FLAG",
    "StrategyRow", "TaskPick", "audit_summary", "best_of_k", "best_of_k_curve", "best_of_k_exact",
    "bootstrap_mean_ci", "cohens_h", "compare_strategies", "computable", "equivalent_k", "expert_tail",
    "interval_coverage", "is_fast", "is_fast_noise_aware", "paired_block_bootstrap_ci", "pool_runs",
    "prob_none_drawn", "sample_fast_1", "sign_test", "strategy_row", "strategy_table",
    "spearman", "speedup_interval", "surprisal_speedup_correlation", "task_picks", "unscored_count", "wilson_interval", "wilcoxon_log_ratio",
]
