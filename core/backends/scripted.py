"""A scripted backend that replays fixed replies with fixed logprobs.

It drives the engine and TUI tests (nothing needs a network or a model) and
`sgs run --backend scripted --model FILE.jsonl` replays a file of replies.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Iterator

from ..types import Generation, SamplingParams
from .base import BackendError, Capabilities, Prompt

_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> tuple[list[str], list[int]]:
    """Whitespace-led word pieces with their character offsets."""
    tokens, offsets = [], []
    for m in _TOKEN.finditer(text):
        tokens.append(m.group(0))
        offsets.append(m.start())
    return tokens, offsets


def fixed_logprobs(tokens: list[str], salt: int = 0) -> list[float]:
    """Deterministic pseudo-logprobs in (-3, 0]: a stable function of token text and position."""
    out = []
    for i, tok in enumerate(tokens):
        h = (sum(map(ord, tok)) * 2654435761 + (i + salt) * 40503) % 1000
        out.append(-h / 1000 * 3.0)
    return out


class ScriptedBackend:
    name = "scripted"
    capabilities = Capabilities(logprobs=True, scoring=True, n=True)
    logprob_mode = "raw"

    def __init__(self, model: str = "scripted", replies: list | None = None, delay_s: float = 0.0, **_: object):
        """`replies`: texts or {"text", "logprobs"?} dicts, handed out in order and cycled.

        With no `replies`, `model` names a JSONL file of such objects.
        """
        self.model = model
        if replies is None:
            path = Path(model)
            if not path.is_file():
                raise BackendError(f"scripted backend needs replies or a JSONL file; {model!r} is not a file")
            replies = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not replies:
            raise BackendError("scripted backend has no replies")
        self.replies = [r if isinstance(r, dict) else {"text": r} for r in replies]
        self.delay_s = delay_s
        self._next = 0
        self.calls: list[tuple[Prompt, int]] = []

    def _make(self, reply: dict, salt: int) -> Generation:
        tokens, offsets = tokenize(reply["text"])
        logprobs = reply.get("logprobs") or fixed_logprobs(tokens, salt)
        if len(logprobs) != len(tokens):
            raise BackendError("scripted reply has logprobs of the wrong length")
        return Generation(text=reply["text"], tokens=tokens, logprobs=list(logprobs), offsets=offsets,
                          finish_reason="stop", latency_s=self.delay_s)

    def generate(self, prompt: Prompt, k: int, params: SamplingParams) -> Iterator[Generation]:
        self.calls.append((prompt, k))
        for _ in range(k):
            reply = self.replies[self._next % len(self.replies)]
            salt = self._next
            self._next += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            yield self._make(reply, salt)

    def score(self, prompt: Prompt, completion: str) -> Generation:
        tokens, offsets = tokenize(completion)
        return Generation(text=completion, tokens=tokens, logprobs=fixed_logprobs(tokens), offsets=offsets)

    def close(self) -> None:
        pass
