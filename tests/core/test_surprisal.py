import math

import pytest
import torch

from sgs.core.surprisal import span_surprisal, surprisal_of, token_logprobs_from_logits


def test_surprisal_and_mean_nll():
    total, mean = surprisal_of([-1.0, -2.0, -0.5])
    assert total == pytest.approx(3.5)
    assert mean == pytest.approx(3.5 / 3)
    assert surprisal_of([]) == (0.0, None)


def test_span_surprisal_counts_tokens_starting_inside_the_span():
    assert span_surprisal([-1.0, -2.0, -4.0], [0, 5, 10], 5, 10) == pytest.approx(2.0)


def test_logprobs_come_from_raw_logits_in_fp32():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 7).to(torch.bfloat16)        # steps x batch x vocab
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    lp = token_logprobs_from_logits(logits, ids)
    assert lp.dtype == torch.float32 and lp.shape == (2, 3)
    expected = torch.log_softmax(logits.float()[1, 0], -1)[2]
    assert lp[0, 1].item() == pytest.approx(expected.item())
    assert all(math.isfinite(x) for x in lp.flatten().tolist())
