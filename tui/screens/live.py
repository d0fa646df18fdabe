"""The live run: per-task progress, the run's progress and throughput, a stream of samples.

A thread worker follows the run from SQLite alone (`LiveFeed.poll`, every
`app.poll_interval` seconds) and posts one message per poll; the screen
applies each batch at once, so a burst of hundreds of events costs one
table update and one log write.
"""
from __future__ import annotations

import threading

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, RichLog, Static

from .. import fmt
from ..data import FeedLine, FeedUpdate, LiveFeed
from ..widgets import TitleBar, cell, fit, join, selected_key, sync_rows
from .base import SgsScreen

STATUS_MARK = {"running": "▶", "finished": "■", "interrupted": "‖", "failed": "✗", "created": "·"}
OUTCOME_STYLE = {"correct": "green", "incorrect": "yellow", "compile_error": "red", "runtime_error": "red",
                 "timeout": "magenta", "crashed": "red", "no_code": "dim"}


class FeedPolled(Message):
    def __init__(self, update: FeedUpdate, generation: int):
        super().__init__()
        self.update = update
        self.generation = generation


class LiveScreen(SgsScreen):
    BINDINGS = [
        Binding("enter", "candidates", "Candidates", id="live.candidates",
                tooltip="The highlighted task's samples ranked by surprisal"),
        Binding("d", "diff", "Diff", id="live.diff", tooltip="Most-confident pick vs surprisal pick"),
        Binding("s", "stats", "Stats", id="live.stats", tooltip="Strategy table and best-of-K curve"),
        Binding("p", "pause", "Pause log", id="live.pause", tooltip="Freeze the log; the tables stay live"),
        Binding("r", "resume_run", "Resume", id="live.resume", tooltip="Continue an interrupted run"),
        Binding("q", "app.quit", "Quit", id="quit", tooltip="Quit; runs go on in the background"),
    ]

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id
        self.run: dict | None = None
        self.progress: list[dict] = []
        self.paused = False
        self._held: list[FeedLine] = []
        self._generation = 0
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield TitleBar(f" sgs ─ run {self.run_id}", id="title")
        yield DataTable(id="tasks", cursor_type="row", cell_padding=0)
        yield Static("", id="run-progress")
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False, auto_scroll=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#tasks", DataTable)
        for key, label, justify in (("task", "task", "left"), ("name", "name", "left"),
                                    ("sampled", "sampled", "left"), ("evaluated", "evaluated", "left"),
                                    ("correct", "ok", "right"), ("fast", "fast", "right"),
                                    ("best", "best", "right")):
            table.add_column(cell(label, justify), key=key)
        self.query_one("#log", RichLog).border_title = "samples"
        self.follow()

    def on_unmount(self) -> None:
        self._stop.set()

    def on_resize(self) -> None:
        if self.progress:
            self._render_tasks()

    def restart_feed(self) -> None:
        self._stop.set()
        self._stop = threading.Event()
        self._generation += 1
        self.follow()

    @work(thread=True, exclusive=True, group="live.feed", exit_on_error=False, name="following the run")
    def follow(self) -> None:
        stop, generation = self._stop, self._generation
        feed = LiveFeed(self.data, self.run_id)
        while not stop.is_set():
            try:
                update = feed.poll()
            except LookupError as exc:
                self.fail("run", exc)
                return
            self.post_message(FeedPolled(update, generation))
            if update.run["effective_status"] != "running" and update.run["status"] != "created":
                # a finished or interrupted run changes no more unless it is resumed: poll slowly
                stop.wait(max(self.app.poll_interval * 4, 2.0))
            else:
                stop.wait(self.app.poll_interval)

    @on(FeedPolled)
    def _polled(self, message: FeedPolled) -> None:
        if message.generation != self._generation:
            return
        update = message.update
        self.run = update.run
        if update.progress:
            self.progress = update.progress
            self._render_tasks()
        self._render_header(update)
        if update.lines or update.dropped:
            self._write_lines(update.lines, update.dropped)

    # -- rendering --------------------------------------------------------
    def _render_header(self, update: FeedUpdate) -> None:
        run = update.run
        status = run["effective_status"]
        cfg = run.get("config") or {}
        name = run.get("name") or f"{run['kind']} run"
        model = run.get("model") or "-"
        if "/" in model and model.startswith(("/", ".")):
            model = model.rsplit("/", 1)[-1]
        title = join([f" sgs ─ run {run['id']}", fit(name, 28), fit(model, 24), f"K={run['k']}",
                      run.get("prompt_style") or "", (cfg.get("eval") or {}).get("mode", "")])
        self.query_one("#title", TitleBar).update(
            Text.assemble(title, "  ", (f"{STATUS_MARK.get(status, '?')} {status}", "bold")))
        n_tasks = len(self.progress) or 1
        sampled = sum(p["n_samples"] for p in self.progress)
        expected = sampled if run.get("kind") == "replay" else n_tasks * (run["k"] or 0)
        evaluated = sum(p["n_evaluated"] or 0 for p in self.progress)
        correct = sum(p["n_correct"] or 0 for p in self.progress)
        width = min(max(self.app.size.width - 56, 10), 48)
        line1 = (f" Run {fmt.bar(evaluated, expected, width)} {sampled}/{expected} sampled · "
                 f"{evaluated} evaluated · {correct} correct")
        tp = update.throughput
        window = "last min" if status == "running" else f"over {fmt.duration(tp.window_s)}"
        rates = (join([f"{fmt.rate(tp.samples_per_min, 1)} samples/min", f"{fmt.rate(tp.evals_per_min, 1)} evals/min",
                       f"{fmt.rate(tp.tokens_per_s, 1)} tok/s"]) + f" ({window})"
                 if tp.samples_per_min is not None else "no throughput yet")
        line2 = "     " + join([rates, update.hardware or ""])
        if status == "interrupted":
            line2 += "   r resumes it"
        elif status == "failed" and run.get("error"):
            line2 = "     failed: " + fit(run["error"], self.app.size.width - 14)
        self.query_one("#run-progress", Static).update(line1 + "\n" + line2)

    def _render_tasks(self) -> None:
        k = (self.run or {}).get("k") or 0
        name_w = max(self.app.size.width - 66, 8)
        bar_w = 6 if self.app.size.width < 100 else 12
        rows = []
        for p in self.progress:
            n_s, n_e = p["n_samples"] or 0, p["n_evaluated"] or 0
            best = p["best_speedup"]
            flagged = best is not None and best > 10
            sampled = (cell(f"{n_s:>3}/{k} {fmt.bar(n_s, k, bar_w)}") if n_s else
                       cell(f"{n_s:>3}/{k} " + "·queued·".ljust(bar_w)[:bar_w]))
            rows.append((p["task_id"], [
                cell(fit(p["task_id"], 16)),
                cell(fit(p["name"], name_w)),
                sampled,
                cell(f"{n_e:>3}/{k} {fmt.bar(n_e, k, bar_w)}"),
                cell(p["n_correct"] or 0, "right"),
                cell(p["n_fast"] or 0, "right"),
                cell(fmt.speedup(best) + ("!" if flagged else " "), "right"),
            ]))
        sync_rows(self.query_one("#tasks", DataTable), rows)

    def _format_line(self, line: FeedLine) -> Text:
        t = Text(no_wrap=True)
        t.append(fmt.clock_time(line.ts, self.clock) + " ", style="dim")
        t.append(f"{fit(line.task_id, 16):<16} #{line.sample_idx:<3} S={fmt.num(line.surprisal, '7.1f')} ")
        if line.kind == "sampled":
            t.append("sampled".ljust(14), style="dim")
            if line.n_tokens is not None:
                t.append(f"{line.n_tokens} tok")
            if line.outcome == "no_code":
                t.append("  no code in reply", style="dim")
            return t
        outcome = line.outcome or "?"
        t.append(outcome.ljust(14), style=OUTCOME_STYLE.get(outcome, ""))
        if line.speedup is not None:
            t.append(f"{line.speedup:6.2f}×" + (" !" if line.flagged else ""), style="bold" if line.flagged else "")
        if outcome != "correct" and line.error:
            t.append(" " + fmt.first_line(line.error, 70), style="dim")
        return t

    def _write_lines(self, lines: list[FeedLine], dropped: int) -> None:
        if self.paused:
            self._held.extend(lines)
            return
        log = self.query_one("#log", RichLog)
        if dropped:
            log.write(Text(f"… {dropped} earlier events not shown", style="dim"))
        for line in lines:
            log.write(self._format_line(line))

    # -- actions ----------------------------------------------------------
    def selected_task(self) -> str | None:
        return selected_key(self.query_one("#tasks", DataTable))

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
            from .diff import open_pick_diff

            open_pick_diff(self, self.run_id, task, (self.run or {}).get("rank_by") or "surprisal")

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
            yield (f"Diff picks of {task}", "Most-confident pick vs surprisal pick", self.action_diff)
        yield ("Stats", "Strategy table, best-of-K curve, correlation", self.action_stats)
        yield ("Pause log" if not self.paused else "Follow log", "Freeze or follow the sample stream",
               self.action_pause)
        if self.run and self.run["effective_status"] == "interrupted":
            yield (f"Resume run {self.run_id}", "Continue it in the background", self.action_resume_run)
