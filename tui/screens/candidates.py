"""One task's samples, ranked: picks, the Expert Tail and review flags at a glance."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from .. import colours, fmt
from ..clipboard import copy_code, save_code
from ..data import SORT_KEYS, CandidateRow, candidate_rows, summarise
from ..layout import Col, ranked_parts
from ..messages import Loaded
from ..table import SgsTable
from ..widgets import TitleBar, fit, join
from .base import SgsScreen

SHORT = {"oracle": "oracle", "surprisal-top3": "top3", "surprisal": "surprisal", "most-confident": "confident"}
SORT_LABEL = {"surprisal": "surprisal", "mean_nll": "nll/tok", "speedup": "speedup", "index": "index"}
TAIL_MARK = "▌"
MARKED = "◆"
REFRESH_S = 1.0
COLUMNS = [
    Col("rank", "  #", "right"),
    Col("sample", "sample"),
    Col("surprisal", "surprisal", "right"),
    Col("nll", "nll/tok", "right", rank=3),
    Col("tokens", "tokens", "right", rank=4),
    Col("outcome", "outcome"),
    Col("speedup", "speedup", "right"),
    Col("runtime", "runtime", "right", rank=5),
    Col("picks", "picked by"),              # never dropped, never cut
    Col("note", "error / first line", rank=6, min_width=12, grow=True),
]


class CandidatesScreen(SgsScreen):
    help_title = "candidates"
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("space", "mark", "Mark", id="cands.mark", tooltip="Mark the sample for a diff (two at most)"),
        Binding("d", "diff_marked", "Diff", id="cands.diff",
                tooltip="Diff the two marked samples (or the marked one against the highlighted one)"),
        Binding("t", "pair('oracle', 'surprisal-top3')", "Top3/oracle", id="cands.top3",
                tooltip="Diff the surprisal-top3 pick against the oracle's pick"),
        Binding("m", "pair('most-confident', 'surprisal')", "Conf vs surp", id="cands.confident",
                tooltip="Diff the most-confident pick against the surprisal pick", show=False),
        Binding("c", "compare", "Vs conf", id="cands.compare", show=False,
                tooltip="Diff the highlighted sample against the most-confident pick"),
        Binding("r", "reference", "Vs ref", id="cands.reference", show=False,
                tooltip="Diff the reference against the highlighted sample"),
        Binding("o", "sort", "Sort", id="cands.sort", tooltip="Sort by surprisal, nll/token, speedup or index"),
        Binding("v", "reverse", "Reverse", id="cands.reverse", tooltip="Reverse the sort order", show=False),
        Binding("f", "correct_only", "Correct", id="cands.correct", show=False, tooltip="Show only correct samples"),
        Binding("x", "hide_flagged", "Flagged", id="cands.flagged", show=False,
                tooltip="Set aside speedups held for review (and re-pick without them)"),
        Binding("y", "copy", "Copy", id="cands.copy", show=False,
                tooltip="Copy the highlighted sample's code (OSC 52; works over SSH)"),
        Binding("w", "save", "Save", id="cands.save", show=False, tooltip="Save the highlighted sample's code"),
        Binding("right_square_bracket", "next_task(1)", "Next task", id="cands.next", show=False,
                tooltip="The run's next task"),
        Binding("left_square_bracket", "next_task(-1)", "Prev task", id="cands.prev", show=False,
                tooltip="The run's previous task"),
    ]

    def __init__(self, run_id: int, task_id: str, *, rank_by: str = "surprisal", sort_key: str | None = None,
                 live: bool = True):
        super().__init__()
        self.run_id = run_id
        self.task_id = task_id
        self.rank_by = rank_by
        self.sort_key = sort_key or rank_by
        self.descending: bool | None = None
        self.correct_only = False
        self.hide_flagged = False
        self.cands = []
        self.rows: list[CandidateRow] = []
        self.summary = None
        self.task_ids: list[str] = []
        self.task_name = ""
        self.live = live
        self._loaded_once = False
        self.marked: list[int] = []   # sample indices marked for a diff, oldest first

    def compose(self) -> ComposeResult:
        yield TitleBar(f" {self.task_id}", id="title")
        yield Static("", id="summary")
        yield SgsTable(COLUMNS, id="cands-table", enter="Open")
        yield Static("", id="preview")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()
        if self.live:
            self.set_interval(REFRESH_S, self._refresh_if_running)

    def _refresh_if_running(self) -> None:
        if self.summary is not None and self._running:
            self.load()

    @work(thread=True, exclusive=True, group="cands.load", exit_on_error=False, name="loading candidates")
    def load(self) -> None:
        cands = self.data.candidates(self.run_id, self.task_id)
        extra = None
        if not self._loaded_once:
            run = self.data.run(self.run_id)
            tasks = self.data.tasks(self.run_id)
            extra = {"running": run["effective_status"] == "running", "task_ids": [t.id for t in tasks],
                     "name": next((t.name for t in tasks if t.id == self.task_id), "")}
        self.post_message(Loaded("candidates", (self.task_id, cands, extra)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "candidates":
            return
        task_id, cands, extra = message.value
        if task_id != self.task_id:
            return
        if extra is not None:
            self._loaded_once = True
            self._running = extra["running"]
            self.task_ids = extra["task_ids"]
            self.task_name = extra["name"]
        self.cands = cands
        self.summary = summarise(cands, self.rank_by)
        self.render_table()

    _running = False

    # -- rendering --------------------------------------------------------
    def render_table(self) -> None:
        self.rows = candidate_rows(self.cands, rank_by=self.rank_by, sort_key=self.sort_key,
                                   descending=self.descending, correct_only=self.correct_only,
                                   hide_flagged=self.hide_flagged)
        mode = self.colour_mode
        rows = []
        for row in self.rows:
            c = row.cand
            tail_style = "bold" if row.tail else ""
            outcome = c.outcome or "pending"
            note = ""
            if c.error and not c.correct:
                note = fmt.first_line(c.error, 200)
            elif c.code:
                body = [ln for ln in _forward_body(c.code) if not ln.lstrip().startswith("#")]
                note = body[0].strip() if body else ""
            rows.append((str(c.sample_idx), {
                "rank": Text.assemble((TAIL_MARK if row.tail else " ", "bold cyan" if mode != "mono" else "bold"),
                                      (MARKED if c.sample_idx in self.marked else " ", "bold"), f"{row.rank:>3}"),
                "sample": Text(f"#{c.sample_idx}", style=tail_style),
                "surprisal": Text(fmt.num(c.surprisal), style=tail_style),
                "nll": fmt.num(c.mean_nll, ".3f"),
                "tokens": fmt.num(c.n_tokens, "d"),
                "outcome": Text(outcome, style=colours.outcome(mode, outcome)),
                "speedup": Text(fmt.speedup(c.speedup) + ("!" if row.flagged else " "),
                                style="bold" if row.flagged else ""),
                "runtime": fmt.ms(c.candidate_ms),
                "picks": " ".join(SHORT.get(p, p) for p in row.picked_by),
                "note": Text(note, style="dim" if mode != "mono" else ""),
            }))
        self.query_one(SgsTable).set_rows(rows)
        self._render_summary()
        self._render_preview()

    def _render_summary(self) -> None:
        s = self.summary
        order = "▼" if (self.descending if self.descending is not None else self.sort_key != "index") else "▲"
        name = "" if self.task_id.rsplit("/", 1)[-1] == self.task_name else self.task_name
        title = ranked_parts([(0, f" {self.task_id}"), (4, name),
                              (0, f"{s.n_correct}/{s.n_samples} correct"),
                              (1, f"sort: {SORT_LABEL[self.sort_key]} {order}"),
                              (0, "correct only" if self.correct_only else ""),
                              (0, "flagged hidden" if self.hide_flagged else ""),
                              (2, f"run {self.run_id}")], self.app.size.width)
        self.query_one("#title", TitleBar).update(title)
        tail_n = len(s.tail)
        line1 = (f" {TAIL_MARK} Expert Tail: top {tail_n} of {s.n_correct} correct by {self.rank_by}"
                 if s.n_correct else " no correct sample yet")
        if s.n_evaluated < s.n_samples:
            line1 += f" · {s.n_samples - s.n_evaluated} not evaluated yet"
        n_picks = len(s.picks)
        if s.flagged_picks:
            names = " ".join(SHORT.get(n, n) for n in s.flagged_picks)
            without = []
            for name in ("oracle", "surprisal", "most-confident"):
                idx = s.picks_unflagged.get(name)
                without.append(f"{SHORT[name]} " + (f"#{idx} {fmt.speedup(s.speedup_of(idx))}" if idx is not None
                                                    else "none"))
            line2 = (f" ! {len(s.flagged_picks)} of {n_picks} picks held for review ({names}) · "
                     f"without them: " + ", ".join(without))
        elif n_picks:
            line2 = f" none of the {n_picks} picks is held for review (!: over 10×, reference-equivalent, not robust)"
        else:
            line2 = ""
        self.query_one("#summary", Static).update(line1 + ("\n" + line2 if line2 else ""))

    def _render_preview(self) -> None:
        cand = self.selected_candidate()
        preview = self.query_one("#preview", Static)
        width = max(self.app.size.width - 2, 20)
        marked = ""
        if self.marked:
            marked = "marked " + ", ".join(f"#{i}" for i in self.marked) + \
                (": d diffs them" if len(self.marked) == 2 else ": mark one more, or d diffs it with the highlighted")
        if cand is None:
            preview.border_title = marked
            preview.update("")
            return
        head = join([f"#{cand.sample_idx}", cand.outcome or "pending", fmt.speedup(cand.speedup, ""),
                     ", ".join(cand.flags), marked])
        # the body of forward() says most about a candidate; fall back to the first lines
        shown = _forward_body(cand.code or "") or [ln for ln in (cand.code or "").splitlines() if ln.strip()]
        if cand.error and cand.outcome != "correct":
            shown = [fmt.first_line(cand.error, 200)] + shown
        text = "\n".join(fit(" " + ln, width) for ln in shown[:3]) or " (no code)"
        preview.border_title = fit(head, width - 2)
        preview.update(text)

    def on_resize(self) -> None:
        if self.summary is not None:  # the title and the preview fit the new width
            self._render_summary()
            self._render_preview()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_preview()

    def selected_candidate(self):
        key = self.query_one(SgsTable).cursor_key()
        if key is None or self.summary is None:
            return None
        return self.summary.by_idx.get(int(key))

    # -- actions ----------------------------------------------------------
    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        cand = self.selected_candidate()
        if cand is not None:
            from .sample import SampleScreen

            self.app.push_screen(SampleScreen(self.run_id, cand.sample_id, rank_by=self.rank_by))

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.descending = None
        self.render_table()

    def action_reverse(self) -> None:
        current = self.descending if self.descending is not None else self.sort_key != "index"
        self.descending = not current
        self.render_table()

    def action_correct_only(self) -> None:
        self.correct_only = not self.correct_only
        self.render_table()

    def action_hide_flagged(self) -> None:
        self.hide_flagged = not self.hide_flagged
        self.render_table()

    def action_mark(self) -> None:
        cand = self.selected_candidate()
        if cand is None:
            return
        if cand.sample_idx in self.marked:
            self.marked.remove(cand.sample_idx)
        else:
            self.marked = (self.marked + [cand.sample_idx])[-2:]  # a third mark replaces the oldest
        self.render_table()

    def action_diff_marked(self) -> None:
        from .diff import DiffScreen, side_of

        if self.summary is None:
            return
        cand = self.selected_candidate()
        pair = list(self.marked)
        if len(pair) == 1 and cand is not None and cand.sample_idx != pair[0]:
            pair.append(cand.sample_idx)
        if len(pair) != 2:
            self.notify("mark two samples with space, then d diffs them", severity="warning")
            return
        left, right = (self.summary.by_idx[i] for i in pair)
        self.app.push_screen(DiffScreen(side_of(left, None, self.run_id), side_of(right, None, self.run_id),
                                        run_id=self.run_id))

    def action_pair(self, left: str, right: str) -> None:
        from .diff import open_pair

        open_pair(self, self.run_id, self.task_id, self.rank_by, left, right)

    def action_compare(self) -> None:
        cand = self.selected_candidate()
        if cand is None or self.summary is None:
            return
        other_idx = self.summary.picks.get("most-confident")
        if other_idx is None:
            self.notify("no most-confident pick: the task has no correct sample", severity="warning")
            return
        if other_idx == cand.sample_idx:
            other_idx = self.summary.picks.get("surprisal")
        from .diff import DiffScreen, side_of

        other = self.summary.by_idx[other_idx]
        left_label = "most-confident" if other_idx == self.summary.picks.get("most-confident") else "surprisal"
        self.app.push_screen(DiffScreen(side_of(other, left_label, self.run_id), side_of(cand, None, self.run_id),
                                        run_id=self.run_id))

    def action_copy(self) -> None:
        cand = self.selected_candidate()
        if cand is not None and cand.code:
            copy_code(self.app, cand.code, f"#{cand.sample_idx}")

    def action_save(self) -> None:
        cand = self.selected_candidate()
        if cand is not None and cand.code:
            save_code(self.app, cand.code, f"run{self.run_id}_{self.task_id.replace('/', '-')}_s{cand.sample_idx}")

    def action_reference(self) -> None:
        cand = self.selected_candidate()
        if cand is not None:
            from .diff import open_reference_diff

            open_reference_diff(self, self.run_id, self.task_id, cand)

    def action_next_task(self, step: int) -> None:
        if not self.task_ids or self.task_id not in self.task_ids:
            return
        i = (self.task_ids.index(self.task_id) + step) % len(self.task_ids)
        self.task_id = self.task_ids[i]
        self.task_name = ""
        self.marked = []
        self._loaded_once = False
        self.load()

    def palette_commands(self):
        yield ("Sort by " + SORT_LABEL[SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]],
               "Cycle the sort key", self.action_sort)
        yield ("Reverse order", "Flip ascending/descending", self.action_reverse)
        yield ("Show all samples" if self.correct_only else "Correct only", "Filter to correct samples",
               self.action_correct_only)
        yield ("Show flagged" if self.hide_flagged else "Hide flagged", "Speedups held for review",
               self.action_hide_flagged)
        yield ("Next task", "The run's next task", lambda: self.action_next_task(1))
        yield ("Previous task", "The run's previous task", lambda: self.action_next_task(-1))
        yield ("Diff top3 vs oracle", "The surprisal-top3 pick beside the oracle's pick",
               lambda: self.action_pair("oracle", "surprisal-top3"))
        yield ("Diff most-confident vs surprisal", "The two single picks side by side",
               lambda: self.action_pair("most-confident", "surprisal"))
        if self.selected_candidate() is not None:
            yield ("Open sample", "Source, raw reply, evaluation", self.action_open)
            yield ("Mark for diff", "Mark two samples, then diff them", self.action_mark)
            yield ("Copy code", "Copy the sample's code (OSC 52)", self.action_copy)
            yield ("Save code", "Write the sample's code to a file", self.action_save)
            yield ("Diff vs most-confident", "Side by side with the most-confident pick", self.action_compare)
            yield ("Diff vs reference", "The reference beside this sample", self.action_reference)


def _forward_body(code: str) -> list[str]:
    """The non-blank lines after `def forward`, or [] when there is none."""
    import textwrap

    lines = [ln for ln in code.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("def forward")), None)
    return textwrap.dedent("\n".join(lines[start + 1:])).splitlines() if start is not None else []
