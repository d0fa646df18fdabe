"""Finding code in a raw model reply.

Works on a normalised copy of the reply (CRLF and lone CR become LF) and maps
every span back to offsets in the raw text, so `raw[start:end]` is always the
region the code came from.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.I)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.I)
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^\n`]*$", re.M)
# Characters that chat front-ends and some models put in place of ASCII ones.
_LOOKALIKES = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'",
    "\u00a0": " ", "\u2009": " ", "\u200b": "",
})
PYTHON_LANGS = {"", "python", "py", "python3", "py3", "pytorch", "torch", "ipython", "python-repl"}


@dataclass
class Block:
    """One code region: text in normalised coordinates, span in raw coordinates."""

    text: str
    start: int        # raw offsets
    end: int
    lang: str
    fenced: bool


class Reply:
    def __init__(self, raw: str):
        self.raw = raw
        chars: list[str] = []
        offsets: list[int] = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == "\r":
                chars.append("\n")
                offsets.append(i)
                i += 2 if raw[i + 1:i + 2] == "\n" else 1
                continue
            chars.append(c)
            offsets.append(i)
            i += 1
        offsets.append(len(raw))
        self.text = "".join(chars)
        self._offsets = offsets

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw offsets of the normalised span [start, end)."""
        return self._offsets[start], self._offsets[end]

    def answer_region(self) -> tuple[int, int]:
        """The part after the model's reasoning; empty when the reasoning never ended."""
        text = self.text
        closes = list(_THINK_CLOSE.finditer(text))
        if closes:
            return closes[-1].end(), len(text)
        if _THINK_OPEN.search(text):
            return len(text), len(text)
        return 0, len(text)

    def blocks(self) -> list[Block]:
        lo, hi = self.answer_region()
        fenced = self._fenced_blocks(lo, hi)
        if fenced:
            return fenced
        bare = self._bare_block(lo, hi)
        return [bare] if bare else []

    def _block(self, start: int, end: int, lang: str, fenced: bool) -> Block:
        # Trim surrounding blank lines but keep the first line's indentation.
        segment = self.text[start:end]
        lead = len(segment) - len(segment.lstrip("\n"))
        body = segment.rstrip()
        start, end = start + lead, start + len(body)
        raw_start, raw_end = self.raw_span(start, end)
        return Block(self.text[start:end], raw_start, raw_end, lang.lower(), fenced)

    def _fenced_blocks(self, lo: int, hi: int) -> list[Block]:
        text = self.text
        blocks = []
        pos = lo
        while pos < hi:
            line_end = text.find("\n", pos, hi)
            line_end = hi if line_end < 0 else line_end
            m = _FENCE_OPEN.match(text, pos, line_end)
            if not m:
                pos = line_end + 1
                continue
            fence, lang = m.group("fence"), m.group("lang")
            content_start = min(line_end + 1, hi)
            end, after = self._close(content_start, hi, fence)
            if end > content_start and text[content_start:end].strip():
                blocks.append(self._block(content_start, end, lang, True))
            pos = after
        return blocks

    def _close(self, start: int, hi: int, fence: str) -> tuple[int, int]:
        """(end of content, where scanning resumes) for a block opened with `fence`."""
        text = self.text
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
        m = closing.search(text, start, hi)
        if m:
            return m.start(), m.end() + 1
        # A closing fence glued to the last code line ("return y```").
        glued = text.find(fence, start, hi)
        if glued >= 0:
            return glued, glued + len(fence)
        return hi, hi  # unterminated final fence: the code runs to the end

    def _bare_block(self, lo: int, hi: int) -> Block | None:
        """Unfenced code: the longest run of code-looking lines that compiles."""
        text = self.text
        segment = text[lo:hi]
        stripped = segment.strip()
        if len(stripped) > 2 and stripped[0] == "`" == stripped[-1] and "\n" not in stripped:
            inner = segment.index("`") + 1
            return self._block(lo + inner, lo + inner + len(stripped) - 2, "", False)
        lines = segment.split("\n")
        starts = []
        pos = lo
        for line in lines:
            starts.append(pos)
            pos += len(line) + 1
        flags = [_looks_like_code(line) for line in lines]
        runs = []
        i = 0
        while i < len(lines):
            if flags[i] and lines[i].strip():
                j = i
                while j + 1 < len(lines) and flags[j + 1]:
                    j += 1
                runs.append((i, j))
                i = j + 1
            else:
                i += 1
        best = None
        # The three longest runs, each shrunk from the end (prose can look like
        # code) at most 40 lines: bounded work on long replies.
        for i, j in sorted(runs, key=lambda r: r[1] - r[0], reverse=True)[:3]:
            for k in range(j, max(i, j - 40) - 1, -1):
                chunk = "\n".join(lines[i:k + 1])
                if chunk.strip() and parses_somehow(chunk):
                    best = (i, k)
                    break
            if best:
                break
        if not best:
            # Nothing compiles: still report the longest run that is clearly
            # code, so the error says "does not parse" rather than "no code".
            longest = max(runs, key=lambda r: r[1] - r[0], default=None)
            if longest is None or not any(
                    _CLEARLY_CODE.match(line) for line in lines[longest[0]:longest[1] + 1]):
                return None
            best = longest
        i, k = best
        end = starts[k] + len(lines[k])
        return self._block(starts[i], end, "", False)


_CODE_START = re.compile(
    r"^(import|from|class|def|return|@|#|if|elif|else|for|while|with|try|except|finally|"
    r"raise|assert|pass|yield|global|nonlocal|del|async|await|lambda|break|continue)\b"
)
_CLEARLY_CODE = re.compile(r"^\s*(def|return|import|class|from)\b")
_ASSIGN_OR_CALL = re.compile(r"^[A-Za-z_][\w.]*(\[[^\]]*\])?\s*(,\s*[A-Za-z_][\w.]*\s*)*"
                             r"(=|\+=|-=|\*=|/=|@=|:\s*[\w.\[\]]+\s*=|\()")


def _looks_like_code(line: str) -> bool:
    if not line.strip():
        return True
    if line[0] in " \t" or line.startswith(("#", "@", ")", "]", "}")):
        return True
    return bool(_CODE_START.match(line) or _ASSIGN_OR_CALL.match(line))


def parses_somehow(code: str) -> bool:
    return any(try_parse(v) is not None for v in variants(code)) or any(
        try_parse("def _f():\n" + textwrap.indent(v, "    ")) is not None for v in body_variants(code))


def try_parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def parse_error(code: str, line_offset: int = 0) -> str:
    """One-line description of why `code` does not parse (or compile)."""
    try:
        compile(code, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as e:
        line = (e.lineno or 0) - line_offset
        return f"extracted code does not parse: line {max(line, 1)}: {e.msg}"
    except ValueError as e:
        return f"extracted code does not parse: {e}"
    return ""


def _expand_leading_tabs(code: str) -> str:
    out = []
    for line in code.split("\n"):
        body = line.lstrip(" \t")
        out.append(line[: len(line) - len(body)].expandtabs(4) + body)
    return "\n".join(out)


def variants(code: str) -> list[str]:
    """`code` as written, then with look-alike characters and tab indentation fixed."""
    # Leading tabs become 4 spaces (code mixing tabs and spaces would not
    # parse anyway); look-alike quotes are replaced only if needed, since they
    # may sit inside string literals on purpose.
    code = _expand_leading_tabs(code)
    out = [code, code.translate(_LOOKALIKES)]
    return list(dict.fromkeys(out))


def body_variants(code: str) -> list[str]:
    """Ways to read `code` as a function body: dedented, or with only the
    first line unindented (a continuation of a prompt that ended mid-line)."""
    out = []
    for v in variants(code):
        out.append(textwrap.dedent(v).strip("\n"))
        first, _, rest = v.strip("\n").partition("\n")
        if rest and first == first.lstrip():
            out.append((first + "\n" + textwrap.dedent(rest)).strip("\n"))
    return list(dict.fromkeys(out))


def code_kind(code: str) -> str:
    """'cuda' (load_inline / cpp_extension), 'triton', or 'torch'."""
    if re.search(r"\bload_inline\b|\bcpp_extension\b|__global__", code):
        return "cuda"
    if re.search(r"^\s*(import triton|from triton\b)|@triton\.jit", code, re.M):
        return "triton"
    return "torch"


def needs_reference(tree: ast.Module) -> bool:
    """True when the code uses Model/torch/nn/F without defining them itself."""
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return bool(({"Model", "torch", "nn", "F"} & used) - defined)
