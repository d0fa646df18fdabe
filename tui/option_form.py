"""The new-run form's fields, generated from the CLI's option table (`sgs.core.options`).

Every option of `sgs run` is a field here, under the same group headings as
`sgs run --help`, except those the form gives another way (the task picker's
split filters) and those that only steer one command-line invocation (see
`LEFT_OUT`). A field holds the text typed in it; `Option.parse` turns it
into a value or one line saying what is valid, the same line the command
line prints. Options a backend does not take (an OpenAI base URL for a local
model) are hidden while that backend is chosen.

Each group opens and closes (Enter on its title). Only the
groups most runs change are open at first; the fields of the others are
mounted when their group is first opened (each field is a few widgets, and
mounting all of them made the form slow to open), and until then their text
is the remembered one, or the default.
"""
from __future__ import annotations

import inspect
import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from sgs.core.options import GROUP_TITLES, GROUPS, Option, options

COMMAND = "run"
# options of `sgs run` the form gives another way, or has no use for (and why)
PICKER = {"split": "the task picker's split filter", "subset": "the task picker's split subset filter"}
LEFT_OUT = {
    "resume": "a run is resumed from the runs screen (r)",
    "detach": "a run started from the app always runs detached, in its own session",
    "quiet": "the app prints no per-sample lines to silence",
}
DEFAULT_LABEL = "default"   # a blank choice: the option's default (e.g. the backend named by the model)
OPEN_GROUPS = ("tasks", "sampling")   # open when the form opens; the others mount their fields when opened


def form_options() -> list[Option]:
    """The options the form has a field for, in `sgs run --help` order."""
    return [o for o in options(COMMAND) if o.name not in PICKER and o.name not in LEFT_OUT]


def placeholder(option: Option) -> str:
    """What an empty field means: the option's default, as its help says it."""
    if option.default is not None:
        return str(option.default)
    found = re.search(r"'([^']+)' \(default\)", option.help) or re.search(r"default:? ([^;)]+)", option.help)
    if found:
        return found.group(1).strip()
    return "optional" if option.optional else ""


def default_text(option: Option) -> str:
    """The text a fresh field holds: the default itself, so that it shows."""
    if option.default is None:
        return ""
    return f"{option.default:g}" if option.type is float else str(option.default)


def initial_text(option: Option, text: str | None) -> str:
    """The text a field starts with: a remembered or stored text (None: the default).

    A choice no longer offered keeps the default; a blank choice is the
    option's default only where the option may be left out.
    """
    choices = option.choice_list()
    if choices is None:
        return default_text(option) if text is None else text
    if text is not None and (text in choices or (text == "" and option.optional)):
        return text
    return "" if option.default is None else str(option.default)


class OptionField(Horizontal):
    """One option: its label and a widget (a Select for choices, else an Input)."""

    def __init__(self, option: Option, text: str | None = None):
        super().__init__(classes="option-row", id=f"row-{option.name}")
        self.option = option
        self.initial = text   # a remembered or stored text; None: the option's default
        self.tooltip = option.help

    def compose(self) -> ComposeResult:
        option = self.option
        yield Label(option.title)
        choices = option.choice_list()
        text = initial_text(option, self.initial)
        if choices is not None:
            yield Select([(c, c) for c in choices], id=option.name, compact=True, allow_blank=option.optional,
                         prompt=DEFAULT_LABEL, value=text or Select.NULL)
        else:
            yield Input(text, id=option.name, compact=True, placeholder=placeholder(option))

    @property
    def widget(self) -> Input | Select:
        return self.query_one(f"#{self.option.name}")

    def text(self) -> str:
        widget = self.widget
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        return widget.value

    def value(self) -> Any:
        """The field's value, or OptionError (one line, with what is valid)."""
        return self.option.parse(self.text())


class GroupTitle(Static, can_focus=True):
    """A group's heading, which opens or closes its fields (enter, or a click)."""

    BINDINGS = [Binding("enter", "toggle", "Open/close", tooltip="Open or close this group of options")]
    opened = reactive(False)

    class Toggled(Message):
        def __init__(self, title: "GroupTitle"):
            super().__init__()
            self.title = title

    def __init__(self, group: str, opened: bool):
        super().__init__(id=f"group-{group}", classes="group-title")
        self.group = group
        self.set_reactive(GroupTitle.opened, opened)

    def render(self) -> str:
        return f"{'▼' if self.opened else '▶'} {group_title(self.group)}"

    def action_toggle(self) -> None:
        self.opened = not self.opened

    def on_click(self) -> None:
        self.opened = not self.opened

    def watch_opened(self) -> None:
        self.post_message(self.Toggled(self))


class OptionFields(VerticalScroll):
    """Every option of the form under its group's title, each holding its text from `texts` (or its default).

    The fields of a closed group are not mounted until it is first opened;
    `text(name)` answers for every option either way.
    """

    class Ready(Message):
        """The open groups' fields are mounted (the screen sets which fields apply once its tasks are in)."""

    def __init__(self, texts: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.texts = dict(texts)
        self.by_name = {o.name: o for o in form_options()}
        self.mounted_groups: set[str] = set()
        self.shown: Any = lambda option: True   # which fields show (the screen's rule: the backend's options)

    def compose(self) -> ComposeResult:
        # one title per group of `sgs run --help`, then a field per option of the groups open at first
        for group, fields in grouped(form_options()):
            opened = group in OPEN_GROUPS
            yield GroupTitle(group, opened)
            if opened:
                self.mounted_groups.add(group)
                yield from (OptionField(option, self.texts.get(option.name)) for option in fields)

    def on_mount(self) -> None:
        self.post_message(self.Ready())

    @on(GroupTitle.Toggled)
    async def _toggled(self, event: GroupTitle.Toggled) -> None:
        event.stop()
        if event.title.opened:
            await self.mount_group(event.title.group)
        self._display(self.rows(event.title.group))

    def is_open(self, group: str) -> bool:
        return self.query_one(f"#group-{group}", GroupTitle).opened

    def _display(self, rows: list[OptionField]) -> None:
        """Show the fields of open groups that apply (`shown`); hide the others."""
        for row in rows:
            visible = self.is_open(row.option.group) and bool(self.shown(row.option))
            if row.display != visible:
                row.display = visible

    async def mount_group(self, group: str) -> None:
        """Mount the fields of a group (once) after its title, holding their remembered texts."""
        if group in self.mounted_groups:
            return
        self.mounted_groups.add(group)
        rows = [OptionField(o, self.texts.get(o.name)) for o in self.by_name.values() if o.group == group]
        self._display(rows)
        await self.mount_all(rows, after=self.query_one(f"#group-{group}", GroupTitle))

    async def reveal(self, name: str) -> OptionField:
        """The field of option `name`, its group opened (and mounted) first."""
        group = self.by_name[name].group
        title = self.query_one(f"#group-{group}", GroupTitle)
        title.opened = True
        await self.mount_group(group)
        row = self.query_one(f"#row-{name}", OptionField)
        self._display([row])
        return row

    async def reveal_all(self) -> dict[str, OptionField]:
        return {name: await self.reveal(name) for name in self.by_name}

    def row(self, name: str) -> OptionField | None:
        """The mounted field of option `name`; None while its group was never opened."""
        try:
            return self.query_one(f"#row-{name}", OptionField)
        except NoMatches:
            return None

    def rows(self, group: str | None = None) -> list[OptionField]:
        return [r for r in self.query(OptionField) if group is None or r.option.group == group]

    def text(self, name: str) -> str:
        """The text of option `name`: its field's, or (never opened) the remembered text or the default."""
        row = self.row(name)
        return row.text() if row is not None else initial_text(self.by_name[name], self.texts.get(name))

    def value(self, name: str) -> Any:
        """The value of option `name`, or OptionError (one line, with what is valid)."""
        return self.by_name[name].parse(self.text(name))

    def show(self, shown) -> None:
        """Show only the fields `shown(option)` is true for (now, and in groups opened later)."""
        self.shown = shown
        self._display(self.rows())


def group_title(group: str) -> str:
    """A heading for the fields of one group (the CLI's title without its notes in brackets)."""
    return GROUP_TITLES[group].split(" (")[0]


def grouped(fields: list[Option]) -> list[tuple[str, list[Option]]]:
    return [(g, [o for o in fields if o.group == g]) for g in GROUPS if any(o.group == g for o in fields)]


# -- which backend takes which option ---------------------------------------
BACKEND_OPTION_GROUP = "backend"


def backend_parameters() -> dict[str, set[str] | None]:
    """Each registered backend's keyword parameters (None: unknown, so every backend option shows).

    Read from the backend classes' signatures, so a new backend's options
    show without a change here. Loading a class imports its module only
    (the heavy libraries load when a model does).
    """
    from sgs.core.backends import BACKENDS

    out: dict[str, set[str] | None] = {}
    for name in BACKENDS.names():
        try:
            params = inspect.signature(BACKENDS.get(name)).parameters
            out[name] = {p for p, v in params.items() if v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)}
        except Exception:  # noqa: BLE001 - an optional backend that does not import: show everything for it
            out[name] = None
    return out


def shown_for_backend(option: Option, backend: str, parameters: dict[str, set[str] | None]) -> bool:
    """Whether a backend option applies to `backend` (the others always do)."""
    if option.group != BACKEND_OPTION_GROUP or option.name in ("backend", "model"):
        return True
    params = parameters.get(backend)
    return params is None or option.name in params


# -- a run's stored settings as form texts --------------------------------
def stored_value(config: dict, path: str) -> Any:
    """The value at a dotted path of a run's stored configuration ('sampling.max_tokens'), or None."""
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def text_of(option: Option, value: Any) -> str:
    if value is None:
        return ""
    if option.type is float:
        return f"{float(value):g}"
    return str(value)


def texts_of_run(config: dict) -> dict[str, str]:
    """The form's texts for a stored run (to retry one that failed to start): every recorded option."""
    return {o.name: text_of(o, stored_value(config, o.config)) for o in form_options() if o.config}


# -- the run's settings from the fields' values ------------------------------
def _set_path(config: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def check_together(values: dict[str, Any]) -> None:
    """What one field alone cannot say (the same rule `sgs run` applies): OptionError in one line."""
    from sgs.core.errors import OptionError

    if values.get("audit") and values.get("time_top") is None:
        raise OptionError("--audit needs --time-top (it samples what the budget left out)")


def run_config(values: dict[str, Any], task_ids: list[str], base: dict | None = None):
    """A RunConfig from the form's values (option name -> value; hidden fields absent).

    `base`: the stored configuration of a run being retried; what the form
    does not show (trial counts, a scripted backend's delay) carries over.
    The backend is the one chosen, else the prefix of the model (`openai/NAME`),
    else hf, as on the command line.
    """
    import copy

    from sgs.core.backends import parse_model_spec
    from sgs.core.engine import RunConfig
    from sgs.core.options import OPTIONS

    check_together(values)
    model_spec = values.get("model") or "embedded"
    backend, model = (values["backend"], model_spec) if values.get("backend") else parse_model_spec(model_spec)
    config = copy.deepcopy(base) if base else {}
    config["backend_options"] = {k: v for k, v in (config.get("backend_options") or {}).items() if k not in OPTIONS}
    config.pop("seed", None)     # a seed left empty is a new random one
    for option in form_options():
        if not option.config or option.name in ("backend", "model") or option.name not in values:
            continue
        value = values[option.name]
        if value is None and (option.config.startswith("backend_options.") or option.name == "seed"):
            continue
        _set_path(config, option.config, value)
    config.update(task_ids=list(task_ids), backend=backend, model=model)
    return RunConfig.from_dict(config)


__all__ = ["COMMAND", "LEFT_OUT", "OPEN_GROUPS", "PICKER", "GroupTitle", "OptionField", "OptionFields", "backend_parameters",
           "check_together", "default_text", "form_options", "group_title", "grouped", "initial_text", "placeholder",
           "run_config", "shown_for_backend", "stored_value", "texts_of_run"]
