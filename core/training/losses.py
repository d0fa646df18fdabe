"""The importance-sampling loss every update here uses, and its data layout.

    loss = -sum_t exp(logp_new(t) - logp_sampled(t)) * A(t)

over the sampled tokens t of every sequence of the batch. `logp_sampled` is
the token's log-probability under the policy that sampled it and `logp_new`
under the policy being trained; both come from the raw distribution
(log-softmax of the unprocessed logits, temperature 1), whatever temperature
sampled the tokens, so at the first update after sampling the two policies
are one and the ratio is 1 (up to the numerics of two forward passes). The
gradient is then the plain policy gradient sum_t A(t) grad logp(t). Batch TTT
gives every token of a sample the sample's advantage; SDPO gives each token
its own. This is Tinker's `importance_sampling` loss, summed, not averaged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class TrainingSequence:
    """One sampled completion, ready for an update."""

    prompt_ids: list[int]
    completion_ids: list[int]
    sampled_logprobs: list[float]      # raw (T=1) logprobs of completion_ids at sampling time
    advantages: list[float]            # one per completion token
    sample_id: int | None = None

    def __post_init__(self):
        n = len(self.completion_ids)
        if len(self.sampled_logprobs) != n or len(self.advantages) != n:
            raise ValueError(f"a training sequence needs one logprob and one advantage per token: "
                             f"{n} tokens, {len(self.sampled_logprobs)} logprobs, {len(self.advantages)} advantages")
        if not self.prompt_ids:
            raise ValueError("a training sequence needs a prompt of at least one token")


def importance_sampling_loss(new_logprobs, sampled_logprobs, advantages, mask=None):
    """-sum exp(new - sampled) * A over the tokens (torch tensors of one shape; `mask` 1 where a token counts)."""
    import torch

    ratio = torch.exp(new_logprobs - sampled_logprobs)
    terms = ratio * advantages
    if mask is not None:
        terms = terms * mask
    return -terms.sum()


def importance_sampling_loss_value(new_logprobs: list[list[float]], batch: list[TrainingSequence]) -> float:
    """The same loss in plain Python, from the new logprobs of each sequence (e.g. a server's)."""
    total = 0.0
    for new, seq in zip(new_logprobs, batch):
        total += math.fsum(math.exp(n - s) * a for n, s, a in zip(new, seq.sampled_logprobs, seq.advantages))
    return -total + 0.0


def policy_improvement(batch: list[TrainingSequence], before: list[list[float]], after: list[list[float]]) -> float:
    """sum_t A(t) * (logp_after(t) - logp_before(t)): positive when an update moved the policy along its advantages."""
    return math.fsum(a * (y - x) for seq, b, c in zip(batch, before, after)
                     for a, x, y in zip(seq.advantages, b, c))


def ratio_stats(new_logprobs: list[list[float]], batch: list[TrainingSequence]) -> dict:
    """How far the learner's logprobs are from the sampler's: mean ratio and largest |ratio - 1|."""
    ratios = [math.exp(n - s) for new, seq in zip(new_logprobs, batch) for n, s in zip(new, seq.sampled_logprobs)]
    if not ratios:
        return {"ratio_mean": None, "ratio_max_dev": None}
    return {"ratio_mean": math.fsum(ratios) / len(ratios), "ratio_max_dev": max(abs(r - 1.0) for r in ratios)}


def shifted_arrays(seq: TrainingSequence) -> dict[str, list]:
    """The sequence in next-token layout (Tinker's Datum): position i of `model_input` predicts `target_tokens[i]`.

    model_input = (prompt + completion)[:-1], target_tokens = (prompt + completion)[1:];
    `logprobs` and `advantages` are 0 at the prompt's positions and the
    sequence's own values at the completion's, so only sampled tokens count.
    """
    full = list(seq.prompt_ids) + list(seq.completion_ids)
    pad = len(seq.prompt_ids) - 1
    return {
        "model_input": full[:-1],
        "target_tokens": full[1:],
        "logprobs": [0.0] * pad + [float(x) for x in seq.sampled_logprobs],
        "advantages": [0.0] * pad + [float(x) for x in seq.advantages],
    }


__all__ = ["TrainingSequence", "importance_sampling_loss", "importance_sampling_loss_value", "policy_improvement",
           "ratio_stats", "shifted_arrays"]
