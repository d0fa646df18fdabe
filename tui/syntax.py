"""Syntax highlighting with Pygments through Rich, in ANSI colours (fine in a 16-colour terminal)."""
from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text

THEME = "ansi_dark"


def highlighted_lines(code: str, lexer: str = "python") -> list[Text]:
    """One highlighted Text per source line (tabs expanded, no trailing newline)."""
    code = code.expandtabs(4)
    text = Syntax(code, lexer, theme=THEME).highlight(code)
    text.rstrip()
    lines = text.split("\n", allow_blank=True)
    want = len(code.splitlines()) or 1
    lines = list(lines)[:want]
    while len(lines) < want:
        lines.append(Text(""))
    return lines


def source_view(code: str, lexer: str = "python") -> Syntax:
    return Syntax(code, lexer, theme=THEME, line_numbers=True, word_wrap=False, indent_guides=False)
