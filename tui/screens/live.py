"""The live run: per-task progress and picks, the run's progress and throughput, a stream of samples.

A thread worker follows the run from SQLite alone (`LiveFeed.poll`, every
`app.poll_interval` seconds) and posts one message per poll; the screen
applies each batch at once, so a burst of hundreds of events costs one
table update and one log write. A run that failed to start shows its error
and the end of its log at once, with a key to retry it with edited settings.
"""
from __future__ import annotations

import threading

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, RichLog, Static

from .. import colours, fmt
from ..data import FeedLine, FeedUpdate, LaunchFailure, LiveFeed
from ..layout import Col, ranked_parts
from ..table import SgsTable
from ..widgets import TitleBar, fit, join
from .base import SgsScreen

STATUS_MARK = {"running": "▶", "finished": "■", "interrupted": "‖", "failed": "✗", "created": "·",
               "failed to start": "✗"}


class FeedPolled(Message):
    def __init__(self, update: FeedUpdate | None, generation: int, waiting: bool = False):
        super().__init__()
        self.update = update
        self.generation = generation
        self.waiting = waiting


def task_label(task_id: str, name: str | None) -> str:
    """The task id, then its name unless the id already ends with it (builtin/relu relu)."""
    if not name or task_id.rsplit("/", 1)[-1] == name:
        return task_id
    return f"{task_id} {name}"


def pick_text(cand) -> str:
    """'#31 41.20×' for a pick (with ! when its speedup is held for review), '-' for none yet."""
    if cand is None:
        return "-"
    from sgs.core.review import needs_review

    return f"#{cand.sample_idx} {fmt.speedup(cand.speedup)}" + ("!" if needs_review(cand.flags) else "")


class PicksPolled(Message):
    def __init__(self, top3: dict, generation: int):
        super().__init__()
        self.top3 = top3
        self.generation = generation


class LiveScreen(SgsScreen):
    help_title = "live run"
    BINDINGS = [
        Binding("t", "top3_diff", "Top3/oracle", id="live.top3",
                tooltip="Diff the highlighted task's surprisal-top3 pick against the oracle's"),
        Binding("d", "diff", "Diff", id="live.diff", tooltip="Most-confident pick vs surprisal pick"),
        Binding("s", "stats", "Stats", id="live.stats", tooltip="Strategy table and best-of-K curve"),
        Binding("e", "retry", "Retry", id="live.retry",
                tooltip="The run failed to start: edit its settings and start it again"),
        Binding("p", "pause", "Pause log", id="live.pause", show=False,
                tooltip="Freeze the log; the tables stay live"),
        Binding("r", "resume_run", "Resume", id="live.resume", tooltip="Continue an interrupted run"),
        Binding("q", "app.quit", "Quit", id="quit", tooltip="Quit; runs go on in the background"),
    ]

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id
        self.run: dict | None = None
        self.progress: list[dict] = []
        self.top3: dict = {}
        self.failure: LaunchFailure | None = None
        self.waiting = False
        self.paused = False
        self._held: list[FeedLine] = []
        self._generation = 0
        self._stop = threading.Event()
        self._last_update: FeedUpdate | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(f" sgs ─ run {self.run_id}", id="title")
        yield Static("", id="failure")
        yield SgsTable(self._columns(), id="tasks", enter="Candidates")
        yield Static("", id="run-progress")
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False, auto_scroll=True)
        yield Footer(compact=True)

    def _columns(self, longest_id: int = 12) -> list[Col]:
        # the task's name is what gives way first (down to the id, which is never cut)
        return [Col("task", "task", rank=9, keep=True, min_width=longest_id, grow=True, max_width=60),
                Col("sampled", "sampled"), Col("evaluated", "evaluated"),
                Col("correct", "ok", "right", rank=2), Col("fast", "fast", "right", rank=3),
                Col("best", "best", "right"), Col("top3", "top3 pick", "right", rank=1)]

    def on_mount(self) -> None:
        self.query_one("#log", RichLog).border_title = "samples"
        self.query_one("#failure").display = False
        self.follow()

    def on_unmount(self) -> None:
        self._stop.set()

    def on_resize(self) -> None:
        if self.progress:
            self._render_tasks()
        if self._last_update is not None:
            self._render_header(self._last_update)
            self._render_failure(self.failure)  # its log lines fit the new size

    def restart_feed(self) -> None:
        self._stop.set()
        self._stop = threading.Event()
        self._generation += 1
        self.follow()

    @work(thread=True, exclusive=True, group="live.feed", exit_on_error=False, name="following the run")
    def follow(self) -> None:
        stop, generation = self._stop, self._generation
        feed = LiveFeed(self.data, self.run_id)
        seen = False
        while not stop.is_set():
            try:
                update = feed.poll(with_picks=False)
            except LookupError:
                if seen:  # deleted by another client
                    self.post_message(FeedPolled(None, generation))
                    return
                # `sgs tui --run N` before run N exists: wait for it to be created
                self.post_message(FeedPolled(None, generation, waiting=True))
                stop.wait(self.app.poll_interval)
                continue
            seen = True
            self.post_message(FeedPolled(update, generation))
            picks = feed.picks()  # after the table: on a large run it shows first, its picks a moment later
            if picks:
                self.post_message(PicksPolled(picks, generation))
            if update.run["effective_status"] != "running" and update.run["status"] != "created":
                # a finished or interrupted run changes no more unless it is resumed: poll slowly
                stop.wait(max(self.app.poll_interval * 4, 2.0))
            else:
                stop.wait(self.app.poll_interval)

    @on(FeedPolled)
    def _polled(self, message: FeedPolled) -> None:
        if message.generation != self._generation:
            return
        if message.update is None:
            if message.waiting:
                self._show_waiting()
            else:
                self.app.close_deleted({self.run_id})
            return
        update = message.update
        self.waiting = False
        self.run = update.run
        self._last_update = update
        if update.progress:
            self.progress = update.progress
        if update.top3:
            self.top3.update(update.top3)
        if update.progress or update.top3:
            self._render_tasks()
        self._render_failure(update.failure)
        self._render_header(update)
        if update.lines or update.dropped:
            self._write_lines(update.lines, update.dropped)
        self.refresh_bindings()

    @on(PicksPolled)
    def _picks(self, message: PicksPolled) -> None:
        if message.generation == self._generation:
            self.top3.update(message.top3)
            if self.progress:
                self._render_tasks()

    # -- rendering --------------------------------------------------------
    def _show_waiting(self) -> None:
        self.waiting = True
        self.query_one("#title", TitleBar).update(
            fit(f" sgs ─ run {self.run_id} · waiting for it to be created in {self.data.path.name}…",
                self.app.size.width))
        self.query_one("#run-progress", Static).update(
            f" No run {self.run_id} in {self.data.path.name} yet: this view follows it as soon as it starts.")

    def _render_failure(self, failure: LaunchFailure | None) -> None:
        panel = self.query_one("#failure", Static)
        was = self.failure
        self.failure = failure
        panel.display = failure is not None
        # a run that never started has no tasks under way and no samples: the failure takes their room
        self.query_one("#tasks").display = failure is None
        self.query_one("#log").display = failure is None
        if failure is None:
            return
        width = max(self.app.size.width - 2, 20)
        text = Text()
        # the error in full (it wraps); the log's lines cut at the edge with an ellipsis
        head = f" ✗ run {self.run_id} failed to start: {failure.error}"
        text.append(head + "\n", style="bold")
        rows = self.app.size.height - 1 - 3 - 1  # less the title, the progress lines and the footer
        room = max(rows - (len(head) // (width + 2) + 1) - 2, 3)
        if failure.log_path:
            path = failure.log_path
            room = width - len("   log , last lines:")
            if len(path) > room:  # keep the file's name: cut the path's start
                path = "…" + path[-(room - 1):]
            text.append(f"   log {path}, last lines:\n")
            tail = [ln for ln in failure.log_tail if ln.strip(" ^~")]  # not the traceback's underlines
            for line in tail[-room:]:
                text.append(fit("   │ " + line, width) + "\n", style="dim" if self.colour_mode != "mono" else "")
        else:
            text.append("   no log file was found for it\n")
        text.append("   e edits the settings and starts it again (the failed run goes) · esc back")
        panel.update(text)
        if was is None:
            self.notify(failure.error, title=f"run {self.run_id} failed to start", severity="error", timeout=10)

    def _render_header(self, update: FeedUpdate) -> None:
        run = update.run
        status = run["display_status"]
        cfg = run.get("config") or {}
        model = run.get("model") or "-"
        if "/" in model and model.startswith(("/", ".")):
            model = model.rsplit("/", 1)[-1]
        width = self.app.size.width
        status_text = f"{STATUS_MARK.get(status, '?')} {run['status_label']}"
        title = ranked_parts([(0, f" sgs ─ run {run['id']}"), (3, run.get("name") or f"{run['kind']} run"),
                              (4, model), (1, f"K={run['k']}"), (5, run.get("prompt_style") or ""),
                              (6, (cfg.get("eval") or {}).get("mode", ""))], width - len(status_text) - 3)
        line = Text(title)
        line.append(" " * max(width - len(title) - len(status_text) - 1, 2))
        line.append(status_text, style="bold")
        self.query_one("#title", TitleBar).update(line)

        n_tasks = len(self.progress) or 1
        sampled = sum(p["n_samples"] for p in self.progress)
        expected = sampled if run.get("kind") == "replay" else n_tasks * (run["k"] or 0)
        evaluated = sum(p["n_evaluated"] or 0 for p in self.progress)
        correct = sum(p["n_correct"] or 0 for p in self.progress)
        bar_w = min(max(width - 56, 10), 48)
        line1 = fit(f" Run {fmt.bar(evaluated, expected, bar_w)} {sampled}/{expected} sampled · "
                    f"{evaluated} evaluated · {correct} correct", width)
        tp = update.throughput
        window = "last min" if status == "running" else f"over {fmt.duration(tp.window_s)}"
        rates = (join([f"{fmt.rate(tp.samples_per_min, 1)} samples/min", f"{fmt.rate(tp.evals_per_min, 1)} evals/min",
                       f"{fmt.rate(tp.tokens_per_s, 1)} tok/s"]) + f" ({window})"
                 if tp.samples_per_min is not None else "no throughput yet")
        line2 = fit("     " + join([rates, update.hardware or ""]), width)
        line3 = fit("     " + self._activity(run), width)
        self.query_one("#run-progress", Static).update("\n".join([line1, line2, line3]))

    def _activity(self, run: dict) -> str:
        """What the run's process is doing now (from its progress row), or how long it ran."""
        status = run["display_status"]
        elapsed = fmt.elapsed(run, self.clock, run.get("earlier_s") or 0.0)
        if status == "failed to start":
            return "failed to start: e edits its settings and starts it again"
        if status == "interrupted":
            return f"interrupted after {elapsed} · r resumes it"
        if status == "failed":
            return "failed: " + (run.get("error") or "see the log")
        if status == "finished":
            return f"finished in {elapsed}"
        p = run.get("progress") or {}
        phase = p.get("phase")
        since = fmt.duration(_seconds_since(p.get("phase_started_at"), self.clock))
        if phase == "launching" or (status == "created" and not phase):
            return f"starting (pid {p.get('pid') or '?'}) · {since}"
        if phase == "loading_model":
            return f"loading model {p.get('detail') or ''} · {since}"
        if phase == "generating":
            # a local model writes a task's samples as one batch: `tokens` counts all of them so far
            tokens_now = (p.get("tokens_total") or 0) + (p.get("tokens") or 0)
            seconds = p.get("generating_s") or 0.0
            rate = f" · {tokens_now / seconds:.1f} tok/s" if seconds >= 1 and tokens_now else ""
            in_flight = f", {fmt.plural(p['tokens'], 'token')} so far" if p.get("tokens") else ""
            done, total = p.get("samples_done") or 0, p.get("samples_total") or 0
            return f"generating {p.get('task_id')}: {done}/{total} done{in_flight}{rate} · {elapsed}"
        if phase == "sampled":
            return f"evaluating {p.get('task_id')} · running {elapsed}"
        return f"running {elapsed}"

    def _render_tasks(self) -> None:
        k = (self.run or {}).get("k") or 0
        finished = (self.run or {}).get("effective_status") in ("finished", "failed")
        bar_w = 6 if self.app.size.width < 110 else 12
        kw = len(str(k))
        rows = []
        for p in self.progress:
            n_s, n_e = p["n_samples"] or 0, p["n_evaluated"] or 0
            best = p["best_speedup"]
            flagged = best is not None and best > 10
            if n_s or finished:
                sampled = f"{n_s:>{kw}}/{k} {fmt.bar(n_s, k, bar_w)}"
            else:
                sampled = f"{n_s:>{kw}}/{k} " + ("·queued·" if bar_w >= 8 else "queued").center(bar_w)
            rows.append((p["task_id"], {
                "task": Text.assemble(p["task_id"], (task_label(p["task_id"], p["name"])[len(p["task_id"]):], "dim")),
                "sampled": sampled,
                "evaluated": f"{n_e:>{kw}}/{k} {fmt.bar(n_e, k, bar_w)}",
                "correct": str(p["n_correct"] or 0),
                "fast": str(p["n_fast"] or 0),
                "best": fmt.speedup(best) + ("!" if flagged else " "),
                "top3": pick_text(self.top3.get(p["task_id"])),
            }))
        table = self.query_one("#tasks", SgsTable)
        longest_id = max((len(p["task_id"]) for p in self.progress), default=8)
        if table.specs[0].min_width != longest_id:  # task ids are never cut, only their names
            table.set_columns(self._columns(longest_id))
        table.set_rows(rows)

    def _format_line(self, line: FeedLine, width: int) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(fmt.clock_time(line.ts, self.clock) + " ", style="dim")
        t.append(f"{fit(line.task_id, 16):<16} #{line.sample_idx:<3} S={fmt.num(line.surprisal, '7.1f')} ")
        if line.kind == "sampled":
            t.append("sampled".ljust(14), style="dim")
            if line.n_tokens is not None:
                t.append(f"{line.n_tokens} tok")
            if line.outcome == "no_code":
                t.append("  no code in reply", style="dim")
        else:
            outcome = line.outcome or "?"
            t.append(outcome.ljust(14), style=colours.outcome(self.colour_mode, outcome))
            if line.speedup is not None:
                t.append(f"{line.speedup:6.2f}×" + (" !" if line.flagged else ""),
                         style="bold" if line.flagged else "")
            if outcome != "correct" and line.error:
                t.append(" " + fmt.first_line(line.error, 400), style="dim" if self.colour_mode != "mono" else "")
        if t.cell_len > width:  # cut with an ellipsis, never silently at the edge
            t.truncate(width, overflow="ellipsis")
        return t

    def _write_lines(self, lines: list[FeedLine], dropped: int) -> None:
        if self.paused:
            self._held.extend(lines)
            return
        log = self.query_one("#log", RichLog)
        width = max((log.size.width or self.app.size.width) - 1, 20)
        if dropped:
            log.write(Text(f"… {fmt.plural(dropped, 'earlier event')} not shown", style="dim"))
        if lines:  # one write for the batch: a large backlog costs one render, not one per line
            log.write(Text("\n").join(self._format_line(line, width) for line in lines))

    # -- actions ----------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "retry":
            return self.failure is not None
        if action in ("top3_diff", "diff", "pause") and self.failure is not None:
            return False  # a run that never started has nothing to diff or follow
        if action == "resume_run":
            return self.run is not None and self.run["display_status"] == "interrupted"
        return True

    def selected_task(self) -> str | None:
        return self.query_one("#tasks", SgsTable).cursor_key()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_candidates()

    def action_candidates(self) -> None:
        task = self.selected_task()
        if task is not None and self.run is not None:
            from .candidates import CandidatesScreen

            self.app.push_screen(CandidatesScreen(self.run_id, task, rank_by=self.run.get("rank_by") or "surprisal"))

    def action_stats(self) -> None:
        from .stats import StatsScreen

        self.app.push_screen(StatsScreen(self.run_id))

    def action_diff(self) -> None:
        task = self.selected_task()
        if task is not None:
            from .diff import open_pair

            open_pair(self, self.run_id, task, (self.run or {}).get("rank_by") or "surprisal",
                      "most-confident", "surprisal")

    def action_top3_diff(self) -> None:
        task = self.selected_task()
        if task is not None:
            from .diff import open_pair

            open_pair(self, self.run_id, task, (self.run or {}).get("rank_by") or "surprisal",
                      "oracle", "surprisal-top3")

    def action_retry(self) -> None:
        if self.failure is not None and self.run is not None:
            from .new_run import NewRunScreen

            self.app.push_screen(NewRunScreen(retry=self.run))

    def action_pause(self) -> None:
        self.paused = not self.paused
        log = self.query_one("#log", RichLog)
        if self.paused:
            log.border_title = "samples (paused: p resumes)"
        else:
            log.border_title = "samples"
            held, self._held = self._held, []
            self._write_lines(held[-500:], max(0, len(held) - 500))
        self.notify("log paused" if self.paused else "log following again")

    def action_resume_run(self) -> None:
        if self.run is None:
            return
        status = self.run["effective_status"]
        if status != "interrupted":
            self.notify(f"run {self.run_id} is {status}; only an interrupted run can be resumed", severity="warning")
            return
        self.app.resume_run(self.run_id)

    def palette_commands(self):
        task = self.selected_task()
        if task:
            yield (f"Candidates of {task}", "Its samples ranked by surprisal", self.action_candidates)
            yield (f"Diff top3 vs oracle of {task}", "The surprisal-top3 pick beside the oracle's",
                   self.action_top3_diff)
            yield (f"Diff picks of {task}", "Most-confident pick vs surprisal pick", self.action_diff)
        yield ("Stats", "Strategy table, best-of-K curve, correlation", self.action_stats)
        yield ("Pause log" if not self.paused else "Follow log", "Freeze or follow the sample stream",
               self.action_pause)
        if self.failure is not None:
            yield (f"Retry run {self.run_id}", "Edit its settings and start it again", self.action_retry)
        if self.run and self.run["effective_status"] == "interrupted":
            yield (f"Resume run {self.run_id}", "Continue it in the background", self.action_resume_run)


def _seconds_since(value: str | None, clock) -> float | None:
    ts = fmt.parse_ts(value)
    return None if ts is None else max((clock.now() - ts).total_seconds(), 0.0)
