"""Side by side diff, lines aligned with difflib; both panes scroll together.

The panes are two columns of one scrolled container, so they cannot drift
apart; gaps pad the shorter side of a changed block. Changed lines carry a
mark in the gutter (- + ~) besides the colour, so the diff reads without it.
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

from .. import fmt
from ..diffing import DiffRow, align, hunk_starts, similarity, unified
from ..messages import Loaded
from ..syntax import highlighted_lines
from ..widgets import TitleBar, join
from .base import SgsScreen

MARK = {"equal": " ", "replace": "~", "delete": "-", "insert": "+"}
LEFT_BG = "on #3c1e1e"
RIGHT_BG = "on #1e3a22"


@dataclass
class DiffSide:
    title: str
    code: str


def side_of(cand, label: str | None) -> DiffSide:
    parts = [label or "", f"#{cand.sample_idx}", f"S={fmt.num(cand.surprisal)}", fmt.speedup(cand.speedup, "")]
    return DiffSide(" ".join(p for p in parts if p), cand.code or "")


def open_reference_diff(screen, run_id: int, task_id: str, cand) -> None:
    def load(data):
        task = data.task(run_id, task_id)
        return DiffSide(f"reference {task_id}", task.reference_src), side_of(cand, None)

    screen.app.push_screen(DiffScreen(loader=load))


def open_pick_diff(screen, run_id: int, task_id: str, rank_by: str) -> None:
    def load(data):
        from sgs.core.selection.picks import picks_by_strategy

        cands = data.candidates(run_id, task_id)
        picks = picks_by_strategy(cands, rank_by)
        by_idx = {c.sample_idx: c for c in cands}
        if "most-confident" not in picks:
            raise LookupError(f"{task_id} has no correct sample yet: nothing to compare")
        return side_of(by_idx[picks["most-confident"]], "most-confident"), side_of(by_idx[picks["surprisal"]],
                                                                                   "surprisal")

    screen.app.push_screen(DiffScreen(loader=load))


class DiffScreen(SgsScreen):
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("n", "hunk(1)", "Next change", id="diff.next", tooltip="Scroll to the next changed block"),
        Binding("p", "hunk(-1)", "Prev change", id="diff.prev", tooltip="Scroll to the previous changed block"),
        Binding("s,left,right", "swap", "Swap", id="diff.swap", tooltip="Swap the two sides"),
        Binding("u", "unified", "Unified", id="diff.unified", tooltip="Toggle a unified diff"),
    ]

    def __init__(self, left: DiffSide | None = None, right: DiffSide | None = None, *,
                 loader: Callable | None = None):
        super().__init__()
        self.left, self.right = left, right
        self.loader = loader
        self.rows: list[DiffRow] = []
        self.hunks: list[int] = []
        self.hunk_index = -1
        self.unified = False

    def compose(self) -> ComposeResult:
        yield TitleBar(" diff", id="title")
        with Horizontal(id="diff-heads"):
            yield Static("", id="left-head", classes="diff-head")
            yield Static("", id="right-head", classes="diff-head")
        with VerticalScroll(id="diff-body"):
            with Horizontal(id="diff-panes"):
                yield Static("", id="left-pane", classes="diff-pane")
                yield Static("", id="right-pane", classes="diff-pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.loader is not None:
            self.load()
        else:
            self.render_diff()

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
            self.query_one("#left-pane", Static).update(f" {message.value}")

    def render_diff(self) -> None:
        left_lines = self.left.code.expandtabs(4).splitlines()
        right_lines = self.right.code.expandtabs(4).splitlines()
        self.rows = align(left_lines, right_lines)
        self.hunks = hunk_starts(self.rows)
        self.hunk_index = -1
        changed = sum(r.tag != "equal" for r in self.rows)
        self.query_one("#title", TitleBar).update(join([
            " diff", f"{len(self.hunks)} changed blocks", f"{changed} lines differ",
            f"similarity {similarity(left_lines, right_lines):.0%}", "unified" if self.unified else ""]))
        self.query_one("#left-head", Static).update(f" {self.left.title}")
        self.query_one("#right-head", Static).update(f" {self.right.title}")
        left_pane, right_pane = self.query_one("#left-pane", Static), self.query_one("#right-pane", Static)
        heads = self.query_one("#diff-heads")
        if self.unified:
            heads.display = False
            right_pane.display = False
            text = Text(no_wrap=True, overflow="ellipsis")
            for line in unified(left_lines, right_lines, self.left.title, self.right.title):
                style = ("bold" if line.startswith(("---", "+++", "@@")) else
                         "red" if line.startswith("-") else "green" if line.startswith("+") else "")
                text.append(line + "\n", style=style)
            left_pane.update(text if text.plain else Text(" the two sides are identical"))
            return
        heads.display = True
        right_pane.display = True
        left_pane.update(self._pane(left_lines, [r.left for r in self.rows], "left"))
        right_pane.update(self._pane(right_lines, [r.right for r in self.rows], "right"))

    def _pane(self, lines: list[str], indices: list[int | None], side: str) -> Text:
        hl = highlighted_lines("\n".join(lines)) if lines else []
        width = len(str(len(lines))) if lines else 1
        out = Text(no_wrap=True, overflow="ellipsis", end="")
        bg = LEFT_BG if side == "left" else RIGHT_BG
        for n, (row, idx) in enumerate(zip(self.rows, indices)):
            if n:
                out.append("\n")
            changed = row.tag != "equal"
            if idx is None:
                out.append(" " * (width + 2))
                continue
            mark = MARK[row.tag] if changed else " "
            out.append(f"{idx + 1:>{width}}", style="dim")
            out.append(mark + " ", style="bold" if changed else "")
            line = hl[idx].copy() if idx < len(hl) else Text(lines[idx])
            if changed:
                line.stylize(bg)
            out.append_text(line)
        return out

    def action_hunk(self, step: int) -> None:
        if not self.hunks:
            self.notify("no changes", severity="information")
            return
        self.hunk_index = (self.hunk_index + step) % len(self.hunks)
        row = self.hunks[self.hunk_index]
        self.query_one("#diff-body", VerticalScroll).scroll_to(y=max(row - 2, 0), animate=False)

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

    def palette_commands(self):
        yield ("Next change", "Scroll to the next changed block", lambda: self.action_hunk(1))
        yield ("Previous change", "Scroll to the previous changed block", lambda: self.action_hunk(-1))
        yield ("Swap sides", "Left becomes right", self.action_swap)
        yield ("Side by side" if self.unified else "Unified diff", "Toggle the layout", self.action_unified)
