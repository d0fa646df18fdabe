"""Test-time training beside best-of-N in `sgs report`: the paper's Figure 1 comparison.

Everything is placed on one axis, the number of samples drawn per task:

- best-of-N: the best-of-K curves (K = 1..N) of the best-of-N run(s) on the
  training's tasks, for the oracle and the ranking strategies, exact
  (`statistics.best_of_k`), with the noise-aware variant beside;
- a training run that has sampled steps 0..s has drawn (s+1)*K samples per
  task. Its step-s point is that step's sample-level fast_1 (what one sample
  of the adapted weights achieves, `training.step_table`), and its
  best-of-adaptation point is the best step so far (`training.comparison_rows`).

Each training point carries its equivalent K on the best-of-N oracle curve
(`statistics.equivalent_k`; "< 1" below the curve's K=1 point, the sample
fast_1, as the paper's TTT result), and the noise-aware fast_1 its own on the
noise-aware oracle curve.

Best-of-N comes from the runs named with the training runs; else from a
training run's `--baseline-run`; else from its own step 0 (K samples of the
starting weights). A best-of-N run must hold every task of the training and
have every sample evaluated; its other tasks are left out of the comparison.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import statistics as st
from .errors import InputError
from .report import RunData, load_run, markdown_table, pooled
from .store import Candidate, Store
from .training.tables import StepRow, candidates_from_samples, comparison_rows, step_table

# the best-of-N curves drawn beside training: every strategy with an exact best-of-K
BON_STRATEGIES = ("oracle", "surprisal-top3", "surprisal", "most-confident", "random")


@dataclass
class TrainingData:
    training_run_id: int
    run: dict
    rows: list[StepRow]

    @property
    def method(self) -> str:
        """ttt, sdpo or sdpo-prompt-only: the variants compare as different methods."""
        return self.run["method"]

    @property
    def label(self) -> str:
        return f"training {self.training_run_id} ({self.method})"

    @property
    def k(self) -> int:
        return int(self.run["k"])

    @property
    def task_ids(self) -> list[str]:
        return list(self.run["config"]["task_ids"])


@dataclass
class Comparison:
    """Training runs on one set of tasks beside one best-of-N baseline."""

    task_ids: list[str]
    baseline: str                              # "run 1", "pooled 1+4", "training 2 step 0"
    bon_by_task: dict[str, list[Candidate]]
    trainings: list[TrainingData]
    rank_by: str = "surprisal"
    curves: dict[str, st.BestOfK] = field(default_factory=dict)              # strategy -> curve
    curves_noise_aware: dict[str, st.BestOfK] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{len(self.task_ids)} tasks vs {self.baseline}"

    @property
    def n_max(self) -> int:
        return max((len(c) for c in self.bon_by_task.values()), default=0)

    def oracle_curve(self, noise_aware: bool = False) -> list[tuple[int, float]]:
        curve = (self.curves_noise_aware if noise_aware else self.curves).get("oracle")
        return list(zip(curve.ks, curve.fast_1)) if curve else []


def load_training(store: Store, training_run_id: int) -> TrainingData:
    return TrainingData(training_run_id, store.get_training_run(training_run_id), step_table(store, training_run_id))


def _restricted(data: RunData, task_ids: list[str], what: str) -> dict[str, list[Candidate]]:
    """The best-of-N data's units on the training's tasks; refuses data that misses one or was budgeted."""
    if data.budget is not None:
        raise InputError(f"{data.label} was evaluated under a surprisal budget (--time-top): best-of-N beside "
                         f"{what} needs every sample evaluated")
    task_of = data.clusters or {u: u for u in data.by_task}
    missing = sorted(set(task_ids) - set(task_of.values()))
    if missing:
        raise InputError(f"{data.label} has no samples of {', '.join(missing)}: best-of-N and {what} "
                         f"compare on the same tasks")
    return {u: c for u, c in data.by_task.items() if task_of[u] in task_ids}


def build_comparisons(store: Store, training_ids: list[int], bon_runs: list[RunData]) -> list[Comparison]:
    """One comparison per (task set, baseline): trainings on the same tasks share a panel."""
    groups: dict[tuple, Comparison] = {}
    for tid in training_ids:
        training = load_training(store, tid)
        tasks = training.task_ids
        if bon_runs:
            data = pooled(bon_runs) if len(bon_runs) > 1 else bon_runs[0]
            key = (tuple(sorted(tasks)), "runs")
        elif training.run["config"].get("baseline_run") is not None:
            run_id = int(training.run["config"]["baseline_run"])
            try:
                data = load_run(store, run_id)
            except LookupError:
                raise InputError(f"{training.label}: its baseline run {run_id} is no longer in {store.path}") \
                    from None
            key = (tuple(sorted(tasks)), f"run {run_id}")
        else:
            by_task = candidates_from_samples(store.training_samples(tid, 0))
            data = RunData(0, {"rank_by": "surprisal"}, by_task, label=f"training {tid} step 0")
            key = (tuple(sorted(tasks)), f"training {tid}")
        if key not in groups:
            groups[key] = Comparison(tasks, data.label, _restricted(data, tasks, training.label), [],
                                     rank_by=data.rank_by)
        groups[key].trainings.append(training)
    for comp in groups.values():
        ks = list(range(1, comp.n_max + 1))
        if ks:
            for name in BON_STRATEGIES:
                comp.curves[name] = st.best_of_k(comp.bon_by_task, name, ks, comp.rank_by)
                comp.curves_noise_aware[name] = st.best_of_k(comp.bon_by_task, name, ks, comp.rank_by,
                                                             noise_aware=True)
    return list(groups.values())


def _eq(curve: list[tuple[int, float]], value: float | None) -> st.EquivalentK | None:
    return st.equivalent_k(curve, value) if (curve and value is not None) else None


def _label(eq: st.EquivalentK | None) -> str | None:
    return None if eq is None else eq.label


def _value(eq: st.EquivalentK | None) -> float | None:
    return None if eq is None or eq.value is None else round(eq.value, 4)


def _round(v, digits: int = 4):
    return None if v is None else round(float(v), digits)


def comparison_records(comp: Comparison) -> list[dict]:
    """fast_1 against samples drawn per task: best-of-N curves, training steps and best-of-adaptation."""
    curve, curve_na = comp.oracle_curve(), comp.oracle_curve(noise_aware=True)
    out = []
    for name, bok in comp.curves.items():
        na = comp.curves_noise_aware[name]
        for i, k in enumerate(bok.ks):
            eq, eq_na = _eq(curve, bok.fast_1[i]), _eq(curve_na, na.fast_1[i])
            out.append({"scope": comp.scope, "method": "best-of-N", "source": comp.baseline, "series": name,
                        "samples_per_task": k, "step": None, "level": "task", "fast_1": _round(bok.fast_1[i]),
                        "fast_1_noise_aware": _round(na.fast_1[i]), "fast_1_task": None,
                        "equivalent_k": _label(eq), "equivalent_k_value": _value(eq),
                        "equivalent_k_noise_aware": _label(eq_na), "equivalent_k_noise_aware_value": _value(eq_na),
                        "exact": bok.exact and na.exact})
    for training in comp.trainings:
        by_step = {r.step: r for r in training.rows}
        common = {"scope": comp.scope, "method": training.method, "source": f"training {training.training_run_id}"}
        for r in sorted(training.rows, key=lambda r: r.step):
            if r.fast_1 is None:
                continue
            eq, eq_na = _eq(curve, r.fast_1), _eq(curve_na, r.fast_1_noise_aware)
            out.append({**common, "series": "step", "samples_per_task": (r.step + 1) * training.k, "step": r.step,
                        "level": "sample", "fast_1": _round(r.fast_1),
                        "fast_1_noise_aware": _round(r.fast_1_noise_aware), "fast_1_task": _round(r.fast_1_task),
                        "equivalent_k": _label(eq), "equivalent_k_value": _value(eq),
                        "equivalent_k_noise_aware": _label(eq_na), "equivalent_k_noise_aware_value": _value(eq_na),
                        "exact": True})
        boa_rows = comparison_rows(comp.bon_by_task, [(training.method, training.training_run_id, training.k,
                                                       training.rows)])
        for row in boa_rows:
            if row.method != training.method:
                continue
            best = by_step[row.step]
            eq_na = _eq(curve_na, best.fast_1_noise_aware)
            out.append({**common, "series": "best-of-adaptation", "samples_per_task": row.samples_per_task,
                        "step": row.step, "level": "sample", "fast_1": _round(row.fast_1),
                        "fast_1_noise_aware": _round(best.fast_1_noise_aware), "fast_1_task": _round(best.fast_1_task),
                        "equivalent_k": row.equivalent_k_label, "equivalent_k_value": _round(row.equivalent_k),
                        "equivalent_k_noise_aware": _label(eq_na), "equivalent_k_noise_aware_value": _value(eq_na),
                        "exact": True})
    return out


def step_records(comp: Comparison) -> list[dict]:
    """Each training's per-step table, with each step's equivalent K and the best-of-adaptation step marked."""
    curve, curve_na = comp.oracle_curve(), comp.oracle_curve(noise_aware=True)
    out = []
    for training in comp.trainings:
        scored = [r for r in training.rows if r.fast_1 is not None]
        best = max(scored, key=lambda r: (r.fast_1, -r.step)).step if scored else None
        for r in training.rows:
            rec = {"scope": training.label, "method": training.method, "samples_per_task": (r.step + 1) * training.k}
            rec.update({k: _round(v) if isinstance(v, float) else v for k, v in r.to_dict().items()})
            eq, eq_na = _eq(curve, r.fast_1), _eq(curve_na, r.fast_1_noise_aware)
            rec.update({"equivalent_k": _label(eq), "equivalent_k_noise_aware": _label(eq_na),
                        "best_of_adaptation": r.step == best, "baseline": comp.baseline})
            out.append(rec)
    return out


def comparison_notes(comps: list[Comparison]) -> list[str]:
    notes = []
    for comp in comps:
        for training in comp.trainings:
            if any(r.injected for r in training.rows):
                notes.append(f"{training.label}: rewards were injected (a mechanics check): its fast_1 counts the "
                             "injected outcomes, and it has no noise-aware fast_1")
            if not any(r.fast_1 is not None for r in training.rows):
                notes.append(f"{training.label}: no step evaluated yet")
        if comp.baseline.startswith("training"):
            notes.append(f"{comp.scope}: no best-of-N run named (sgs report RUN --training ID) and none configured "
                         "(--baseline-run): best-of-N is the training's own step 0")
    return notes


def best_of_adaptation_lines(comps: list[Comparison]) -> list[str]:
    """One line per training run for the terminal: its best step against best-of-N."""
    lines = []
    for comp in comps:
        curve = comp.oracle_curve()
        records = comparison_records(comp)
        for training in comp.trainings:
            boa = [r for r in records if r["series"] == "best-of-adaptation"
                   and r["source"] == f"training {training.training_run_id}"]
            if not boa:
                continue
            last = boa[-1]
            na = "n/a" if last["fast_1_noise_aware"] is None else f"{last['fast_1_noise_aware']:.3f}"
            lines.append(f"{training.label}: best-of-adaptation step {last['step']}, fast_1 {last['fast_1']:.3f} "
                         f"(noise-aware {na}) after {last['samples_per_task']} samples per task; equivalent K "
                         f"{last['equivalent_k'] or '-'} on the best-of-K curve of {comp.baseline}"
                         + (f" (sample fast_1 {curve[0][1]:.3f})" if curve else ""))
    return lines


# -- Markdown: the columns a reader compares; JSON and CSV keep every field ------------------
def _f(v, spec: str = ".3f"):
    return None if v is None else format(v, spec)


def markdown_steps(records: list[dict]) -> str:
    rows = [{"scope": r["scope"], "step": f"{r['step']}{' *' if r['best_of_adaptation'] else ''}",
             "samples/task": r["samples_per_task"], "correct": f"{r['n_correct']}/{r['n_samples']}",
             "fast_1": _f(r["fast_1"]), "noise-aware": _f(r["fast_1_noise_aware"]), "task fast_1": _f(r["fast_1_task"]),
             "equivalent K": r["equivalent_k"], "reward": _f(r["mean_reward"]), "loss": _f(r["loss"], ".4g"),
             "rho": _f(r["rho"], "+.3f"), "rho bottom Q": _f(r["rho_bottom_quartile"], "+.3f"),
             "distinct codes": r["distinct_codes"], "edit distance": _f(r["mean_edit_distance"], ".1f"),
             "status": r["status"]} for r in records]
    return markdown_table(rows)


def markdown_comparison(records: list[dict]) -> str:
    """Best-of-N at powers of two, its largest K and the training budgets; every training point."""
    shown = []
    for r in records:
        if r["method"] == "best-of-N":
            k, scope = r["samples_per_task"], r["scope"]
            budgets = {x["samples_per_task"] for x in records if x["scope"] == scope and x["method"] != "best-of-N"}
            n_max = max(x["samples_per_task"] for x in records if x["scope"] == scope and x["method"] == "best-of-N")
            if not (k & (k - 1) == 0 or k == n_max or k in budgets):
                continue
        shown.append({"scope": r["scope"], "samples/task": r["samples_per_task"], "method": r["method"],
                      "series": r["series"] + (f" {r['step']}" if r["series"] == "step" else
                                               f" (step {r['step']})" if r["step"] is not None else ""),
                      "fast_1": _f(r["fast_1"]), "noise-aware": _f(r["fast_1_noise_aware"]),
                      "equivalent K": r["equivalent_k"], "equivalent K noise-aware": r["equivalent_k_noise_aware"]})
    shown.sort(key=lambda r: (r["scope"], r["samples/task"], r["method"] != "best-of-N"))
    return markdown_table(shown)


MARKDOWN = {"training_steps": markdown_steps, "training_vs_best_of_n": markdown_comparison}
TITLES = {"training_steps": "Training runs step by step: fast_1 of the step's samples (sample level; task level = "
                            "a fast sample among the task's K), reward, the update's loss, the probe's Spearman rho "
                            "(mean NLL vs speedup, overall and bottom speedup quartile), diversity; equivalent K on "
                            "the best-of-N oracle curve; * = best-of-adaptation",
          "training_vs_best_of_n": "Training beside best-of-N at matched sample budgets (samples drawn per task): "
                                   "best-of-N's best-of-K curves (task level), each training step's sample-level "
                                   "fast_1 after (step+1)*K samples, and best-of-adaptation so far; equivalent K on "
                                   "the best-of-N oracle curve (noise-aware: on its noise-aware curve)"}


__all__ = ["BON_STRATEGIES", "MARKDOWN", "TITLES", "Comparison", "TrainingData", "best_of_adaptation_lines", "build_comparisons",
           "comparison_notes", "comparison_records", "load_training", "step_records"]
