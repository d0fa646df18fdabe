"""One sample: its source highlighted, the raw model reply, the evaluation and its error text."""
from __future__ import annotations

import json

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane

from .. import fmt
from ..messages import Loaded
from ..syntax import source_view
from ..widgets import TitleBar, join
from .base import SgsScreen


class SampleScreen(SgsScreen):
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("1", "tab('code')", "Code", id="sample.code", tooltip="The extracted source"),
        Binding("2", "tab('reply')", "Reply", id="sample.reply", tooltip="The model's raw reply"),
        Binding("3", "tab('evaluation')", "Evaluation", id="sample.eval", tooltip="Outcome, timings, error text"),
        Binding("r", "reference", "Vs reference", id="sample.reference", tooltip="Diff the reference against it"),
    ]

    def __init__(self, run_id: int, sample_id: int, *, rank_by: str = "surprisal"):
        super().__init__()
        self.run_id = run_id
        self.sample_id = sample_id
        self.rank_by = rank_by
        self.sample: dict | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(f" sample {self.sample_id}", id="title")
        with TabbedContent(id="sample-tabs"):
            with TabPane("Code", id="code"):
                with VerticalScroll():
                    yield Static("loading…", id="code-view")
            with TabPane("Reply", id="reply"):
                with VerticalScroll():
                    yield Static("", id="reply-view")
            with TabPane("Evaluation", id="evaluation"):
                with VerticalScroll():
                    yield Static("", id="eval-view")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="sample.load", exit_on_error=False, name="loading the sample")
    def load(self) -> None:
        self.post_message(Loaded("sample", self.data.sample(self.sample_id)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "sample":
            return
        s = self.sample = message.value
        flags = s.get("flags") or []
        self.query_one("#title", TitleBar).update(join([
            f" {s['task_id']} #{s['sample_idx']}", f"run {s['run_id']}", f"S={fmt.num(s['surprisal'])}",
            f"nll/tok {fmt.num(s['mean_nll'], '.3f')}", f"{fmt.num(s['n_tokens'], 'd')} tokens",
            s.get("outcome") or "not evaluated", fmt.speedup(s.get("speedup"), ""),
            ("! " + ", ".join(flags)) if flags else ""]))
        code = s.get("code")
        self.query_one("#code-view", Static).update(
            source_view(code) if code else Text(f" no code extracted: {s.get('extraction_error') or 'empty reply'}"))
        self.query_one("#reply-view", Static).update(self._reply(s))
        self.query_one("#eval-view", Static).update(self._evaluation(s))

    @staticmethod
    def _reply(s: dict) -> Text:
        raw = s.get("raw_text") or ""
        text = Text(raw)
        start, end = s.get("code_start"), s.get("code_end")
        if start is not None and end is not None and 0 <= start < end <= len(raw):
            text.stylize("bold", start, end)
        footer = [f"finish: {s.get('finish_reason') or '-'}", f"latency {fmt.num(s.get('latency_s'), '.2f')} s",
                  f"prompt tokens {fmt.num(s.get('prompt_tokens'), 'd')}"]
        if start is not None:
            footer.append(f"extracted code: characters {start}–{end} (bold)")
        if s.get("note"):
            footer.append(f"note: {s['note']}")
        text.append("\n\n" + " · ".join(footer), style="dim")
        return text

    @staticmethod
    def _evaluation(s: dict) -> Text:
        t = Text()

        def field(name: str, value) -> None:
            t.append(f"{name:<16}", style="bold")
            t.append(f"{value}\n")

        field("state", s.get("state") or "not evaluated")
        field("outcome", s.get("outcome") or "-")
        lo, hi = s.get("speedup_lo"), s.get("speedup_hi")
        ci = f"  (95% CI {fmt.num(lo, '.2f')}–{fmt.num(hi, '.2f')})" if lo is not None else ""
        field("speedup", fmt.speedup(s.get("speedup")) + ci)
        field("candidate", fmt.ms(s.get("candidate_ms")))
        field("reference", fmt.ms(s.get("reference_ms")))
        field("max |Δ|", fmt.num(s.get("max_abs_diff"), ".3g"))
        field("hardware", s.get("hardware") or "-")
        flags = s.get("flags") or []
        field("review flags", ", ".join(flags) if flags else "none")
        if s.get("extraction_error"):
            field("extraction", s["extraction_error"])
        if s.get("error"):
            t.append("\nerror\n", style="bold")
            t.append(s["error"].rstrip() + "\n", style="red")
        result = s.get("result")
        if isinstance(result, dict):
            extra = {k: v for k, v in result.items()
                     if k not in ("outcome", "speedup", "error", "flags", "hardware", "max_abs_diff")}
            if extra:
                t.append("\nevaluator details\n", style="bold")
                t.append(json.dumps(extra, indent=2, sort_keys=True, default=str) + "\n")
        return t

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reference(self) -> None:
        if self.sample is None:
            return
        from .diff import DiffScreen, DiffSide

        s = self.sample

        def load(data):
            task = data.task(s["run_id"], s["task_id"])
            title = f"#{s['sample_idx']} S={fmt.num(s['surprisal'])} {fmt.speedup(s.get('speedup'), '')}".strip()
            return DiffSide(f"reference {s['task_id']}", task.reference_src), DiffSide(title, s.get("code") or "")

        self.app.push_screen(DiffScreen(loader=load))

    def palette_commands(self):
        yield ("Show code", "The extracted source", lambda: self.action_tab("code"))
        yield ("Show raw reply", "The model's reply as it came", lambda: self.action_tab("reply"))
        yield ("Show evaluation", "Outcome, timings, error text", lambda: self.action_tab("evaluation"))
        yield ("Diff vs reference", "The reference beside this sample", self.action_reference)
