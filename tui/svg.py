"""Screenshots that read the same in every SVG viewer.

Rich writes each run of same-styled cells as one `<text>` element whose
spaces are no-break spaces, stretched over its cells by `textLength`. Some
viewers drop the leading spaces of such an element and stretch the rest, so
`return` followed by ` torch.relu(x)` (a different style) reads
`returntorch.relu(x)`, and a bold `68.5` followed by `   0.826` reads
`68.50.826`. Here every element is split into its words, each placed at its
own column: no element starts or ends with a space, and nothing depends on
how a viewer treats them.
"""
from __future__ import annotations

import html
import re

from rich.cells import cell_len

TEXT = re.compile(r'<text class="([^"]+)" x="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)" '
                  r'clip-path="([^"]+)">([^<]*)</text>')
WORD = re.compile(r"[^ \u00a0]+")


def _split(match: re.Match) -> str:
    cls, x, y, length, clip, body = match.groups()
    text = html.unescape(body)
    if " " not in text and "\u00a0" not in text:
        return match.group(0)
    char_width = float(length) / len(text)  # rich: textLength = char_width * len(text), x in cells
    out = []
    for word in WORD.finditer(text):
        left = float(x) + cell_len(text[:word.start()]) * char_width
        piece = word.group(0)
        out.append(f'<text class="{cls}" x="{left:g}" y="{y}" textLength="{char_width * len(piece):g}" '
                   f'clip-path="{clip}">{_escape(piece)}</text>')
    return "".join(out)


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace(" ", "&#160;")


def place_words(svg: str) -> str:
    return TEXT.sub(_split, svg)


def text_elements(svg: str) -> list[tuple[str, float, str]]:
    """(class, x, text) of each `<text>` of the terminal (for tests and checks)."""
    return [(m.group(1), float(m.group(2)), html.unescape(m.group(6))) for m in TEXT.finditer(svg)]
