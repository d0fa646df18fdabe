"""Plots for the app, drawn by plotext through textual-plotext, from plain data.

- `BestOfKPlot`: best-of-K curves, one line per strategy (or any named curve),
  K on a log2 axis, the metric (fast_1) from 0 to 1, with a legend.
- `NllSpeedupScatter`: mean NLL per token against speedup (log2 axis, 1× marked),
  one marker per group of samples (e.g. the Expert Tail and the other correct ones).

Each series gets its own marker character besides its colour, so the legend
reads under NO_COLOR too. The widgets know nothing of the store: callers hand
them numbers (core.statistics computes them).
"""
from __future__ import annotations

import math

from rich.text import Text
from textual_plotext import PlotextPlot

MARKERS = ("o", "x", "+", "*", "#", "@", "%", "&")


def log2_ticks(low: float, high: float, *, suffix: str = "") -> tuple[list[float], list[str]]:
    """Ticks at powers of two covering [low, high] (values already in log2)."""
    first, last = math.floor(low), math.ceil(high)
    step = max(1, math.ceil((last - first + 1) / 7))  # at most ~7 labels
    ticks = list(range(first, last + 1, step))
    labels = []
    for t in ticks:
        value = 2.0 ** t
        labels.append((f"{value:g}" if value >= 1 else f"1/{2 ** -t:g}") + suffix)
    return [float(t) for t in ticks], labels


class BestOfKPlot(PlotextPlot):
    """fast_1 (or another share) of best-of-K against K, one line per named curve."""

    def __init__(self, curves: dict[str, list[tuple[int, float]]] | None = None, *, metric: str = "fast_1",
                 title: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.curves = dict(curves or {})
        self.metric = metric
        self.title_text = title or f"best-of-K {metric}"
        self.empty_text: str | None = None   # what shows instead of axes when there are no curves

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def set_curves(self, curves: dict[str, list[tuple[int, float]]]) -> None:
        self.curves = dict(curves)
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        points = [(k, v) for pts in self.curves.values() for k, v in pts if k and k > 0]
        if not points:
            self.refresh()
            return
        for n, (name, pts) in enumerate(self.curves.items()):
            pts = [(k, v) for k, v in pts if k and k > 0]
            if pts:
                plt.plot([math.log2(k) for k, _ in pts], [v for _, v in pts], label=name,
                         marker=MARKERS[n % len(MARKERS)])
        ks = [k for k, _ in points]
        ticks, labels = log2_ticks(math.log2(min(ks)), math.log2(max(ks)))
        plt.xticks(ticks, labels)
        plt.ylim(0, 1)
        plt.yticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
        plt.title(self.title_text)
        plt.xlabel("K (log scale)")
        plt.ylabel(self.metric)
        self.refresh()

    def render(self):
        if not any(self.curves.values()):
            return Text(" " + (self.empty_text or f"{self.title_text}: no samples yet"))
        return super().render()


class NllSpeedupScatter(PlotextPlot):
    """Mean NLL per token (x) against speedup (y, log2), one marker per named group of samples."""

    def __init__(self, groups: dict[str, list[tuple[float, float]]] | None = None, *, title: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.groups = dict(groups or {})
        self.title_text = title or "NLL per token vs speedup (correct samples)"

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def set_groups(self, groups: dict[str, list[tuple[float, float]]], title: str | None = None) -> None:
        self.groups = dict(groups)
        if title:
            self.title_text = title
        self.replot()

    def _points(self):
        for n, (name, pts) in enumerate(self.groups.items()):
            kept = [(x, y) for x, y in pts if x is not None and y is not None and y > 0]
            yield n, name, kept

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        all_y = [math.log2(y) for _, _, pts in self._points() for _, y in pts]
        if not all_y:
            self.refresh()
            return
        for n, name, pts in self._points():
            if pts:
                marker = MARKERS[n % len(MARKERS)]
                plt.scatter([x for x, _ in pts], [math.log2(y) for _, y in pts], marker=marker,
                            label=f"{name} ({len(pts)})")
        plt.hline(0.0)  # speedup 1×: the reference
        low, high = min(all_y + [0.0]), max(all_y + [0.0])
        ticks, labels = log2_ticks(low, high, suffix="×")
        plt.yticks(ticks, labels)
        plt.title(self.title_text)
        plt.xlabel("mean NLL per token (nats)")
        plt.ylabel("speedup")
        self.refresh()

    def render(self):
        if not any(pts for _, _, pts in self._points()):
            return Text(f" {self.title_text}: no correct sample with a speedup yet", overflow="ellipsis")
        return super().render()
