"""Side by side diff, lines aligned with difflib, the two sides kept in step.

Both sides are drawn as one text: a long line wraps inside its pane and the
other side is padded to as many lines, so rows never drift apart (`z`
switches to unwrapped lines that scroll sideways together with ←/→).
Changed lines carry a mark in the gutter (- + ~) besides the colour, so the
diff reads without it. `y` copies a side's code, `w` saves it to a file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from .. import colours, fmt
from ..clipboard import copy_code, save_code
from ..diffing import (DiffRow, SideStyle, align, hunk_starts, longest, pane_layout, side_by_side, similarity,
                       unified)
from ..messages import Loaded
from ..syntax import highlighted_lines
from ..layout import ranked_parts
from ..widgets import TitleBar
from .base import SgsScreen

SIDEWAYS_STEP = 8
PAIR_LABEL = {"surprisal-top3": "top3", "most-confident": "most-confident"}


@dataclass
class DiffSide:
    title: str
    code: str
    file_stem: str = "code"     # the default file name when the side is saved


def side_of(cand, label: str | None, run_id: int | None = None) -> DiffSide:
    from sgs.core.review import needs_review

    mark = "!" if needs_review(cand.flags) else ""
    parts = [label or "", f"#{cand.sample_idx}", f"S={fmt.num(cand.surprisal)}",
             fmt.speedup(cand.speedup, "") + mark if cand.speedup is not None else cand.outcome or ""]
    stem = "_".join(p for p in (f"run{run_id}" if run_id else "", cand.task_id.replace("/", "-"),
                                f"s{cand.sample_idx}") if p)
    return DiffSide(" ".join(p for p in parts if p), cand.code or "", stem)


def open_reference_diff(screen, run_id: int, task_id: str, cand) -> None:
    def load(data):
        task = data.task(run_id, task_id)
        return (DiffSide(f"reference {task_id}", task.reference_src, f"{task_id.replace('/', '-')}_reference"),
                side_of(cand, None, run_id))

    screen.app.push_screen(DiffScreen(loader=load, run_id=run_id))


def open_pair(screen, run_id: int, task_id: str, rank_by: str, left: str, right: str) -> None:
    """Diff the picks of two strategies for one task (e.g. oracle vs surprisal-top3)."""
    def load(data):
        from sgs.core.selection.picks import picks_by_strategy

        cands = data.candidates(run_id, task_id)
        picks = picks_by_strategy(cands, rank_by)
        by_idx = {c.sample_idx: c for c in cands}
        missing = [name for name in (left, right) if name not in picks]
        if missing:
            raise LookupError(f"{task_id} has no correct sample yet: no {missing[0]} pick to compare")
        return (side_of(by_idx[picks[left]], PAIR_LABEL.get(left, left), run_id),
                side_of(by_idx[picks[right]], PAIR_LABEL.get(right, right), run_id))

    screen.app.push_screen(DiffScreen(loader=load, run_id=run_id))


def open_pick_diff(screen, run_id: int, task_id: str, rank_by: str) -> None:
    open_pair(screen, run_id, task_id, rank_by, "most-confident", "surprisal")


class DiffScreen(SgsScreen):
    help_title = "diff"
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("y", "copy('right')", "Copy", id="diff.copy",
                tooltip="Copy the right side's code to the clipboard (OSC 52; works over SSH)"),
        Binding("Y", "copy('left')", "Copy left", id="diff.copy_left", show=False,
                tooltip="Copy the left side's code"),
        Binding("w", "save('right')", "Save", id="diff.save", tooltip="Save the right side's code to a file"),
        Binding("W", "save('left')", "Save left", id="diff.save_left", show=False,
                tooltip="Save the left side's code to a file"),
        Binding("n", "hunk(1)", "Next change", id="diff.next", tooltip="Scroll to the next changed block"),
        Binding("p", "hunk(-1)", "Prev change", id="diff.prev", show=False,
                tooltip="Scroll to the previous changed block"),
        Binding("s", "swap", "Swap", id="diff.swap", tooltip="Swap the two sides"),
        Binding("u", "unified", "Unified", id="diff.unified", tooltip="Toggle a unified diff"),
        Binding("z", "wrap", "Wrap", id="diff.wrap", show=False,
                tooltip="Wrap long lines in step, or cut them and scroll both sides sideways with ←/→"),
        Binding("right,l", "sideways(1)", "Right", id="diff.right", show=False,
                tooltip="Unwrapped: scroll both sides right"),
        Binding("left,h", "sideways(-1)", "Left", id="diff.left", show=False,
                tooltip="Unwrapped: scroll both sides left"),
        Binding("j", "scroll(1)", "Down", id="diff.down", show=False, tooltip="Scroll down a line"),
        Binding("k", "scroll(-1)", "Up", id="diff.up", show=False, tooltip="Scroll up a line"),
    ]

    def __init__(self, left: DiffSide | None = None, right: DiffSide | None = None, *,
                 loader: Callable | None = None, run_id: int | None = None):
        super().__init__()
        self.left, self.right = left, right
        self.loader = loader
        self.run_id = run_id
        self.rows: list[DiffRow] = []
        self.row_starts: list[int] = []
        self.hunks: list[int] = []
        self.hunk_index = -1
        self.unified = False
        self.wrap = True
        self.column_offset = 0

    def compose(self) -> ComposeResult:
        yield TitleBar(" diff", id="title")
        with Horizontal(id="diff-heads"):
            yield Static("", id="left-head", classes="diff-head")
            yield Static("", id="right-head", classes="diff-head")
        with VerticalScroll(id="diff-body"):
            yield Static("", id="diff-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.loader is not None:
            self.load()
        else:
            self.render_diff()
        self.query_one("#diff-body").focus()

    @work(thread=True, exclusive=True, group="diff.load", exit_on_error=False, name="loading the diff")
    def load(self) -> None:
        try:
            left, right = self.loader(self.data)
        except LookupError as exc:
            self.post_message(Loaded("diff-error", str(exc)))
            return
        self.post_message(Loaded("diff", (left, right)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what == "diff":
            self.left, self.right = message.value
            self.render_diff()
        elif message.what == "diff-error":
            self.query_one("#diff-text", Static).update(f" {message.value}")

    def on_resize(self) -> None:
        if self.left is not None:
            self.render_diff()

    # -- rendering --------------------------------------------------------
    def _lines(self, side: DiffSide) -> list[str]:
        return side.code.expandtabs(4).splitlines()

    def render_diff(self) -> None:
        left_lines, right_lines = self._lines(self.left), self._lines(self.right)
        self.rows = align(left_lines, right_lines)
        self.hunks = hunk_starts(self.rows)
        self.hunk_index = -1
        changed = sum(r.tag != "equal" for r in self.rows)
        width = max(self.app.size.width - 1, 20)  # one cell for the scrollbar
        pane = (width - 1) // 2
        view = ("unified" if self.unified else "" if self.wrap
                else f"unwrapped, from column {self.column_offset + 1} (←/→)")
        self.query_one("#title", TitleBar).update(ranked_parts([
            (0, " diff"), (1, fmt.plural(len(self.hunks), "changed block")),
            (3, f"{fmt.plural(changed, 'line')} {'differs' if changed == 1 else 'differ'}"),
            (2, f"similarity {similarity(left_lines, right_lines):.0%}"), (0, view)], width))
        self.query_one("#left-head", Static).update(Text(" " + self.left.title, overflow="ellipsis", no_wrap=True))
        self.query_one("#right-head", Static).update(Text(" " + self.right.title, overflow="ellipsis",
                                                          no_wrap=True))
        heads = self.query_one("#diff-heads")
        text_widget = self.query_one("#diff-text", Static)
        if self.unified:
            heads.display = False
            text = Text(no_wrap=True, overflow="ellipsis")
            for line in unified(left_lines, right_lines, self.left.title, self.right.title):
                style = ("bold" if line.startswith(("---", "+++", "@@")) else
                         "red" if line.startswith("-") else "green" if line.startswith("+") else "")
                text.append(line + "\n", style=style if self.colour_mode != "mono" else
                            ("bold" if style == "bold" else ""))
            text_widget.update(text if text.plain else Text(" the two sides are identical"))
            self.row_starts = []
            return
        heads.display = True
        self.query_one("#left-head").styles.width = pane + 1  # its pane and the separator
        self.query_one("#right-head").styles.width = pane
        styles = tuple(SideStyle(*colours.diff_line(self.colour_mode, side)) for side in ("left", "right"))
        text, self.row_starts = side_by_side(
            self.rows, highlighted_lines("\n".join(left_lines)) if left_lines else [],
            highlighted_lines("\n".join(right_lines)) if right_lines else [], width, styles=styles,
            wrap=self.wrap, offset=self.column_offset, console=self.app.console)
        text_widget.update(text)

    # -- actions ----------------------------------------------------------
    def action_hunk(self, step: int) -> None:
        if not self.hunks:
            self.notify("no changes", severity="information")
            return
        self.hunk_index = (self.hunk_index + step) % len(self.hunks)
        row = self.hunks[self.hunk_index]
        line = self.row_starts[row] if row < len(self.row_starts) else row
        self.query_one("#diff-body", VerticalScroll).scroll_to(y=max(line - 2, 0), animate=False)

    def action_scroll(self, step: int) -> None:
        body = self.query_one("#diff-body", VerticalScroll)
        body.scroll_to(y=max(body.scroll_y + step, 0), animate=False)

    def action_swap(self) -> None:
        if self.left is None:
            return
        self.left, self.right = self.right, self.left
        self.render_diff()

    def action_unified(self) -> None:
        if self.left is None:
            return
        self.unified = not self.unified
        self.render_diff()

    def action_wrap(self) -> None:
        if self.left is None:
            return
        self.wrap = not self.wrap
        self.column_offset = 0
        self.notify("long lines wrap in step" if self.wrap else "long lines cut: ←/→ scroll both sides together")
        self.render_diff()

    def action_sideways(self, step: int) -> None:
        if self.left is None or self.wrap or self.unified:
            return
        left, right = self._lines(self.left), self._lines(self.right)
        _, _, code_width = pane_layout(max(self.app.size.width - 1, 20), len(left), len(right))
        furthest = max(longest(left), longest(right)) - code_width  # the longest line's end at the edge
        self.column_offset = max(0, min(self.column_offset + step * SIDEWAYS_STEP, max(furthest, 0)))
        self.render_diff()

    def _side(self, which: str) -> DiffSide | None:
        return self.right if which == "right" else self.left

    def action_copy(self, which: str) -> None:
        side = self._side(which)
        if side is not None:
            copy_code(self.app, side.code, side.title)

    def action_save(self, which: str) -> None:
        side = self._side(which)
        if side is not None:
            save_code(self.app, side.code, side.file_stem)

    def palette_commands(self):
        yield ("Copy right side", "Copy its code to the clipboard (OSC 52)", lambda: self.action_copy("right"))
        yield ("Copy left side", "Copy its code to the clipboard (OSC 52)", lambda: self.action_copy("left"))
        yield ("Save right side", "Write its code to a file", lambda: self.action_save("right"))
        yield ("Save left side", "Write its code to a file", lambda: self.action_save("left"))
        yield ("Next change", "Scroll to the next changed block", lambda: self.action_hunk(1))
        yield ("Previous change", "Scroll to the previous changed block", lambda: self.action_hunk(-1))
        yield ("Swap sides", "Left becomes right", self.action_swap)
        yield ("Side by side" if self.unified else "Unified diff", "Toggle the layout", self.action_unified)
        yield ("Cut long lines" if self.wrap else "Wrap long lines", "Wrap in step or scroll sideways together",
               self.action_wrap)
