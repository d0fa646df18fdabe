"""Surprisal: how unsure the model was of a whole sample.

surprisal = -sum(log p(token)) over every generated token (reasoning text
included, the stop token excluded), under the model's raw distribution
(temperature 1, before top-k/top-p), computed in fp32; mean_nll =
surprisal / tokens. Runs whose logprobs mean something else (a server's
processed logprobs) record another logprob mode and are never pooled.
"""
from __future__ import annotations

import math
from typing import Sequence

RANK_KEYS = ("surprisal", "mean_nll")


def surprisal_of(logprobs: Sequence[float]) -> tuple[float, float | None]:
    """(surprisal, mean_nll) of a sample's per-token logprobs."""
    total = -math.fsum(float(x) for x in logprobs)
    # -0.0 reads oddly in tables; an empty sample has surprisal 0
    total = total + 0.0
    return total, (total / len(logprobs) if logprobs else None)


def span_surprisal(logprobs: Sequence[float], offsets: Sequence[int], start: int, end: int) -> float:
    """Surprisal of the tokens that begin inside the character span [start, end)."""
    return -math.fsum(lp for lp, off in zip(logprobs, offsets) if start <= off < end) + 0.0


def token_logprobs_from_logits(logits, token_ids):
    """Raw per-token logprobs: log_softmax of unprocessed logits in fp32, gathered at the chosen ids.

    logits: (steps, batch, vocab) or a sequence of (batch, vocab) tensors;
    token_ids: (batch, steps). Returns a (batch, steps) fp32 tensor.
    """
    import torch

    if not torch.is_tensor(logits):
        logits = torch.stack(list(logits), dim=0)
    logprobs = torch.log_softmax(logits.float(), dim=-1)            # (steps, batch, vocab)
    ids = token_ids.transpose(0, 1).unsqueeze(-1)                    # (steps, batch, 1)
    return logprobs.gather(-1, ids).squeeze(-1).transpose(0, 1)      # (batch, steps)


def rank_value(surprisal: float | None, mean_nll: float | None, rank_by: str) -> float | None:
    if rank_by not in RANK_KEYS:
        raise ValueError(f"unknown rank key {rank_by!r}; use one of {', '.join(RANK_KEYS)}")
    return surprisal if rank_by == "surprisal" else mean_nll
