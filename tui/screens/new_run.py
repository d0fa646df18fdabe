"""The new-run form: pick tasks (filter by source, level, split subset, name), a backend and model, and start.

The run is started in a detached process of its own (`sgs.core.launch`);
the form's values are remembered for next time (settings.py). Opened on a
run that failed to start, the form holds that run's settings: starting it
again replaces the failed run.
"""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.widgets import Button, Footer, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from ..messages import Loaded
from ..settings import FormValues, load_form, save_form
from ..widgets import TaskList, TitleBar, fit
from .base import SgsScreen

ALL = ""


class FormError(ValueError):
    """A field the run cannot start with (one line)."""


class NewRunScreen(SgsScreen):
    BINDINGS = [
        Binding("ctrl+s", "start", "Start", id="new.start", priority=True, tooltip="Start the run in the background"),
        Binding("ctrl+t", "toggle_shown", "All shown", id="new.all", priority=True,
                tooltip="Select (or clear) every task shown"),
        Binding("ctrl+f", "focus_filter", "Filter", id="new.filter", priority=True, tooltip="Type to filter tasks"),
    ]
    help_title = "new run"

    def __init__(self, retry: dict | None = None):
        super().__init__()
        self.retry = retry          # a run that failed to start: its settings fill the form
        self.tasks = []
        self.task_errors = 0
        self.shown: list[str] = []
        self.chosen: set[str] = set()
        self.form = FormValues()
        self._starting = False

    def compose(self) -> ComposeResult:
        from sgs.core.backends import BACKENDS
        from sgs.core.splits import shipped_splits
        from sgs.core.tasks import TASK_SOURCES

        yield TitleBar(f" new run · retrying run {self.retry['id']}, which failed to start" if self.retry
                       else " new run", id="title")
        with Horizontal(id="new-run"):
            with Vertical(id="picker"):
                yield Input(placeholder="type to filter tasks by name or id", id="filter", compact=True)
                with Horizontal(classes="filter-row"):
                    yield Select([("all sources", ALL)] + [(n, n) for n in TASK_SOURCES.names()], id="source",
                                 allow_blank=False, value=ALL, compact=True)
                    yield Select([("all levels", ALL)] + [(f"level {n}", str(n)) for n in (1, 2, 3, 4)],
                                 id="level", allow_blank=False, value=ALL, compact=True)
                with Horizontal(classes="filter-row"):
                    yield Select([("no split", ALL)] + [(n, n) for n in shipped_splits()], id="split",
                                 allow_blank=False, value=ALL, compact=True)
                    yield Select([(s, s) for s in ("eval", "train", "all")], id="subset", allow_blank=False,
                                 value="eval", compact=True)
                yield TaskList(id="task-list")
                yield Static("loading tasks…", id="task-count")
            with VerticalScroll(id="options"):
                for label, widget in (
                    ("backend", Select([(n, n) for n in BACKENDS.names()], id="backend", allow_blank=False,
                                       value="hf", compact=True)),
                    ("model", Input(id="model", compact=True, placeholder="embedded, HF id, file")),
                    ("K", Input(id="k", type="integer", compact=True)),
                    ("temperature", Input(id="temperature", type="number", compact=True)),
                    ("max tokens", Input(id="max_tokens", type="integer", compact=True)),
                    ("prompt style", Select([("body", "body"), ("kernel", "kernel")], id="prompt_style",
                                            allow_blank=False, value="body", compact=True)),
                    ("eval mode", Select([("fast", "fast"), ("full", "full")], id="eval_mode",
                                         allow_blank=False, value="fast", compact=True)),
                    ("name", Input(id="name", compact=True, placeholder="optional")),
                ):
                    with Horizontal(classes="option-row"):
                        yield Label(label)
                        yield widget
                yield Button("Start run  ^s", id="start", variant="primary", compact=True)
                yield Static("", id="form-error")
                yield Static("", id="launch-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#task-list", SelectionList).border_title = "tasks"
        self.load()

    @work(thread=True, exclusive=True, group="new.load", exit_on_error=False, name="listing tasks")
    def load(self) -> None:
        from sgs.core.tasks import scan_tasks

        form = load_form() if self.retry is None else form_of_run(self.retry)
        tasks, errors = scan_tasks(kernelbench=self.app.kernelbench)
        self.post_message(Loaded("tasks", (form, tasks, len(errors))))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what != "tasks":
            return
        form, self.tasks, self.task_errors = message.value
        self._apply_form(form)
        self.refilter()

    def _apply_form(self, form: FormValues) -> None:
        self.form = form
        known = {t.id for t in self.tasks}
        self.chosen = {t for t in form.tasks if t in known}

        def set_select(widget_id: str, value: str) -> None:
            try:
                self.query_one(f"#{widget_id}", Select).value = value
            except Exception:  # noqa: BLE001 - a remembered value no longer offered keeps the default
                pass

        set_select("backend", form.backend)
        set_select("prompt_style", form.prompt_style)
        set_select("eval_mode", form.eval_mode)
        set_select("source", form.source)
        set_select("level", form.level)
        set_select("split", form.split)
        set_select("subset", form.subset)
        self.query_one("#model", Input).value = form.model
        self.query_one("#k", Input).value = str(form.k)
        self.query_one("#temperature", Input).value = f"{form.temperature:g}"
        self.query_one("#max_tokens", Input).value = str(form.max_tokens)
        if self.retry is not None and self.retry.get("name"):
            self.query_one("#name", Input).value = self.retry["name"]

    # -- filtering --------------------------------------------------------
    def _value(self, widget_id: str) -> str:
        value = self.query_one(f"#{widget_id}", Select).value
        return value if isinstance(value, str) else ALL

    def filtered(self) -> list:
        from sgs.core.splits import split_task_ids

        needle = self.query_one("#filter", Input).value.strip().lower()
        source, level, split = self._value("source"), self._value("level"), self._value("split")
        allowed = None
        if split:
            try:
                allowed = set(split_task_ids(split, self._value("subset") or "eval"))
            except Exception as exc:  # noqa: BLE001 - a broken split file is the user's to see
                self.notify(str(exc), severity="error")
        out = []
        for t in self.tasks:
            if source and t.source != source:
                continue
            if level and str(t.level) != level:
                continue
            if allowed is not None and t.id not in allowed:
                continue
            if needle and needle not in t.id.lower() and needle not in t.name.lower():
                continue
            out.append(t)
        return out

    def refilter(self) -> None:
        tasks = self.filtered()
        self.shown = [t.id for t in tasks]
        task_list = self.query_one("#task-list", SelectionList)
        width = max(self.query_one("#picker").size.width - 8, 20)
        task_list.clear_options()
        task_list.add_options([Selection(fit(f"{t.id:<16} {t.name}", width), t.id, t.id in self.chosen)
                               for t in tasks])
        if tasks:
            task_list.highlighted = 0
        self._count()

    def _count(self) -> None:
        shown_chosen = sum(1 for t in self.shown if t in self.chosen)
        broken = f" · {self.task_errors} broken files skipped" if self.task_errors else ""
        self.query_one("#task-count", Static).update(
            f"{len(self.shown)} of {len(self.tasks)} shown · {len(self.chosen)} chosen"
            + (f" ({shown_chosen} shown)" if shown_chosen != len(self.chosen) else "") + broken)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.refilter()

    @on(Select.Changed, "#source, #level, #split, #subset")
    def _select_changed(self) -> None:
        if self.tasks:
            self.refilter()

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event: SelectionList.SelectionToggled) -> None:
        value = event.selection.value
        if value in event.selection_list.selected:
            self.chosen.add(value)
        else:
            self.chosen.discard(value)
        self._count()

    def on_key(self, event: Key) -> None:
        task_list = self.query_one("#task-list", SelectionList)
        if event.key == "down" and self.focused is self.query_one("#filter", Input):
            # from the filter straight into the list it filters
            task_list.focus()
            event.stop()
            event.prevent_default()
            return
        # typing in the task list filters it, as in the filter box
        if self.focused is task_list and event.is_printable and event.character and event.character != " ":
            box = self.query_one("#filter", Input)
            box.focus()
            box.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def on_descendant_focus(self, event) -> None:
        self.query_one("#form-error", Static).update("")
        # mark the row that holds the focus: its label is shown reversed (visible without colour)
        for row in self.query(".option-row"):
            row.set_class(event.widget in row.query("*"), "-current")

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#task-list", SelectionList).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_toggle_shown(self) -> None:
        task_list = self.query_one("#task-list", SelectionList)
        if self.shown and all(t in self.chosen for t in self.shown):
            self.chosen -= set(self.shown)
            task_list.deselect_all()
        else:
            self.chosen |= set(self.shown)
            task_list.select_all()
        self._count()

    # -- starting ---------------------------------------------------------
    def read_form(self):
        """The form as values to remember and the run's settings; FormError (one line) on a bad field."""
        from sgs.core.engine import EvalOptions, RunConfig
        from sgs.core.types import SamplingParams

        def number(widget_id: str, kind, label: str, low):
            raw = self.query_one(f"#{widget_id}", Input).value.strip()
            try:
                value = kind(raw)
            except ValueError:
                raise FormError(f"{label} must be a {'whole ' if kind is int else ''}number, not {raw!r}") from None
            if value < low:
                raise FormError(f"{label} must be at least {low}")
            return value

        ordered = [t.id for t in self.tasks if t.id in self.chosen]
        if not ordered:
            raise FormError("no tasks chosen: toggle some with space, or ^t selects all shown")
        k = number("k", int, "K", 1)
        temperature = number("temperature", float, "temperature", 0.0)
        max_tokens = number("max_tokens", int, "max tokens", 1)
        model = self.query_one("#model", Input).value.strip()
        if not model:
            raise FormError("model is empty (the embedded model is 'embedded')")
        values = FormValues(backend=self._value("backend") or "hf", model=model, k=k, temperature=temperature,
                            max_tokens=max_tokens, prompt_style=self._value("prompt_style") or "body",
                            eval_mode=self._value("eval_mode") or "fast", source=self._value("source"),
                            level=self._value("level"), split=self._value("split"),
                            subset=self._value("subset") or "eval", tasks=ordered)
        # a retried run keeps what the form does not show (backend options, device, seed, ...)
        base = RunConfig.from_dict(self.retry["config"]) if self.retry and self.retry.get("config") else None
        sampling = SamplingParams(**{**(vars(base.sampling) if base else {}), "temperature": temperature,
                                     "max_tokens": max_tokens, "seed": None})
        evaluation = EvalOptions(**{**(vars(base.eval) if base else {}), "mode": values.eval_mode})
        extra = {}
        if base is not None:
            extra = {"backend_options": dict(base.backend_options), "rank_by": base.rank_by,
                     "dataset_file": base.dataset_file}
        config = RunConfig(task_ids=ordered, k=k, backend=values.backend, model=model,
                           prompt_style=values.prompt_style, sampling=sampling, eval=evaluation,
                           kernelbench=self.app.kernelbench or (base.kernelbench if base else None),
                           name=self.query_one("#name", Input).value.strip() or None, **extra)
        return values, config

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self._starting:
            return
        try:
            values, config = self.read_form()
        except FormError as exc:
            self.query_one("#form-error", Static).update(fit(str(exc), 60))
            self.notify(str(exc), title="cannot start", severity="error")
            return
        self._starting = True
        self.set_timer(2.0, self._reset_starting)  # a second ^s soon after is a double press, not a new run
        self.query_one("#launch-status", Static).update(
            f"starting {len(config.task_ids)} tasks × K={config.k} in the background…")
        self.start(values, config)

    @work(thread=True, group="new.start", exit_on_error=False, name="starting the run")
    def start(self, values: FormValues, config) -> None:
        try:
            save_form(values)
        except OSError as exc:  # remembering the form is a convenience, never a reason not to start
            self.fail("remember form", exc)
        self.app.call_from_thread(self.app.launch_run, config, self.retry["id"] if self.retry else None)

    def _reset_starting(self) -> None:
        self._starting = False

    def launch_failed(self, error: str) -> None:
        self.query_one("#launch-status", Static).update(fit(f"not started: {error}", 60))

    def palette_commands(self):
        yield ("Start run", "Start the run in the background", self.action_start)
        yield ("Select all shown", "Select (or clear) every task shown", self.action_toggle_shown)
        yield ("Filter tasks", "Type to filter tasks by name or id", self.action_focus_filter)


def form_of_run(run: dict) -> FormValues:
    """The form's values for a stored run (to retry one that failed to start)."""
    config = run.get("config") or {}
    sampling = config.get("sampling") or {}
    defaults = FormValues()
    return FormValues(backend=config.get("backend") or run.get("backend") or defaults.backend,
                      model=config.get("model") or run.get("model") or defaults.model,
                      k=int(config.get("k") or run.get("k") or defaults.k),
                      temperature=float(sampling.get("temperature", defaults.temperature)),
                      max_tokens=int(sampling.get("max_tokens", defaults.max_tokens)),
                      prompt_style=config.get("prompt_style") or defaults.prompt_style,
                      eval_mode=(config.get("eval") or {}).get("mode") or defaults.eval_mode,
                      tasks=list(config.get("task_ids") or []))
