"""Code identity: when two samples wrote the same program.

One definition, used wherever samples are compared: the engine evaluates
one program once and gives every sample that wrote it the same result, the
distinct-code strategy variants group by it, and the evaluator (which
de-duplicates identical requests) only ever sees one request per identity.

Two codes are the same when they differ only in line endings, whitespace
at the ends of lines, and blank lines: what sampling varies without changing
the program. Indentation and everything inside a line count (Python's
blocks depend on them).
"""
from __future__ import annotations

import hashlib


def normalise_code(code: str) -> str:
    """The text code identity is taken on."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines if line.strip())


def code_identity(code: str) -> str:
    """A short stable key for the program `code` is (sha256 of its normalised text)."""
    return hashlib.sha256(normalise_code(code).encode("utf-8")).hexdigest()[:32]


__all__ = ["code_identity", "normalise_code"]
