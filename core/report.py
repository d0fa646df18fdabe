"""The paper's tables and figures for one run or several, read from the store.

`load_run` reads a run once; `run_summary` is what the strategy table of
`sgs run`/`sgs show` and the terminal app's stats screen show;
`build_report` makes every table of `sgs report` (as lists of flat records,
ready for Markdown, JSON and CSV), and `write_report` writes them with the
figures (core/figures.py, matplotlib as an optional extra).

Several runs (e.g. the same tasks under two seeds) are reported one by one
and pooled: the pooled tables take every (run, task) as a unit and resample
tasks for their intervals.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import statistics as st
from .selection import ALL_ORDER
from .store import Candidate, Store

RANK_KEYS = ("surprisal", "mean_nll")
# the comparisons the paper reports: its method against each alternative, and the two single picks
COMPARISONS = [("surprisal-top3", "most-confident"), ("surprisal-top3", "random"), ("surprisal-top3", "surprisal"),
               ("surprisal-top3", "oracle"), ("surprisal", "most-confident")]


@dataclass
class RunData:
    run_id: int
    run: dict
    by_task: dict[str, list[Candidate]]
    budget: st.Budget | None = None
    clusters: dict[str, str] | None = None   # set for pooled data: unit -> task
    label: str = ""

    @property
    def rank_by(self) -> str:
        return self.run.get("rank_by") or "surprisal"


def budget_of(run: dict) -> st.Budget | None:
    """The surprisal budget a run was evaluated under, from its stored config (None: every sample)."""
    options = (run.get("config") or {}).get("eval") or {}
    if not options.get("time_top"):
        return None
    return st.Budget(int(options["time_top"]), run.get("rank_by") or "surprisal", int(options.get("audit") or 0))


def group_by_task(tasks: list[str], candidates: list[Candidate]) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {t: [] for t in tasks}
    for cand in candidates:
        out.setdefault(cand.task_id, []).append(cand)
    return out


def load_run(store: Store, run_id: int) -> RunData:
    run = store.get_run(run_id)
    by_task = group_by_task([t.id for t in store.run_tasks(run_id)], store.candidates(run_id))
    return RunData(run_id, run, by_task, budget_of(run), label=f"run {run_id}")


def pooled(runs: list[RunData]) -> RunData:
    """Several runs as one set of (run, task) units; intervals resample tasks."""
    units, clusters = st.pool_runs([r.by_task for r in runs], [str(r.run_id) for r in runs])
    budgets = {r.budget for r in runs}
    return RunData(0, {"rank_by": runs[0].rank_by}, units, budgets.pop() if len(budgets) == 1 else None,
                   clusters, label="pooled " + "+".join(str(r.run_id) for r in runs))


# -- the summary the CLI tables and the stats screen show ----------------
def run_summary(data: RunData, rank_by: str | None = None, *, n_boot: int = 0, curve: bool = True,
                p_values: bool = False) -> dict:
    """Strategy rows, the oracle's best-of-K curve, the surprisal/speedup correlation and counts.

    Under a budget the rows of strategies it cannot compute carry None, and
    the oracle curve and sample fast_1 (which need every sample) are left out.
    """
    rank_by = rank_by or data.rank_by
    by_task = data.by_task
    rows = st.strategy_table(by_task, rank_by, budget=data.budget, clusters=data.clusters, n_boot=n_boot)
    full = data.budget is None
    k = data.run.get("k") or max((len(c) for c in by_task.values()), default=1)
    every = [c for cs in by_task.values() for c in cs]
    unscored = [c for c in every if getattr(c, rank_by) is None]
    return {
        "run": data.run, "rank_by": rank_by, "rows": rows, "budget": data.budget,
        "curve": st.best_of_k_curve(by_task, list(range(1, k + 1))) if (curve and full and by_task) else [],
        "correlation": st.surprisal_speedup_correlation(by_task, rank_by, p_values=p_values),
        "n_tasks": len(by_task), "n_samples": len(every),
        "n_correct": sum(c.outcome == "correct" for c in every),
        "n_unscored": len(unscored), "n_unscored_correct": sum(c.outcome == "correct" for c in unscored),
        "sample_fast_1": st.sample_fast_1(by_task) if full else None,
    }


def summary_notes(summary: dict) -> list[str]:
    """The lines every strategy table carries under it."""
    notes = [f"{summary['n_unscored']} unscored samples ({summary['n_unscored_correct']} correct) left out "
             f"of the strategies that rank by {summary['rank_by']}"]
    budget = summary.get("budget")
    if budget is not None:
        notes.append(f"evaluated under a surprisal budget (--time-top {budget.time_top}"
                     + (f", --audit {budget.audit}" if budget.audit else "")
                     + "): n/a marks strategies it cannot compute")
    untimed = sum(r.n_untimed for r in summary["rows"] if r.computable)
    if untimed:
        notes.append("untimed correct picks are counted apart: not fast, no speedup")
    return notes


# -- the report's tables -------------------------------------------------
def _fmt_ci(ci) -> list:
    return [None, None] if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def strategy_records(data: RunData, strategies: list[str] | None = None, n_boot: int = st.N_BOOT) -> list[dict]:
    """One record per strategy, ranked by total surprisal and by mean NLL side by side."""
    full = data.budget is None
    k = data.run.get("k") or max((len(c) for c in data.by_task.values()), default=1)
    curve = st.best_of_k_curve(data.by_task, list(range(1, k + 1))) if full and data.by_task else []
    out = []
    by_key = {key: {r.strategy: r for r in st.strategy_table(data.by_task, key, strategies or ALL_ORDER,
                                                             budget=data.budget, clusters=data.clusters,
                                                             n_boot=n_boot)}
              for key in RANK_KEYS}
    for name in strategies or ALL_ORDER:
        rec = {"scope": data.label, "strategy": name, "n_tasks": by_key["surprisal"][name].n_tasks}
        for key in RANK_KEYS:
            r = by_key[key][name]
            suffix = "" if key == "surprisal" else "_by_mean_nll"
            lo, hi = _fmt_ci(r.fast_1_ci)
            nlo, nhi = _fmt_ci(r.fast_1_noise_aware_ci)
            eq = st.equivalent_k(curve, r.fast_1) if (curve and r.fast_1 is not None) else None
            rec.update({
                f"fast_1{suffix}": _round(r.fast_1), f"fast_1_lo{suffix}": lo, f"fast_1_hi{suffix}": hi,
                f"fast_1_noise_aware{suffix}": _round(r.fast_1_noise_aware),
                f"fast_1_noise_aware_lo{suffix}": nlo, f"fast_1_noise_aware_hi{suffix}": nhi,
                f"mean_speedup{suffix}": _round(r.mean_speedup), f"geomean_speedup{suffix}": _round(r.geomean_speedup),
                f"equivalent_k{suffix}": None if eq is None else eq.label,
                f"picks{suffix}": r.n_picks, f"untimed{suffix}": r.n_untimed, f"flagged{suffix}": r.n_flagged,
                f"unscored_left_out{suffix}": r.n_unscored, f"computable{suffix}": r.computable,
            })
        out.append(rec)
    return out


def comparison_records(data: RunData) -> list[dict]:
    out = []
    for key in RANK_KEYS:
        for a, b in COMPARISONS:
            c = st.compare_strategies(data.by_task, a, b, key, budget=data.budget)
            rec = {"scope": data.label, **asdict(c)}
            for f in ("fast_1_a", "fast_1_b", "cohens_h", "wilcoxon_statistic", "wilcoxon_p", "sign_p"):
                rec[f] = _round(rec[f])
            out.append(rec)
    return out


def correlation_records(data: RunData) -> list[dict]:
    out = []
    for key in RANK_KEYS:
        c = st.surprisal_speedup_correlation(data.by_task, key)
        out.append({"scope": data.label, **{k: _round(v) if isinstance(v, float) else v for k, v in c.items()}})
    return out


def best_of_k_records(data: RunData, n_sub: int = 48) -> list[dict]:
    if data.budget is not None or not data.by_task:
        return []
    k = data.run.get("k") or max(len(c) for c in data.by_task.values())
    if k < 1:
        return []
    dense = list(range(1, k + 1))
    sparse = sorted({min(2 ** i, k) for i in range(int(math.log2(k)) + 1)} | {k})
    out = []
    for key in RANK_KEYS:
        for name in ALL_ORDER:
            ks = dense if name in st.EXACT_BEST_OF_K else sparse
            curve = st.best_of_k(data.by_task, name, ks, key, n_sub=n_sub)
            for i, kk in enumerate(curve.ks):
                out.append({"scope": data.label, "strategy": name, "rank_by": key, "k": kk,
                            "fast_1": _round(curve.fast_1[i]), "exact": curve.exact,
                            "lo": None if curve.lo is None else _round(curve.lo[i]),
                            "hi": None if curve.hi is None else _round(curve.hi[i])})
    return out


def cost_records(store: Store, data: RunData) -> list[dict]:
    """Evaluation time per budget role: compile (CPU) and check + timing (the device's seconds: GPU-seconds on a GPU).

    Counted once per evaluation (samples with the same code share one)."""
    from .selection.identity import code_identity

    rows: dict[str, dict] = {}
    seen: set[tuple[str, str]] = set()
    for cands in data.by_task.values():
        for cand in cands:
            if cand.outcome is None:
                continue
            if cand.code:  # samples that wrote the same code share one evaluation: count it once
                key = (cand.task_id, code_identity(cand.code))
                if key in seen:
                    continue
                seen.add(key)
            result = store.get_sample(cand.sample_id).get("result") or {}
            role = (result.get("budget") or {}).get("role") or "full"
            rec = rows.setdefault(role, {"scope": data.label, "role": role, "evaluations": 0, "compile_s": 0.0,
                                         "check_s": 0.0, "timing_s": 0.0, "device": result.get("device")})
            phases = result.get("phases") or {}
            rec["evaluations"] += role != "outside"
            for src, dst in (("compile_s", "compile_s"), ("correctness_s", "check_s"), ("timing_s", "timing_s")):
                rec[dst] += float(phases.get(src) or 0.0)
            rec["device"] = rec["device"] or result.get("device")
    out = []
    for rec in rows.values():
        rec["device_s"] = rec["check_s"] + rec["timing_s"]
        out.append({k: round(v, 3) if isinstance(v, float) else v for k, v in rec.items()})
    wall = _wall_s(data.run)
    if out:
        total = {"scope": data.label, "role": "all", "device": out[0]["device"], "wall_s": wall}
        for f in ("evaluations", "compile_s", "check_s", "timing_s", "device_s"):
            total[f] = round(sum(r[f] for r in out), 3)
        out.append(total)
    return out


def _wall_s(run: dict) -> float | None:
    from datetime import datetime

    if not (run.get("started_at") and run.get("finished_at")):
        return None
    return round((datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds(), 3)


def _round(v, digits: int = 4):
    return None if v is None else round(float(v), digits)


@dataclass
class Report:
    runs: list[RunData]
    tables: dict[str, list[dict]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    comparisons: list = field(default_factory=list)    # report_training.Comparison: training beside best-of-N

    @property
    def title(self) -> str:
        return ", ".join([r.label for r in self.runs]
                         + [t.label for c in self.comparisons for t in c.trainings])

    @property
    def main(self) -> RunData:
        """What the figures draw: the pooled data of several runs, or the one run."""
        return pooled(self.runs) if len(self.runs) > 1 else self.runs[0]


def build_report(store: Store, run_ids: list[int], *, n_boot: int = st.N_BOOT,
                 training_ids: list[int] | tuple = ()) -> Report:
    """The runs' tables; with `training_ids`, those training runs' per-step tables and the comparison of
    each with best-of-N at matched sample budgets (core/report_training.py), best-of-N from the runs."""
    runs = [load_run(store, r) for r in run_ids]
    scopes = runs + ([pooled(runs)] if len(runs) > 1 else [])
    report = Report(runs)
    if training_ids:
        from . import report_training as rt

        report.comparisons = rt.build_comparisons(store, list(training_ids), runs)
        report.tables["training_steps"] = [r for c in report.comparisons for r in rt.step_records(c)]
        report.tables["training_vs_best_of_n"] = [r for c in report.comparisons for r in rt.comparison_records(c)]
        report.notes += rt.comparison_notes(report.comparisons)
    if not runs:
        return report
    report.tables["strategies"] = [r for d in scopes for r in strategy_records(d, n_boot=n_boot)]
    report.tables["tests"] = [r for d in scopes for r in comparison_records(d)]
    report.tables["correlation"] = [r for d in scopes for r in correlation_records(d)]
    report.tables["best_of_k"] = [r for d in scopes for r in best_of_k_records(d)]
    report.tables["cost"] = [r for d in runs for r in cost_records(store, d)]
    audits = [{"scope": d.label, **_flat(st.audit_summary(d.by_task, d.rank_by))} for d in runs
              if d.budget is not None and d.budget.audit]
    if audits:
        report.tables["audit"] = audits
    for d in scopes:
        summary = run_summary(d, curve=False)
        report.notes += [f"{d.label}: {line}" for line in summary_notes(summary)]
    for d in runs:
        step = store.training_step_of_run(d.run_id)
        if step and step["training_run_id"] not in training_ids:
            report.notes.append(f"{d.label} holds step {step['step']} of training run {step['training_run_id']} "
                                f"(sgs report RUN --training {step['training_run_id']} puts it beside best-of-N)")
    return report


def _flat(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, (tuple, list)):
            out[f"{k}_lo"], out[f"{k}_hi"] = (_round(v[0]), _round(v[1])) if v else (None, None)
        else:
            out[k] = _round(v) if isinstance(v, float) else v
    return out


# -- writing -------------------------------------------------------------
def markdown_table(records: list[dict]) -> str:
    if not records:
        return "(none)\n"
    cols = list(dict.fromkeys(k for r in records for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in records:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return str(v)


def _with_ci(value, lo, hi) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")


def markdown_strategies(records: list[dict]) -> str:
    """The strategy table as the paper prints it: intervals beside the values, both rank keys side by side."""
    rows = []
    for r in records:
        rows.append({
            "scope": r["scope"], "strategy": r["strategy"],
            "fast_1 [95% CI]": _with_ci(r["fast_1"], r["fast_1_lo"], r["fast_1_hi"]),
            "noise-aware fast_1": _with_ci(r["fast_1_noise_aware"], r["fast_1_noise_aware_lo"],
                                           r["fast_1_noise_aware_hi"]),
            "mean speedup": r["mean_speedup"], "geomean": r["geomean_speedup"], "equivalent K": r["equivalent_k"],
            "picks": f"{r['picks']}/{r['n_tasks']}" if r["computable"] else None, "untimed": r["untimed"],
            "flagged": r["flagged"], "unscored left out": r["unscored_left_out"],
            "fast_1 by mean NLL": _with_ci(r["fast_1_by_mean_nll"], r["fast_1_lo_by_mean_nll"],
                                           r["fast_1_hi_by_mean_nll"]),
            "equivalent K by mean NLL": r["equivalent_k_by_mean_nll"],
        })
    return markdown_table(rows)


TITLES = {"strategies": "Selection strategies (fast_1 with 95% bootstrap intervals over tasks; by total surprisal, "
                        "and by mean NLL in the *_by_mean_nll columns)",
          "tests": "Paired tests between strategies over tasks (Wilcoxon on log speedup ratios, incorrect = 1e-6; "
                   "exact sign test on discordant tasks; Cohen's h on fast_1)",
          "correlation": "Spearman rho against speedup among correct, timed samples (tail: top quartile by surprisal)",
          "best_of_k": "Best-of-K fast_1 (exact expectations; subsampled with a 95% interval where exact is false)",
          "cost": "Evaluation time per budget role (device_s = check_s + timing_s: GPU-seconds on a GPU)",
          "audit": "Random audit of the samples the budget left out"}


def write_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Write every table as Markdown (one file), JSON and CSV; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    from .report_training import MARKDOWN, TITLES as TRAINING_TITLES

    md = ["# sgs report: " + report.title, ""]
    renderers = {"strategies": markdown_strategies, **MARKDOWN}
    for name, records in report.tables.items():
        body = renderers[name](records) if name in renderers and records else markdown_table(records)
        md += [f"## {name}", "", TITLES.get(name) or TRAINING_TITLES.get(name, ""), "", body]
        path = out / f"{name}.csv"
        cols = list(dict.fromkeys(k for r in records for k in r))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=cols)
            writer.writeheader()
            for r in records:
                writer.writerow({k: json.dumps(v) if isinstance(v, (list, tuple, dict)) else v for k, v in r.items()})
        written.append(path)
    if report.notes:
        md += ["## notes", ""] + [f"- {n}" for n in report.notes] + [""]
    (out / "report.md").write_text("\n".join(md))
    (out / "report.json").write_text(json.dumps({"runs": [r.run_id for r in report.runs],
                                                 "training_runs": [t.training_run_id for c in report.comparisons
                                                                   for t in c.trainings],
                                                 "notes": report.notes, "tables": report.tables},
                                                indent=1, default=str))
    return [out / "report.md", out / "report.json", *written]


__all__ = ["COMPARISONS", "RANK_KEYS", "Report", "RunData", "best_of_k_records", "budget_of", "build_report",
           "comparison_records", "correlation_records", "cost_records", "group_by_task", "load_run",
           "markdown_strategies", "markdown_table", "pooled", "run_summary", "strategy_records", "summary_notes", "write_report"]
