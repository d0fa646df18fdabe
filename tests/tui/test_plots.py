"""The plot widgets (textual-plotext) from plain data: axes, ticks and a legend, at 80x24 and 120x40."""
import pytest
from textual.app import App

from sgs.tui.plots import MARKERS, BestOfKPlot, NllSpeedupScatter, log2_ticks
from tui_fixtures import screen_text

pytestmark = pytest.mark.anyio
CURVES = {"oracle": [(k, min(1.0, 0.5 + 0.08 * k)) for k in (1, 2, 4, 8, 16, 32, 64)],
          "surprisal-top3": [(k, min(1.0, 0.4 + 0.06 * k)) for k in (1, 2, 4, 8, 16, 32, 64)],
          "random": [(k, 0.3 + 0.004 * k) for k in (1, 2, 4, 8, 16, 32, 64)]}
GROUPS = {"Expert Tail": [(1.2, 4.0), (1.1, 2.5), (0.9, 12.0)],
          "other correct": [(0.3, 0.9), (0.5, 1.1), (0.2, 0.7), (0.6, 1.4)]}


class Plots(App):
    def __init__(self, curves, groups):
        super().__init__()
        self.curves, self.groups = curves, groups

    def compose(self):
        yield BestOfKPlot(self.curves, id="best-of-k")
        yield NllSpeedupScatter(self.groups, id="scatter")


def test_log2_ticks_read_as_powers_of_two():
    assert log2_ticks(0, 6) == ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ["1", "2", "4", "8", "16", "32", "64"])
    assert log2_ticks(-1, 1, suffix="×")[1] == ["1/2×", "1×", "2×"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_best_of_k_and_the_scatter_have_axes_ticks_and_a_legend(size):
    app = Plots(CURVES, GROUPS)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        text = screen_text(app)
        # best-of-K: the title, K ticks at powers of two, the legend with each strategy's marker
        assert "best-of-K fast_1" in text and "K (log scale)" in text
        assert all(f" {k} " in text or f" {k}\n" in text for k in ("1", "4", "16", "64"))
        for n, name in enumerate(CURVES):
            assert f"{MARKERS[n]} {name}" in text
        # the scatter: speedups on a log axis with 1× marked, one marker per group, counted
        assert "NLL per token vs speedup" in text and "1×" in text and "mean NLL per token (nats)" in text
        assert "Expert Tail (3)" in text and "other correct (4)" in text


async def test_no_data_says_so_instead_of_empty_axes():
    app = Plots({}, {"Expert Tail": []})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "best-of-K fast_1: no samples yet" in text
        assert "no correct sample with a speedup" in text
