"""`?` / F1: the keys of the screen it was opened from, that screen's own first, then tables', then the app's."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..table import SgsTable

EVERYWHERE = [
    ("? / F1", "these keys"),
    ("ctrl+p", "commands: jump to any run or task, and this screen's actions"),
    ("esc", "close a panel or filter, else go back"),
    ("ctrl+q", "quit (runs go on in the background)"),
]


def _screen_keys(screen: Screen) -> list[tuple[str, str]]:
    """The keys the screen's own classes declare (not Textual's generic ones), its own first."""
    from .base import SgsScreen

    seen: dict[str, list[str]] = {}
    for cls in type(screen).__mro__:
        if not (isinstance(cls, type) and issubclass(cls, SgsScreen)):
            continue
        for binding in cls.__dict__.get("BINDINGS", []):
            if binding.action in ("back", "app.help") or not binding.description:
                continue
            text = binding.tooltip or binding.description
            keys = seen.setdefault(text, [])
            for key in binding.key.split(","):
                shown = binding.key_display or screen.app.get_key_display(Binding(key.strip(), binding.action))
                if shown not in keys:
                    keys.append(shown)
    rows = [(" / ".join(keys), text) for text, keys in seen.items()]
    return sorted(rows, key=lambda row: row[1].startswith("Quit"))  # quitting last


def _table_keys(screen: Screen) -> list[tuple[str, str]]:
    tables = list(screen.query(SgsTable))
    if not tables:
        return []
    enter = tables[0]._bindings.key_to_bindings.get("enter")
    label = enter[0].description if enter else "select"
    return [("enter", label.lower()), ("j / k / ↓ / ↑", "next / previous row"),
            ("g / G", "first / last row"), ("pgdn / pgup", "a page down / up (also ctrl+d / ctrl+u)"),
            ("/", "filter the rows by text (enter keeps the filter, esc clears it)")]


def key_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    sections = [("This screen", _screen_keys(screen))]
    table = _table_keys(screen)
    if table:
        sections.append(("Tables", table))
    sections.append(("Everywhere", EVERYWHERE))
    return [(title, rows) for title, rows in sections if rows]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help-box { width: 90%; max-width: 100; height: auto; max-height: 90%; border: round $primary;
                background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close"),
    ]

    def __init__(self, screen: Screen):
        super().__init__()
        self.sections = key_sections(screen)
        self.title_text = getattr(screen, "help_title", None) or type(screen).__name__.removesuffix("Screen")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Keys: {self.title_text} (esc closes)"
            yield Static(self._keys_table(), id="help-text")

    def _keys_table(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for n, (title, rows) in enumerate(self.sections):
            if n:
                grid.add_row("", "")
            grid.add_row(Text(title, style="bold underline"), "")
            for key, text in rows:
                grid.add_row(Text(key, style="bold"), text)
        return grid

    def action_close(self) -> None:
        self.dismiss()
