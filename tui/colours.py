"""The app's colours for three kinds of terminal: full colour, 16 colours (TERM=xterm), and NO_COLOR.

Nothing depends on colour alone (marks, words and characters carry the
meaning); colour only helps. Each style is chosen per mode so that it stays
readable: a dark truecolor background becomes black in 16 colours (so the
16-colour styles use the terminal's own red and green), and under NO_COLOR
the app turns every colour grey (so those styles use attributes and
default text colours instead of a grey-on-grey hue).
"""
from __future__ import annotations

FULL, SIXTEEN, MONO = "full", "16", "mono"


def detect(app) -> str:
    if getattr(app, "no_color", False):
        return MONO
    system = getattr(app.console, "color_system", None)
    return SIXTEEN if system in (None, "standard", "windows") else FULL


_OUTCOME = {
    FULL: {"correct": "green", "incorrect": "yellow", "compile_error": "red", "runtime_error": "red",
           "timeout": "magenta", "crashed": "red", "no_code": "dim", "skipped": "dim", "pending": "dim"},
    SIXTEEN: {"correct": "green", "incorrect": "yellow", "compile_error": "red", "runtime_error": "red",
              "timeout": "magenta", "crashed": "red", "no_code": "", "skipped": "", "pending": ""},
    # the words say it; bold picks out what worked
    MONO: {"correct": "bold"},
}


def outcome(mode: str, name: str | None) -> str:
    return _OUTCOME[mode].get(name or "pending", "")


# changed lines of a diff: (removed side, added side) backgrounds, and whether syntax colours stay
_DIFF = {
    FULL: ("on #3c1e1e", "on #1e3a22", True),
    SIXTEEN: ("bright_white on red", "black on green", False),
    MONO: ("on #3a3a3a", "on #3a3a3a", True),
}


def diff_line(mode: str, side: str) -> tuple[str, bool]:
    """(style for a changed line on `side`, keep syntax colours?)."""
    left, right, keep = _DIFF[mode]
    return (left if side == "left" else right), keep


# token surprisal: one style per level (0 = unremarkable ... 5 = most surprising)
_SURPRISAL = {
    FULL: ["", "on #2e2a14", "on #4a3d0c", "on #6b3f00", "on #8f2a00", "bold on #b00000"],
    SIXTEEN: ["", "", "underline", "black on yellow", "bright_white on red", "bold bright_white on red"],
    MONO: ["", "", "underline", "bold underline", "reverse", "bold reverse"],
}


def surprisal(mode: str, level: int) -> str:
    return _SURPRISAL[mode][max(0, min(level, 5))]


def status(mode: str, name: str) -> str:
    if mode == MONO:
        return "bold" if name in ("running", "failed", "failed to start") else ""
    return {"running": "bold green", "interrupted": "bold yellow", "failed": "bold red",
            "failed to start": "bold red"}.get(name, "")
