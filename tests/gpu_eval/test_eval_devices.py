"""Choosing a GPU: a request for any GPU goes to the least busy one, counted
from the moment it is chosen, so a burst of submissions spreads out."""
import threading

import pytest

from sgs.gpu_eval import environment, supervisor
from sgs.gpu_eval.request import normalize

_GPUS = tuple({"index": i, "name": "Fake GPU", "capability": [9, 0], "total_memory": 80 << 30,
               "l2_bytes": 50 << 20} for i in range(2))


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setattr(environment, "cuda_devices", lambda: _GPUS)
    monkeypatch.setattr(supervisor.environment, "cuda_devices", lambda: _GPUS)
    r = supervisor.Runner()
    yield r
    r.close()


def _req(device):
    return normalize({"reference_src": "x = 1", "candidate_src": "x = 1", "kind": "cuda", "device": device})


def test_burst_for_any_gpu_spreads_over_both(runner):
    chosen, entered, release = [], threading.Barrier(5), threading.Event()

    def one():
        with runner.devices.chosen(_req("cuda")) as dev:
            chosen.append(dev)
            entered.wait(timeout=5)
            release.wait(timeout=5)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    entered.wait(timeout=5)                 # all four hold a GPU now
    assert sorted(chosen) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
    release.set()
    for t in threads:
        t.join()
    assert runner.devices._load == {0: 0, 1: 0}


def test_named_gpu_is_kept_and_counted(runner):
    with runner.devices.chosen(_req("cuda:1")) as dev:
        assert dev == "cuda:1"
        with runner.devices.chosen(_req("auto")) as other:
            assert other == "cuda:0"        # GPU 1 is busy
    with runner.devices.chosen(_req("cuda:5")) as missing:
        assert missing is None
