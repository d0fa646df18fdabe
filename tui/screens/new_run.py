"""The new-run form: pick tasks (filter by source, level, split subset, name), set the run's options, and start.

The option fields are generated from the CLI's option table (option_form.py):
the same options, defaults, choices and ranges as `sgs run`, checked by the
same code, each bad value one line. The run is started in a detached process
of its own (`sgs.core.launch`); the form's values are remembered for next
time (settings.py). Opened on a run that failed to start, the form holds that
run's settings: starting it again replaces the failed run.
"""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.widgets import Button, Footer, Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from sgs.core.errors import OptionError

from ..messages import Loaded
from ..option_form import (GroupTitle, OptionField, OptionFields, backend_parameters, form_options, group_title,
                           run_config, shown_for_backend, texts_of_run)
from ..settings import FormValues, load_form, save_form
from ..widgets import TaskList, TitleBar, fit
from .base import SgsScreen, one_line

ALL = ""
RESCAN_AFTER_S = 0.6   # a KernelBench path being typed is read once typing pauses


class FormError(ValueError):
    """What the run cannot start with (one line), and the field to fix, if one is to blame."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


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
        self.backend_params: dict = {}
        self.fields_ready = False
        self._starting = False
        self._rescan_timer = None
        self._loaded_sources: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
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
            with Vertical(id="options"):
                # only the open groups' fields are mounted with the screen (a field is a few widgets, and all
                # of them made the form slow to open); the others mount theirs when opened. Every field is
                # born with its remembered value
                self.form = self._initial_form()
                yield OptionFields(self.form.options, id="fields")
                yield Button("Start run  ^s", id="start", variant="primary", compact=True)
        yield Static("", id="form-message")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#task-list", SelectionList).border_title = "tasks"
        self.load()

    @property
    def fields(self) -> OptionFields:
        return self.query_one(OptionFields)

    def _initial_form(self) -> FormValues:
        """The remembered values (a small file), or those of the run being retried."""
        form = load_form() if self.retry is None else form_of_run(self.retry)
        if self.retry is None and self.app.kernelbench:
            form.options["kernelbench"] = self.app.kernelbench   # `sgs tui --kernelbench` wins over memory
        return form

    @on(OptionFields.Ready)
    def _fields_ready(self) -> None:
        if not self.is_attached or not self.query(OptionFields):
            return   # the screen was closed before its fields were in
        self.fields_ready = True
        if self.tasks:
            self._show_backend_fields()

    @work(thread=True, exclusive=True, group="new.load", exit_on_error=False, name="listing tasks")
    def load(self) -> None:
        form = self.form
        parameters = backend_parameters()
        tasks, errors, problem = self._scan(form.options.get("kernelbench"), form.options.get("dataset_file"))
        self.post_message(Loaded("tasks", (form, parameters, tasks, errors, problem)))

    @staticmethod
    def _scan(kernelbench: str | None, dataset_file: str | None):
        """(tasks, broken files, why a source could not be read): the built-in tasks at least."""
        from sgs.core.tasks import scan_tasks

        try:
            tasks, errors = scan_tasks(kernelbench=kernelbench or None, dataset_file=dataset_file or None)
            return tasks, len(errors), None
        except Exception as exc:  # noqa: BLE001 - a folder or file that is not there: say so, list the rest
            tasks, errors = scan_tasks()
            return tasks, len(errors), one_line(exc)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.what == "tasks":
            form, self.backend_params, self.tasks, self.task_errors, problem = message.value
            self._apply_filters(form)
            if self.fields_ready:
                self._show_backend_fields()
            self.refilter()
            self._loaded_sources = (form.options.get("kernelbench", ""), form.options.get("dataset_file", ""))
        elif message.what == "rescanned":
            sources, self.tasks, self.task_errors, problem = message.value
            self._loaded_sources = sources
            self.refilter()
        else:
            return
        if problem:
            self.say(problem, error=True)
            self.notify(problem, title="tasks", severity="error")

    def _apply_filters(self, form: FormValues) -> None:
        """The picker's remembered filters and chosen tasks (the fields hold their texts from the start)."""
        known = {t.id for t in self.tasks}
        self.chosen = {t for t in form.tasks if t in known}
        for name, value in (("source", form.source), ("level", form.level), ("split", form.split),
                            ("subset", form.subset)):
            try:
                self.query_one(f"#{name}", Select).value = value
            except Exception:  # noqa: BLE001 - a remembered value no longer offered keeps the default
                pass

    # -- which fields show, and what the focused one means ------------------
    def chosen_backend(self) -> str:
        from sgs.core.backends import parse_model_spec

        chosen = self.fields.text("backend")
        return chosen or parse_model_spec(self.fields.text("model").strip() or "embedded")[0]

    def _show_backend_fields(self) -> None:
        backend, parameters = self.chosen_backend(), self.backend_params
        self.fields.show(lambda option: shown_for_backend(option, backend, parameters))

    def say(self, text: str, *, error: bool = False) -> None:
        """The message line under the form: a field's help, a bad value, or the launch's progress."""
        line = self.query_one("#form-message", Static)
        if line.has_class("-error") != error:
            line.set_class(error, "-error")
        line.update(fit(("✗ " if error else " ") + text, max(self.app.size.width, 20)))

    def _help_of(self, row: OptionField) -> str:
        option = row.option
        return f"{option.flag}: {option.help}; {option.describe()}"

    def on_descendant_focus(self, event) -> None:
        # mark the row that holds the focus: its label is shown reversed (visible without colour);
        # only the rows that change are restyled (restyling every row made each focus move slow)
        current = next((r for r in event.widget.ancestors_with_self if isinstance(r, OptionField)), None)
        for row in self.query(".option-row.-current"):
            if row is not current:
                row.remove_class("-current")
        if current is not None:
            current.add_class("-current")
            self._check_field(current, quiet=True)
        elif isinstance(event.widget, GroupTitle):
            self._say_group(event.widget.group)

    def _say_group(self, group: str) -> None:
        names = ", ".join(o.title for o in form_options() if o.group == group)
        self.say(f"{group_title(group)} (enter opens or closes): {names}")

    def _check_field(self, row: OptionField, quiet: bool = False) -> bool:
        try:
            row.value()
        except OptionError as exc:
            if not row.has_class("-invalid"):
                row.add_class("-invalid")
            self.say(str(exc), error=True)
            return False
        if row.has_class("-invalid"):
            row.remove_class("-invalid")
        self.say(self._help_of(row))
        return True

    @on(Input.Changed, ".option-row Input")
    @on(Select.Changed, ".option-row Select")
    def _field_changed(self, event) -> None:
        row = next((r for r in event.control.ancestors if isinstance(r, OptionField)), None)
        if row is None or not self.tasks or not self.fields_ready:
            return
        self._check_field(row)
        name = row.option.name
        if name in ("backend", "model"):
            self._show_backend_fields()
        if name in ("kernelbench", "dataset_file"):
            if self._rescan_timer is not None:
                self._rescan_timer.stop()
            self._rescan_timer = self.set_timer(RESCAN_AFTER_S, self._rescan)

    def _rescan(self) -> None:
        sources = (self.fields.text("kernelbench").strip(), self.fields.text("dataset_file").strip())
        if sources != self._loaded_sources:
            self.rescan(sources)

    @work(thread=True, exclusive=True, group="new.rescan", exit_on_error=False, name="listing tasks")
    def rescan(self, sources: tuple[str, str]) -> None:
        tasks, errors, problem = self._scan(*sources)
        self.post_message(Loaded("rescanned", (sources, tasks, errors, problem)))

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
        task_list.add_options([Selection(fit(picker_label(t), width), t.id, t.id in self.chosen)
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
        if not self.fields_ready:
            raise FormError("the form's fields are still loading: a moment")
        fields = self.fields
        backend = self.chosen_backend()
        ordered = [t.id for t in self.tasks if t.id in self.chosen]
        values = {}
        for option in form_options():   # every option, its group opened or not
            if not shown_for_backend(option, backend, self.backend_params):
                continue   # an option the chosen backend does not take
            try:
                values[option.name] = fields.value(option.name)
            except OptionError as exc:
                raise FormError(str(exc), option.name) from None
        if not ordered:
            raise FormError("no tasks chosen: toggle some with space, or ^t selects all shown")
        remembered = FormValues(options={o.name: fields.text(o.name) for o in form_options()},
                                source=self._value("source"), level=self._value("level"), split=self._value("split"),
                                subset=self._value("subset") or "eval", tasks=ordered)
        base = self.retry.get("config") if self.retry else None
        try:
            config = run_config(values, ordered, base)
        except OptionError as exc:
            raise FormError(str(exc)) from None
        return remembered, config

    @on(Button.Pressed, "#start")
    async def _start_pressed(self) -> None:
        await self.action_start()

    async def action_start(self) -> None:
        if self._starting:
            return
        try:
            values, config = self.read_form()
        except FormError as exc:
            if exc.field is not None:   # the field to fix, its group opened
                row = await self.fields.reveal(exc.field)
                row.set_class(True, "-invalid")
                row.widget.focus()
            self.say(str(exc), error=True)
            self.notify(str(exc), title="cannot start", severity="error")
            return
        self._starting = True
        self.set_timer(2.0, self._reset_starting)  # a second ^s soon after is a double press, not a new run
        self.say(f"starting {len(config.task_ids)} tasks × K={config.k} ({config.backend}/{config.model}) "
                 "in the background…")
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
        self.say(f"not started: {error}", error=True)

    def palette_commands(self):
        yield ("Start run", "Start the run in the background", self.action_start)
        yield ("Select all shown", "Select (or clear) every task shown", self.action_toggle_shown)
        yield ("Filter tasks", "Type to filter tasks by name or id", self.action_focus_filter)


def picker_label(task) -> str:
    """The task id, then its name unless the id already ends with it (builtin/relu, L1/19 19_ReLU)."""
    if not task.name or task.id.rsplit("/", 1)[-1] == task.name:
        return task.id
    return f"{task.id:<7} {task.name}"


def form_of_run(run: dict) -> FormValues:
    """The form's values for a stored run (to retry one that failed to start)."""
    config = run.get("config") or {}
    texts = texts_of_run(config)
    texts["backend"] = config.get("backend") or run.get("backend") or ""
    texts["model"] = config.get("model") or run.get("model") or ""
    return FormValues(options={k: v for k, v in texts.items()}, tasks=list(config.get("task_ids") or []))
