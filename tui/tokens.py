"""Where a sample surprised its model: each token of the reply shaded by its −log p.

Works from the stored per-token logprobs (`sample_scores`): the tokens are
placed in the raw reply by their character offsets, and the view shows the
lines of the extracted code span (or the whole reply). Shading is by fixed
levels of −log p in nats, so two samples read on the same scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from . import colours

# −log p (nats) at which levels 1..5 begin: p < 0.61, 0.37, 0.14, 0.018, 0.00034
LEVELS = (0.5, 1.0, 2.0, 4.0, 8.0)
LEVEL_NAMES = ("<0.5", "0.5–1", "1–2", "2–4", "4–8", "≥8")


def level(nll: float) -> int:
    return sum(nll >= threshold for threshold in LEVELS)


def token_spans(text: str, tokens: list[str], offsets: list[int] | None) -> list[tuple[int, int]] | None:
    """Each token's [start, end) in `text`; None when the tokens cannot be placed."""
    if offsets is None:
        if "".join(tokens) != text[:sum(len(t) for t in tokens)]:
            return None
        offsets, at = [], 0
        for tok in tokens:
            offsets.append(at)
            at += len(tok)
    if len(offsets) != len(tokens):
        return None
    return [(start, max(min(start + len(tok), len(text)), start)) for tok, start in zip(tokens, offsets)]


@dataclass
class TokenView:
    body: Text                         # numbered lines, shaded
    legend: Text
    top: list[tuple[int, str, float]] = field(default_factory=list)   # (line, token, −log p), most surprising first
    n_tokens: int = 0                  # tokens inside the shown part
    surprisal: float = 0.0             # their summed −log p
    note: str = ""


def shade(raw: str, tokens: list[str], logprobs: list[float], offsets: list[int] | None, *,
          start: int | None = None, end: int | None = None, mode: str = colours.FULL, top_n: int = 8) -> TokenView:
    """The lines of raw[start:end] (whole lines), each token shaded by its −log p, with per-line sums."""
    legend = legend_text(mode)
    spans = token_spans(raw, tokens, offsets)
    if spans is None or len(logprobs) != len(tokens):
        return TokenView(Text(" the stored tokens cannot be placed in the reply (no offsets were recorded)"), legend,
                         note="tokens not placed")
    lo = 0 if start is None else max(0, raw.rfind("\n", 0, start) + 1)
    hi = len(raw) if end is None else (raw.find("\n", end) if raw.find("\n", end) != -1 else len(raw))
    region = raw[lo:hi]
    line_starts = [0] + [i + 1 for i, ch in enumerate(region) if ch == "\n"]
    lines = region.split("\n")
    texts = [Text(line) for line in lines]
    per_line = [0.0] * len(lines)
    picked: list[tuple[float, int, str]] = []
    n_tokens, total = 0, 0.0
    import bisect

    for tok, (a, b), lp in zip(tokens, spans, logprobs):
        nll = -float(lp)
        span_lo = lo if start is None else start
        span_hi = hi if end is None else end
        if b <= span_lo or a >= span_hi or b <= a:  # tokens overlapping the code (or the whole reply)
            continue
        n_tokens += 1
        total += nll
        # a token counts on the line of its first visible character ("\nreturn" belongs to return's line)
        anchor = min(max(a + len(tok) - len(tok.lstrip()), lo), hi - 1 if hi > lo else lo) - lo
        first = max(bisect.bisect_right(line_starts, anchor) - 1, 0)
        per_line[first] += nll
        picked.append((nll, first + 1, tok))
        style = colours.surprisal(mode, level(nll))
        if not style:
            continue
        # a token may cross line breaks: shade its part on each line
        pos = max(a, lo) - lo
        stop = min(b, hi) - lo
        while pos < stop:
            n = bisect.bisect_right(line_starts, pos) - 1
            line_end = line_starts[n] + len(lines[n])
            texts[n].stylize(style, pos - line_starts[n], min(stop, line_end) - line_starts[n])
            pos = line_end + 1
    width = len(str(len(lines)))
    body = Text(no_wrap=True, end="")
    for n, (text, s) in enumerate(zip(texts, per_line)):
        if n:
            body.append("\n")
        body.append(f"{n + 1:>{width}} ", style="dim")
        body.append(f"{s:6.1f} " if s else " " * 7, style="bold" if s >= 8 else "dim")
        body.append("│ ", style="dim")
        body.append_text(text)
    picked.sort(key=lambda p: -p[0])
    return TokenView(body, legend, [(line, tok, nll) for nll, line, tok in picked[:top_n]], n_tokens, total)


def legend_text(mode: str) -> Text:
    out = Text("−log p (nats):")
    for n, name in enumerate(LEVEL_NAMES):
        if n:
            out.append(" ")
        out.append(f" {name} ", style=colours.surprisal(mode, n))
    out.append(" · per line: left of │")
    return out
