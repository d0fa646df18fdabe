"""Memory admission: evaluations are let onto a device only as far as they
fit; idle reference processes make room; one re-run alone has the device."""
import threading
import time

from sgs.gpu_eval.supervisor.devices import MemoryBudget

GIB = 1 << 30


def _later(fn):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", fn()), daemon=True)
    t.start()
    return t, box


def test_reservation_waits_until_it_fits():
    budget = MemoryBudget(10 * GIB)
    a = budget.reserve(6 * GIB)
    t, box = _later(lambda: budget.reserve(6 * GIB))
    time.sleep(0.3)
    assert "r" not in box                       # 6 + 6 > 10: the second waits
    a.release()
    t.join(timeout=5)
    assert "r" in box
    box["r"].release()
    assert budget.free() == 10 * GIB


def test_too_large_for_the_whole_budget_runs_when_nothing_else_does():
    budget = MemoryBudget(10 * GIB)
    small = budget.reserve(1 * GIB)
    t, box = _later(lambda: budget.reserve(40 * GIB))
    time.sleep(0.3)
    assert "r" not in box
    small.release()
    t.join(timeout=5)
    assert "r" in box                           # alone, it runs
    box["r"].release()


def test_idle_reference_processes_are_closed_to_make_room():
    evicted = []

    def evict(nbytes):
        if "ref" in evicted:
            return 0
        evicted.append("ref")
        budget.set_resident("ref", None)
        return 5 * GIB

    budget = MemoryBudget(10 * GIB, evict=evict)
    budget.set_resident("ref", 5 * GIB)
    keep = budget.reserve(3 * GIB)
    r = budget.reserve(6 * GIB, timeout=5)      # 3 + 5 + 6 > 10 until the reference goes
    assert evicted == ["ref"]
    r.release()
    keep.release()


def test_alone_waits_for_others_and_keeps_new_ones_out():
    budget = MemoryBudget(100 * GIB)
    other = budget.reserve(1 * GIB)
    t, box = _later(lambda: budget.reserve(1 * GIB, alone=True))
    time.sleep(0.3)
    assert "r" not in box                       # waits for the other evaluation
    t2, box2 = _later(lambda: budget.reserve(1 * GIB))
    time.sleep(0.3)
    assert "r" not in box2                      # a newcomer waits behind the one going alone
    other.release()
    t.join(timeout=5)
    assert "r" in box
    time.sleep(0.3)
    assert "r" not in box2                      # kept out while alone
    box["r"].release()
    t2.join(timeout=5)
    assert "r" in box2
    box2["r"].release()
