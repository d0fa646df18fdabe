"""The stop rule of a timing: enough trials, enough time, then a small
relative standard error on every side, or the budget."""
from sgs.gpu_eval.measure import enough

STEADY = {"ms": [1.0, 1.001, 0.999] * 20}
NOISY = {"ms": [1.0, 3.0] * 10}


def test_waits_for_minimum_trials_on_every_side():
    assert not enough([STEADY, {"ms": [1.0] * 4}], min_n=5, max_n=1000, budget_s=2, elapsed_s=1, min_s=0)
    assert enough([STEADY, STEADY], min_n=5, max_n=1000, budget_s=2, elapsed_s=1, min_s=0)


def test_waits_for_minimum_time_even_when_steady():
    assert not enough([STEADY], min_n=5, max_n=1000, budget_s=2, elapsed_s=0.05, min_s=0.1)
    assert enough([STEADY], min_n=5, max_n=1000, budget_s=2, elapsed_s=0.15, min_s=0.1)


def test_noisy_side_keeps_going_until_budget_or_max_trials():
    assert not enough([STEADY, NOISY], min_n=5, max_n=1000, budget_s=2, elapsed_s=1, min_s=0.1)
    assert enough([STEADY, NOISY], min_n=5, max_n=1000, budget_s=2, elapsed_s=2.5, min_s=0.1)
    assert enough([STEADY, NOISY], min_n=5, max_n=20, budget_s=2, elapsed_s=1, min_s=0.1)


def test_host_bound_when_launching_takes_most_of_the_gpu_time():
    from sgs.gpu_eval.verdict import host_bound
    # Many small launches: the call returns just before the GPU finishes.
    assert host_bound([1.00, 1.02, 0.98], [0.95, 0.97, 0.93]) is True
    # One long kernel: the call returns at once, the GPU works on.
    assert host_bound([1.00, 1.02, 0.98], [0.02, 0.03, 0.02]) is False
    # CPU timings carry no enqueue times.
    assert host_bound([1.0], []) is None
