"""Finding code in a raw model reply.

Works on a normalised copy of the reply (CRLF and lone CR become LF) and maps
every span back to offsets in the raw text, so `raw[start:end]` is always the
region the code came from.

Order: a reply that is itself a Python module defining ModelNew (a kernel file
passed as is) is taken whole; otherwise fenced blocks; otherwise the unfenced
code. Unfenced code that holds `class ModelNew` is read as one module from its
first line, so a syntax error is reported with the module's own line number
instead of a fragment being taken; other unfenced code is the longest run of
code-looking lines that compiles.
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
        # Before fences: a module may hold ``` in its strings or docstrings.
        if _is_model_new_module(self.text):
            return [self._block(0, len(self.text), "", False)]
        lo, hi = self.answer_region()
        fenced = self._fenced_blocks(lo, hi)
        if fenced and not self._is_file_with_fences(lo, hi, fenced):
            return fenced
        bare = self._module_block(lo, hi) or self._bare_block(lo, hi)
        return [bare] if bare else []

    def _is_file_with_fences(self, lo: int, hi: int, fenced: list[Block]) -> bool:
        """A Python file (that does not parse) whose strings hold fence lines: it starts
        like Python and its `class ModelNew` lies outside every fenced block."""
        first = re.search(r"\S[^\n]*", self.text[lo:hi])
        if lo != 0 or first is None or not _STARTS_LIKE_PYTHON.match(first.group()):
            return False
        return any(not any(b.start <= self._offsets[m.start()] < b.end for b in fenced)
                   for m in _MODEL_NEW_LINE.finditer(self.text, lo, hi))

    def _block(self, start: int, end: int, lang: str, fenced: bool, keep_leading: bool = False) -> Block:
        # Trim surrounding blank lines but keep the first line's indentation;
        # `keep_leading` keeps leading blank lines so line numbers stay the file's.
        segment = self.text[start:end]
        lead = 0 if keep_leading else len(segment) - len(segment.lstrip("\n"))
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

    def _module_block(self, lo: int, hi: int) -> Block | None:
        """Unfenced code holding `class ModelNew`, read as one module.

        It starts at the region's first line when that looks like Python (code,
        a string, a comment), else at the first code-looking line after prose.
        Prose after the code is dropped. None when prose sits inside the code:
        the run-of-lines reading then picks the code out.
        """
        text = self.text
        if not _MODEL_NEW_LINE.search(text, lo, hi):
            return None
        lines = text[lo:hi].split("\n")
        starts = [lo]
        for line in lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            return None
        if _STARTS_LIKE_PYTHON.match(lines[first]) is None:
            first = next((i for i in range(first, len(lines))
                          if lines[i].strip() and _looks_like_code(lines[i])), None)
            if first is None:
                return None
        # A file (the region is the whole reply) keeps its leading blank lines:
        # the error's line number is then the file's.
        keep_leading = lo == 0 and not text[:starts[first]].strip()
        begin = lo if keep_leading else starts[first]
        base = 0 if keep_leading else first  # index in `lines` of the chunk's line 1
        last_model_new = max(i for i, line in enumerate(lines) if _MODEL_NEW_LINE.match(line))
        if last_model_new < first:
            return None
        end = len(lines)
        # Each round drops trailing prose after the code; bounded work on long replies.
        for _ in range(_MAX_PROSE_TRIMS):
            chunk = text[begin:starts[end - 1] + len(lines[end - 1])]
            bad_line = _syntax_error_line(chunk)
            if bad_line is None:
                break
            index = bad_line - 1 + base
            if index >= len(lines) or _looks_like_code(lines[index]) or not lines[index].strip():
                break  # a syntax error in the code itself: report it with its line
            if index <= last_model_new:
                return None  # prose inside the code
            end = index
            while end > first + 1 and not lines[end - 1].strip():
                end -= 1
        return self._block(begin, starts[end - 1] + len(lines[end - 1]), "", False, keep_leading)

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


_MODEL_NEW_LINE = re.compile(r"^[ \t]*class[ \t]+ModelNew\b", re.M)
# The first line of a Python file: code, a docstring or string, a comment or shebang.
_STARTS_LIKE_PYTHON = re.compile(r"""^\s*([rRbBuUfF]{0,2}["']|#|@|(import|from|class|def|if|try|with)\b)""")
_MAX_PROSE_TRIMS = 8
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


def _syntax_error_line(code: str) -> int | None:
    """1-based line of the first syntax error in `code` (as written or fixed up), None if it parses."""
    first = None
    for v in variants(textwrap.dedent(code)):
        try:
            ast.parse(v)
            return None
        except SyntaxError as e:
            first = first or e.lineno or 1
        except ValueError:
            first = first or 1
    return first


def defines_model_new(tree: ast.Module) -> bool:
    """True when the module binds `ModelNew` at top level (a class, an alias or an import)."""
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "ModelNew":
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ModelNew"
                                                for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "ModelNew":
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name) == "ModelNew" for a in node.names):
            return True
    return False


def _is_model_new_module(text: str) -> bool:
    """The whole text parses as Python (as written or fixed up) and defines ModelNew."""
    if "ModelNew" not in text:
        return False
    for v in variants(textwrap.dedent(text)):
        tree = try_parse(v)
        if tree is not None:
            return defines_model_new(tree)
    return False


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
