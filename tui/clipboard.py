"""Copy code to the terminal's clipboard (OSC 52, so it works over SSH) or save it to a file.

The app cannot tell whether a copy arrived: the terminal (or tmux, whose
default `set-clipboard` setting drops it) never answers. So it says what it
sent, and offers to save to a file instead.
"""
from __future__ import annotations

import re
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

EXPORT_DIR = "sgs-code"


def copy_code(app, code: str, what: str) -> int:
    """Send `code` to the clipboard through the terminal; returns the bytes sent."""
    app.copy_to_clipboard(code)
    size = len(code.encode("utf-8"))
    app.notify(f"sent {size} bytes to the terminal clipboard (OSC 52). Nothing arrived? "
               "w saves to a file; in tmux: set -g set-clipboard on", title=f"copy {what}", timeout=8)
    return size


def default_path(stem: str, folder: Path | None = None) -> Path:
    """A file under ./sgs-code named after the sample, never one that exists already."""
    folder = folder or Path(EXPORT_DIR)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "code"
    path = folder / f"{stem}.py"
    n = 1
    while path.exists():
        path = folder / f"{stem}-{n}.py"
        n += 1
    return path


def write_new(path: Path, code: str) -> int:
    """Write `code` to a new file (an existing file is never overwritten); returns the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = code.encode("utf-8")
    with open(path, "xb") as f:
        f.write(data)
    return len(data)


class SaveCode(ModalScreen[Path | None]):
    """Asks where to save: Enter writes the file, Esc cancels; a bad path says why in one line."""

    DEFAULT_CSS = """
    SaveCode { align: center middle; }
    #save-box { width: 90%; max-width: 100; height: auto; border: round $primary; background: $surface;
                padding: 0 1; }
    #save-error { height: auto; color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel")]

    def __init__(self, code: str, path: Path):
        super().__init__()
        self.code = code
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box") as box:
            box.border_title = f"Save {len(self.code.encode('utf-8'))} bytes of code (enter saves, esc cancels)"
            yield Input(str(self.path), id="save-path", compact=True)
            yield Static("", id="save-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        if not raw:
            self.query_one("#save-error", Static).update("give a file name")
            return
        path = Path(raw).expanduser()
        try:
            write_new(path, self.code)
        except FileExistsError:
            self.query_one("#save-error", Static).update(f"{path} exists: choose another name")
            return
        except OSError as exc:
            self.query_one("#save-error", Static).update(f"cannot write {path}: {exc.strerror or exc}")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)


def save_code(app, code: str, stem: str) -> None:
    def saved(path: Path | None) -> None:
        if path is not None:
            app.notify(f"saved {len(code.encode('utf-8'))} bytes to {path.resolve()}", title="save")

    app.push_screen(SaveCode(code, default_path(stem)), saved)
