"""Whole-file extraction over real kernels: the 355 leaderboard kernels of the shared corpus.

Each kernel is a complete module (imports, CUDA source strings at column 0,
`load_inline`, `class ModelNew`). Passed as a raw file or inside a fenced
reply it must come back as the program it is, line for line (trailing
whitespace aside). The corpus is test data outside the repository:
`$SGS_SHARED/corpora/leaderboard_kernels.jsonl`, by default `../shared`
next to the repository; the tests skip when it is absent.
"""
import json
import re
import os
from pathlib import Path

import pytest

from sgs.core.prompts import extract
from sgs.core.tasks import get_task

SHARED = Path(os.environ.get("SGS_SHARED") or Path(__file__).resolve().parents[2] / ".." / "shared")
CORPUS = SHARED / "corpora" / "leaderboard_kernels.jsonl"

pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason=f"no kernel corpus at {CORPUS}")


@pytest.fixture(scope="module")
def kernels() -> list[dict]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows, f"{CORPUS} holds no kernels"
    return rows


def _lines(code: str) -> list[str]:
    """`code` line by line, trailing whitespace and surrounding blank lines aside."""
    return [line.rstrip() for line in code.strip("\n").rstrip().split("\n")]


def _fenced(code: str) -> str:
    return ("Here is the optimized model with a custom kernel.\n\n```python\n" + code.rstrip("\n")
            + "\n```\n\nThe kernel fuses the element-wise work into one pass.\n")


def _mismatches(kernels: list[dict], wrap, style: str) -> list[str]:
    task = get_task("builtin/relu")  # none of these kernels needs the reference's names
    bad = []
    for k in kernels:
        original = _lines(k["code"])
        reply = wrap(k["code"])
        got = extract(reply, task, style)
        name = f"L{k['level']}/{k['problem_id']} ({k['model']})"
        if got.code is None:
            bad.append(f"{name}: {got.error}")
            continue
        code = _lines(got.code)
        # The body style always puts the reference first; the kernel style keeps the module as is.
        if style == "body":
            code = code[len(code) - len(original):]
        if code != original:
            lost = len(original) - len(set(original) & set(code))
            bad.append(f"{name}: extracted {len(code)} lines of {len(original)}, {lost} distinct lines missing")
        elif _lines(reply[got.start:got.end]) != original:
            bad.append(f"{name}: the span in the reply is not the kernel")
    return bad


@pytest.mark.parametrize("style", ["kernel", "body"])
@pytest.mark.parametrize("wrap", [lambda code: code, _fenced], ids=["raw_file", "fenced_reply"])
def test_every_corpus_kernel_extracts_to_its_own_code(kernels, wrap, style):
    bad = _mismatches(kernels, wrap, style)
    assert not bad, f"{len(bad)} of {len(kernels)} kernels changed: " + "; ".join(bad[:5])


@pytest.mark.parametrize("style", ["kernel", "body"])
def test_a_syntax_error_in_any_corpus_kernel_is_reported_with_its_line(kernels, style):
    """Drop the colon of `class ModelNew(...)`: the error names that line of the file."""
    task = get_task("builtin/relu")
    bad = []
    for k in kernels:
        lines = k["code"].split("\n")
        line_no = next(i for i, line in enumerate(lines, 1) if re.match(r"class ModelNew\b", line))
        lines[line_no - 1] = lines[line_no - 1].rstrip().rstrip(":")
        got = extract("\n".join(lines), task, style)
        expected = f"extracted code does not parse: line {line_no}: "
        if got.code is not None or not got.error.startswith(expected) or "\n" in got.error:
            bad.append(f"L{k['level']}/{k['problem_id']} ({k['model']}): {got.error or 'extracted'}")
    assert not bad, f"{len(bad)} of {len(kernels)}: " + "; ".join(bad[:5])
