"""The report's figures, drawn with matplotlib (the optional `report` extra).

Each figure is written as PNG and SVG: best-of-K curves per strategy, the
strategies' fast_1 with 95% intervals (ranked by total surprisal and by mean
NLL, side by side), mean NLL against speedup among correct samples, and,
with training runs, fast_1 against samples drawn per task for best-of-N and
each training run (the paper's Figure 1).
"""
from __future__ import annotations

from pathlib import Path

from . import statistics as st
from .selection import ALL_ORDER

MISSING_EXTRA = "figures skipped: matplotlib is not installed (pip install 'sgs[report]')"
COLOURS = {"oracle": "#444444", "surprisal-top3": "#d62728", "surprisal-top3-distinct": "#ff9896",
           "surprisal": "#1f77b4", "random": "#7f7f7f", "most-confident": "#2ca02c"}


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")   # files only: no display on a GPU box over SSH
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})   # byte-stable SVG
    return paths


def best_of_k_figure(records: list[dict], title: str, out: Path) -> list[Path]:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key in zip(axes, ("surprisal", "mean_nll")):
        for name in ALL_ORDER:
            pts = [r for r in records if r["strategy"] == name and r["rank_by"] == key]
            if not pts:
                continue
            ks = [r["k"] for r in pts]
            ax.plot(ks, [r["fast_1"] for r in pts], marker="o" if not pts[0]["exact"] else None, ms=3,
                    label=name, color=COLOURS.get(name), ls="--" if name == "surprisal-top3-distinct" else "-")
            if not pts[0]["exact"]:
                ax.fill_between(ks, [r["lo"] for r in pts], [r["hi"] for r in pts], color=COLOURS.get(name),
                                alpha=0.2, lw=0)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("K (samples drawn per task)")
        ax.set_title(f"ranked by {'total surprisal' if key == 'surprisal' else 'mean NLL'}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fast_1")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"best-of-K · {title}", fontsize=11)
    paths = _save(fig, out, "best_of_k")
    plt.close(fig)
    return paths


def strategies_figure(records: list[dict], title: str, out: Path) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    names = [r["strategy"] for r in records]
    width = 0.38
    for j, (suffix, label, hatch) in enumerate((("", "by total surprisal", None), ("_by_mean_nll", "by mean NLL", "//"))):
        xs, ys, err_lo, err_hi, na, colours = [], [], [], [], [], []
        for i, r in enumerate(records):
            x = i + (j - 0.5) * width
            if r[f"fast_1{suffix}"] is None:
                na.append(x)
                continue
            y, lo, hi = r[f"fast_1{suffix}"], r[f"fast_1_lo{suffix}"], r[f"fast_1_hi{suffix}"]
            xs.append(x)
            ys.append(y)
            colours.append(COLOURS.get(r["strategy"], "#999999"))
            err_lo.append(y - lo if lo is not None else 0)
            err_hi.append(hi - y if hi is not None else 0)
        ax.bar(xs, ys, width, yerr=[err_lo, err_hi], capsize=3, color=colours, hatch=hatch, edgecolor="white",
               alpha=1.0 if j == 0 else 0.6, label=label)
        for x in na:
            ax.text(x, 0.02, "n/a", ha="center", fontsize=8, rotation=90)
    ax.set_xticks(range(len(names)), names, rotation=15, fontsize=9)
    ax.set_ylabel("fast_1 (95% bootstrap interval over tasks)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"selection strategies · {title}", fontsize=11)
    paths = _save(fig, out, "strategies")
    plt.close(fig)
    return paths


def scatter_figure(by_task, title: str, out: Path) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs, ys, tail_x, tail_y = [], [], [], []
    for cands in by_task.values():
        tail = st.expert_tail(cands, "surprisal")
        for c in cands:
            if c.correct and c.speedup is not None and c.mean_nll is not None:
                (tail_x if c.sample_idx in tail else xs).append(c.mean_nll)
                (tail_y if c.sample_idx in tail else ys).append(c.speedup)
    ax.scatter(xs, ys, s=14, alpha=0.6, color="#1f77b4", label="correct samples")
    ax.scatter(tail_x, tail_y, s=18, alpha=0.8, color="#d62728", label="top quartile by surprisal")
    ax.axhline(1.0, color="#444", lw=0.8, ls=":")
    if xs or tail_x:
        ax.set_yscale("log")
    corr = st.surprisal_speedup_correlation(by_task, "mean_nll")
    rho = "n/a" if corr["pooled_rho"] is None else f"{corr['pooled_rho']:+.2f}"
    tail_rho = "n/a" if corr["tail_pooled_rho"] is None else f"{corr['tail_pooled_rho']:+.2f}"
    ax.set_xlabel("mean NLL per token")
    ax.set_ylabel("speedup over the reference")
    ax.set_title(f"mean NLL vs speedup · {title}\nSpearman rho {rho} (n={corr['n_samples']}), "
                 f"top quartile {tail_rho} (n={corr['tail_n_samples']})", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths = _save(fig, out, "nll_speedup")
    plt.close(fig)
    return paths


TRAINING_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
NA_FIELDS = (("fast_1", "fast_1", "equivalent_k"),
             ("fast_1_noise_aware", "noise-aware fast_1 (speedup interval above 1)", "equivalent_k_noise_aware"))


def training_figure(comparisons, records: list[dict], out: Path) -> list[Path]:
    """The paper's Figure 1: fast_1 against samples drawn per task, best-of-N's curves beside each
    training run's steps and best-of-adaptation; one row per comparison, noise-aware on the right."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    from .report_training import BON_STRATEGIES

    plt = _pyplot()
    fig, axes = plt.subplots(len(comparisons), 2, figsize=(11, 4.3 * len(comparisons)), sharey=True, squeeze=False)
    for row, comp in zip(axes, comparisons):
        recs = [r for r in records if r["scope"] == comp.scope]
        x_max = max((r["samples_per_task"] for r in recs), default=1)
        for ax, (value, what, eq_field) in zip(row, NA_FIELDS):
            drawn = 0
            for name in BON_STRATEGIES:
                pts = [r for r in recs if r["method"] == "best-of-N" and r["series"] == name and r[value] is not None]
                if pts:
                    ax.plot([r["samples_per_task"] for r in pts], [r[value] for r in pts], color=COLOURS.get(name),
                            lw=2.2 if name in ("oracle", "surprisal-top3") else 1.3, label=f"best-of-N: {name}",
                            ls=":" if name == "random" else "-")
                    drawn += 1
            for i, training in enumerate(comp.trainings):
                colour = TRAINING_COLOURS[i % len(TRAINING_COLOURS)]
                mine = [r for r in recs if r["source"] == f"training {training.training_run_id}" and r[value] is not None]
                steps = [r for r in mine if r["series"] == "step"]
                if steps:
                    xs, ys = [r["samples_per_task"] for r in steps], [r[value] for r in steps]
                    ax.plot(xs, ys, ls="--", marker="o", ms=5, color=colour, label=f"{training.label}: each step")
                    for r in steps:   # step numbers below the points, above them on the axis
                        ax.annotate(f"{r['step']}", (r["samples_per_task"], r[value]), textcoords="offset points",
                                    xytext=(0, 6 if r[value] < 0.05 else -11), ha="center", fontsize=7,
                                    color=colour)
                    drawn += 1
                boa = [r for r in mine if r["series"] == "best-of-adaptation"]
                if boa:   # after the last step: picking the best step needs every step evaluated
                    last = boa[-1]
                    ax.scatter([last["samples_per_task"]], [last[value]], marker="*", s=190, color=colour,
                               edgecolor="black", lw=0.6, zorder=5, label=f"{training.label}: best-of-adaptation")
                    ax.annotate(f"{training.method} step {last['step']}: equivalent K {last[eq_field] or '-'}",
                                (last["samples_per_task"], last[value]), textcoords="offset points",
                                xytext=(-10, 8 + 12 * i), ha="right", fontsize=8, color=colour)
            if not drawn:
                ax.text(0.5, 0.5, "n/a", transform=ax.transAxes, ha="center", fontsize=11, color="#666666")
            ax.set_xscale("log", base=2)
            ax.set_xlim(0.8, x_max * 1.3)
            ticks = [2 ** e for e in range(x_max.bit_length() + 1) if 2 ** e <= x_max * 1.3]
            if x_max > ticks[-1] * 1.25:   # the largest budget (e.g. 12 = 3 steps of K=4) gets its own tick
                ticks.append(x_max)
            ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel("samples drawn per task")
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            ax.set_title(f"{what}\n{comp.scope}", fontsize=10)
        row[0].set_ylabel("fast_1")
    fig.tight_layout()
    handles, labels = axes[0][0].get_legend_handles_labels()
    inch = 1 / fig.get_figheight()
    fig.text(0.5, -0.1 * inch, "best-of-N: expected fast_1 of the strategy's pick among K samples per task;  "
             "training: one sample of the step's weights (sample level), after (step+1)·K samples per task",
             ha="center", va="top", fontsize=8, color="#444444")
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.3 * inch), ncol=3, fontsize=8,
               frameon=False)
    fig.suptitle("test-time training beside best-of-N at matched sample budgets", fontsize=11, y=1 + 0.3 * inch)
    paths = _save(fig, out, "training_vs_best_of_n")
    plt.close(fig)
    return paths


def write_figures(report, out_dir) -> list[Path]:
    """Every figure of a report (core/report.py) as PNG and SVG; ImportError without matplotlib."""
    if not have_matplotlib():
        raise ImportError(MISSING_EXTRA)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if report.comparisons:
        written += training_figure(report.comparisons, report.tables.get("training_vs_best_of_n", []), out)
    if not report.runs:
        return written
    main = report.main
    title = main.label
    curves = [r for r in report.tables.get("best_of_k", []) if r["scope"] == main.label]
    if curves:
        written += best_of_k_figure(curves, title, out)
    rows = [r for r in report.tables.get("strategies", []) if r["scope"] == main.label]
    if rows:
        written += strategies_figure(rows, title, out)
    written += scatter_figure(main.by_task, title, out)
    return written


__all__ = ["MISSING_EXTRA", "have_matplotlib", "write_figures"]
