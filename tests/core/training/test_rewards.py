"""The running-median speedup reward and global advantage normalisation."""
import statistics

import pytest

from sgs.core.training.rewards import Outcome, RunningMedianReward, global_advantages


def test_first_correct_sample_earns_its_speedup_then_the_median_moves():
    r = RunningMedianReward(window=32, correct_bonus=0.0)
    assert r.reward(Outcome("a", 0, True, 2.0)).reward == pytest.approx(2.0)      # median starts at 1.0
    got = r.reward(Outcome("a", 1, True, 3.0))                                      # history [2.0]
    assert (got.reward, got.baseline) == (pytest.approx(1.5), 2.0)
    got = r.reward(Outcome("a", 2, True, 1.0))                                      # history [2.0, 3.0]
    assert (got.reward, got.baseline) == (pytest.approx(1.0 / 2.5), 2.5)
    assert list(r.history["a"]) == [2.0, 3.0, 1.0]


def test_incorrect_earns_zero_and_never_joins_the_history():
    r = RunningMedianReward(correct_bonus=0.5)
    assert r.reward(Outcome("a", 0, False, 9.0)).reward == 0.0
    assert r.reward(Outcome("a", 1, True, None)).reward == 0.0
    assert "a" not in r.history
    assert r.reward(Outcome("a", 2, True, 4.0)).reward == pytest.approx(4.5)        # bonus added to correct ones


def test_a_correct_sample_with_zero_speedup_gets_the_bonus_only_and_stays_out_of_the_median():
    r = RunningMedianReward(correct_bonus=0.25)
    assert r.reward(Outcome("a", 0, True, 0.0)).reward == pytest.approx(0.25)
    assert "a" not in r.history


def test_window_keeps_the_last_n_correct_speedups_per_task():
    r = RunningMedianReward(window=3)
    for i, s in enumerate([1.0, 2.0, 3.0, 10.0]):
        r.reward(Outcome("a", i, True, s))
    r.reward(Outcome("b", 0, True, 100.0))
    assert list(r.history["a"]) == [2.0, 3.0, 10.0]
    assert r.baseline("a") == 3.0 and r.baseline("b") == 100.0 and r.baseline("c") == 1.0


def test_rewards_follow_the_fixed_order_whatever_order_the_outcomes_arrive_in():
    outcomes = [Outcome("b", 1, True, 4.0), Outcome("a", 1, True, 3.0), Outcome("b", 0, True, 1.0),
                Outcome("a", 0, True, 2.0)]
    shuffled = RunningMedianReward().rewards(outcomes, ["a", "b"])
    ordered = RunningMedianReward().rewards(sorted(outcomes, key=lambda o: (o.task_id, o.sample_idx)), ["a", "b"])
    assert [(x.task_id, x.sample_idx, x.reward) for x in shuffled] == \
           [(x.task_id, x.sample_idx, x.reward) for x in ordered]
    assert [(x.task_id, x.sample_idx) for x in shuffled] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    # task order is the run's, not the alphabet's
    first = RunningMedianReward().rewards(outcomes, ["b", "a"])[0]
    assert (first.task_id, first.sample_idx) == ("b", 0)


def test_the_history_persists_across_steps_through_its_state():
    step0 = RunningMedianReward(window=32, correct_bonus=0.1)
    step0.rewards([Outcome("a", 0, True, 2.0), Outcome("a", 1, True, 4.0)], ["a"])
    step1 = RunningMedianReward.from_state(step0.state())
    got = step1.reward(Outcome("a", 0, True, 6.0))
    assert got.baseline == 3.0 and got.reward == pytest.approx(2.0 + 0.1)
    assert step1.window == 32 and step1.history["a"].maxlen == 32


def test_advantages_are_normalised_over_all_samples_of_all_tasks():
    # task a's rewards are high, task b's low: per-task normalisation would centre each task on 0
    rewards = [3.0, 5.0, 0.0, 1.0]
    adv = global_advantages(rewards)
    mean, sd = statistics.fmean(rewards), statistics.stdev(rewards)
    assert adv == pytest.approx([(r - mean) / sd for r in rewards])
    assert sum(adv) == pytest.approx(0.0) and statistics.stdev(adv) == pytest.approx(1.0)
    assert adv[0] > 0 and adv[1] > 0 and adv[2] < 0 and adv[3] < 0


def test_equal_rewards_give_no_signal_and_one_sample_is_centred():
    assert global_advantages([0.0] * 6) == [0.0] * 6
    assert global_advantages([2.5]) == [0.0]
    assert global_advantages([]) == []
