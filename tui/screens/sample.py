"""One sample: its source, where the model was unsure of it, the raw reply, and the evaluation.

The keys scroll the shown tab at once (j/k, PageDown/PageUp, g/G): its
scroll area has the focus from the start and after every tab switch.
"""
from __future__ import annotations

import json

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane

from .. import fmt
from ..clipboard import copy_code, save_code
from ..layout import ranked_parts
from ..messages import Loaded
from ..syntax import source_view
from ..tokens import shade
from ..widgets import TitleBar
from .base import SgsScreen

TABS = ("code", "reply", "evaluation", "surprisal")


class SampleScreen(SgsScreen):
    help_title = "sample"
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit", show=False, tooltip="Quit; runs go on in the background"),
        Binding("1", "tab('code')", "Code", id="sample.code", tooltip="The extracted source"),
        Binding("2", "tab('reply')", "Reply", id="sample.reply", tooltip="The model's raw reply"),
        Binding("3", "tab('evaluation')", "Eval", id="sample.eval", tooltip="Outcome, timings, error text"),
        Binding("4", "tab('surprisal')", "Surprisal", id="sample.surprisal",
                tooltip="The code shaded by each token's −log p: where the model was unsure"),
        Binding("y", "copy", "Copy", id="sample.copy", tooltip="Copy the code to the clipboard (OSC 52; over SSH too)"),
        Binding("w", "save", "Save", id="sample.save", tooltip="Save the code to a file"),
        Binding("r", "reference", "Vs ref", id="sample.reference", show=False,
                tooltip="Diff the reference against it"),
        Binding("a", "whole_reply", "Whole reply", id="sample.whole", show=False,
                tooltip="Surprisal tab: the whole reply, or only its code"),
        Binding("v", "next_scorer", "Scorer", id="sample.scorer", show=False,
                tooltip="Surprisal tab: the next model that scored this sample"),
        Binding("j", "scroll(1)", "Down", id="sample.down", show=False, tooltip="Scroll down a line"),
        Binding("k", "scroll(-1)", "Up", id="sample.up", show=False, tooltip="Scroll up a line"),
        Binding("g", "scroll_edge(0)", "Top", id="sample.top", show=False, tooltip="Scroll to the top"),
        Binding("G", "scroll_edge(1)", "Bottom", id="sample.bottom", show=False, tooltip="Scroll to the bottom"),
    ]

    def __init__(self, run_id: int, sample_id: int, *, rank_by: str = "surprisal", tab: str = "code"):
        super().__init__()
        self.run_id = run_id
        self.sample_id = sample_id
        self.rank_by = rank_by
        self.first_tab = tab
        self.sample: dict | None = None
        self.scores: list[dict] = []
        self.scorer = 0
        self.whole_reply = False

    def compose(self) -> ComposeResult:
        yield TitleBar(f" sample {self.sample_id}", id="title")
        with TabbedContent(id="sample-tabs", initial=self.first_tab):
            with TabPane("Code 1", id="code"):
                with VerticalScroll(id="code-scroll"):
                    yield Static("loading…", id="code-view")
            with TabPane("Reply 2", id="reply"):
                with VerticalScroll(id="reply-scroll"):
                    yield Static("", id="reply-view")
            with TabPane("Evaluation 3", id="evaluation"):
                with VerticalScroll(id="evaluation-scroll"):
                    yield Static("", id="eval-view")
            with TabPane("Surprisal 4", id="surprisal"):
                with VerticalScroll(id="surprisal-scroll"):
                    yield Static("", id="surprisal-view")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()
        self.call_after_refresh(self._focus_scroll)

    @work(thread=True, exclusive=True, group="sample.load", exit_on_error=False, name="loading the sample")
    def load(self) -> None:
        sample = self.data.sample(self.sample_id)
        self.post_message(Loaded("sample", (sample, self.data.scores(self.sample_id))))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "sample":
            return
        s, scores = message.value
        self.sample = s
        generator = [x for x in scores if x["scorer"] == "generator"]
        self.scores = generator + [x for x in scores if x["scorer"] != "generator"]
        self._render_title()
        code = s.get("code")
        self.query_one("#code-view", Static).update(
            source_view(code) if code else Text(f" no code extracted: {s.get('extraction_error') or 'empty reply'}"))
        self.query_one("#reply-view", Static).update(self._reply(s))
        self.query_one("#eval-view", Static).update(self._evaluation(s))
        self._render_surprisal()

    def _render_title(self) -> None:
        s = self.sample
        flags = s.get("flags") or []
        # flags, outcome and speedup are never dropped; run and token counts go first when space is short
        self.query_one("#title", TitleBar).update(ranked_parts([
            (0, f" {s['task_id']} #{s['sample_idx']}"), (0, s.get("outcome") or "not evaluated"),
            (0, fmt.speedup(s.get("speedup"), "") + ("!" if flags else "")),
            (0, ("! " + ", ".join(flags)) if flags else ""), (1, f"S={fmt.num(s['surprisal'])}"),
            (3, f"nll/tok {fmt.num(s['mean_nll'], '.3f')}"), (4, f"{fmt.num(s['n_tokens'], 'd')} tokens"),
            (2, f"run {s['run_id']}")], self.app.size.width))

    def on_resize(self) -> None:
        if self.sample is not None:
            self._render_title()

    def _render_surprisal(self) -> None:
        view = self.query_one("#surprisal-view", Static)
        s = self.sample
        if not self.scores:
            view.update(Text(" no token logprobs were stored for this sample (imported without a scorer): "
                             "`sgs score` adds them"))
            return
        score = self.scores[self.scorer % len(self.scores)]
        start, end = s.get("code_start"), s.get("code_end")
        whole = self.whole_reply or start is None or end is None or not s.get("code")
        result = shade(s.get("raw_text") or "", score["tokens"], score["logprobs"], score["offsets"],
                       start=None if whole else start, end=None if whole else end, mode=self.colour_mode)
        head = Text()
        others = f" (v: {len(self.scores) - 1} more)" if len(self.scores) > 1 else ""
        head.append(f" scored by {score['scorer']}{others} · {'whole reply' if whole else 'the code'}: "
                    f"{fmt.plural(result.n_tokens, 'token')}, −log p {result.surprisal:.1f}"
                    f"{' · a: ' + ('code only' if whole else 'whole reply') if start is not None else ''}\n",
                    style="bold")
        head.append(" ")
        head.append_text(result.legend)
        head.append("\n\n")
        out = Text.assemble(head, result.body)
        if result.top:
            out.append("\n\n most surprising: ", style="bold")
            out.append(" · ".join(f"line {line} {tok.strip()!r} {nll:.2f}" for line, tok, nll in result.top))
        view.update(out)

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
            t.append(s["error"].rstrip() + "\n")
        result = s.get("result")
        if isinstance(result, dict):
            extra = {k: v for k, v in result.items()
                     if k not in ("outcome", "speedup", "error", "flags", "hardware", "max_abs_diff")}
            if extra:
                t.append("\nevaluator details\n", style="bold")
                t.append(json.dumps(extra, indent=2, sort_keys=True, default=str) + "\n")
        return t

    # -- scrolling without Tab ----------------------------------------------
    def _active_scroll(self) -> VerticalScroll:
        active = self.query_one(TabbedContent).active or "code"
        return self.query_one(f"#{active}-scroll", VerticalScroll)

    def _focus_scroll(self) -> None:
        self._active_scroll().focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.call_after_refresh(self._focus_scroll)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.call_after_refresh(self._focus_scroll)

    def action_scroll(self, step: int) -> None:
        scroll = self._active_scroll()
        scroll.scroll_to(y=max(scroll.scroll_y + step, 0), animate=False)

    def action_scroll_edge(self, end: int) -> None:
        scroll = self._active_scroll()
        if end:
            scroll.scroll_end(animate=False)
        else:
            scroll.scroll_home(animate=False)

    # -- surprisal tab --------------------------------------------------------
    def action_whole_reply(self) -> None:
        if self.sample is not None:
            self.whole_reply = not self.whole_reply
            self._render_surprisal()

    def action_next_scorer(self) -> None:
        if self.sample is not None and len(self.scores) > 1:
            self.scorer = (self.scorer + 1) % len(self.scores)
            self._render_surprisal()

    # -- copy, save, reference ------------------------------------------------
    def _stem(self) -> str:
        s = self.sample
        return f"run{s['run_id']}_{s['task_id'].replace('/', '-')}_s{s['sample_idx']}"

    def action_copy(self) -> None:
        if self.sample is None or not self.sample.get("code"):
            self.notify("this sample has no code to copy", severity="warning")
            return
        copy_code(self.app, self.sample["code"], f"#{self.sample['sample_idx']}")

    def action_save(self) -> None:
        if self.sample is None or not self.sample.get("code"):
            self.notify("this sample has no code to save", severity="warning")
            return
        save_code(self.app, self.sample["code"], self._stem())

    def action_reference(self) -> None:
        if self.sample is None:
            return
        from .diff import DiffScreen, DiffSide

        s = self.sample

        def load(data):
            task = data.task(s["run_id"], s["task_id"])
            title = f"#{s['sample_idx']} S={fmt.num(s['surprisal'])} {fmt.speedup(s.get('speedup'), '')}".strip()
            return (DiffSide(f"reference {s['task_id']}", task.reference_src,
                             f"{s['task_id'].replace('/', '-')}_reference"),
                    DiffSide(title, s.get("code") or "", self._stem()))

        self.app.push_screen(DiffScreen(loader=load, run_id=self.run_id))

    def palette_commands(self):
        yield ("Show code", "The extracted source", lambda: self.action_tab("code"))
        yield ("Show token surprisal", "The code shaded by each token's −log p", lambda: self.action_tab("surprisal"))
        yield ("Show raw reply", "The model's reply as it came", lambda: self.action_tab("reply"))
        yield ("Show evaluation", "Outcome, timings, error text", lambda: self.action_tab("evaluation"))
        yield ("Copy code", "To the clipboard (OSC 52)", self.action_copy)
        yield ("Save code", "Write it to a file", self.action_save)
        yield ("Diff vs reference", "The reference beside this sample", self.action_reference)
