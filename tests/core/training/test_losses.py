"""The importance-sampling loss, against hand-computed values, and its Tinker data layout."""
import math

import pytest
import torch

from sgs.core.training.losses import (TrainingSequence, importance_sampling_loss, importance_sampling_loss_value,
                                      policy_improvement, ratio_stats, shifted_arrays)


def test_loss_matches_a_hand_computed_value():
    new = torch.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    sampled = torch.tensor([[-1.5, -2.0, -0.7]])
    adv = torch.tensor([[2.0, -1.0, 0.5]])
    # -(e^0.5 * 2 + e^0 * -1 + e^0.2 * 0.5)
    expected = -(math.exp(0.5) * 2.0 - 1.0 + math.exp(0.2) * 0.5)
    loss = importance_sampling_loss(new, sampled, adv)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()  # d loss / d logp_new = -ratio * A
    assert new.grad.tolist()[0] == pytest.approx([-math.exp(0.5) * 2.0, 1.0, -math.exp(0.2) * 0.5], rel=1e-6)
    seq = TrainingSequence([7], [1, 2, 3], [-1.5, -2.0, -0.7], [2.0, -1.0, 0.5])
    assert importance_sampling_loss_value([[-1.0, -2.0, -0.5]], [seq]) == pytest.approx(expected)


def test_masked_positions_count_nothing():
    new = torch.tensor([[-1.0, -3.0]])
    loss = importance_sampling_loss(new, torch.tensor([[-1.0, 0.0]]), torch.tensor([[1.5, 9.0]]),
                                    torch.tensor([[1.0, 0.0]]))
    assert loss.item() == pytest.approx(-1.5)


def test_at_the_first_update_the_ratio_is_one_and_the_loss_is_minus_the_advantage_sum():
    seq = TrainingSequence([1, 2], [5, 6], [-0.3, -1.2], [0.5, 0.5])
    same = [list(seq.sampled_logprobs)]
    assert importance_sampling_loss_value(same, [seq]) == pytest.approx(-1.0)
    assert ratio_stats(same, [seq]) == {"ratio_mean": 1.0, "ratio_max_dev": 0.0}


def test_policy_improvement_is_advantage_weighted_logprob_change():
    seq = TrainingSequence([1], [5, 6], [-1.0, -1.0], [1.0, -2.0])
    assert policy_improvement([seq], [[-1.0, -1.0]], [[-0.9, -1.2]]) == pytest.approx(0.1 + 0.4)


def test_next_token_layout_pads_the_prompt_with_zeros():
    seq = TrainingSequence([10, 11, 12], [20, 21], [-0.5, -0.25], [1.5, -1.0])
    a = shifted_arrays(seq)
    assert a["model_input"] == [10, 11, 12, 20]
    assert a["target_tokens"] == [11, 12, 20, 21]
    assert a["logprobs"] == [0.0, 0.0, -0.5, -0.25]
    assert a["advantages"] == [0.0, 0.0, 1.5, -1.0]


def test_a_sequence_needs_one_logprob_and_advantage_per_token():
    with pytest.raises(ValueError, match="one logprob and one advantage per token"):
        TrainingSequence([1], [5, 6], [-1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="prompt"):
        TrainingSequence([], [5], [-1.0], [1.0])
