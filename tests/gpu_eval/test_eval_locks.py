"""Timings never overlap checks, other timings, or a local model generating."""
import threading
import time

from sgs.gpu_eval.locks import DeviceLock


def test_timing_waits_for_checks_and_generation_and_excludes_them():
    lock = DeviceLock()
    log = []
    lock.acquire_shared(generation=True)            # a local model is generating
    lock.acquire_shared()                           # a correctness check runs

    def timing():
        with lock.exclusive():
            log.append("timing start")
            time.sleep(0.05)
            log.append("timing end")

    t = threading.Thread(target=timing)
    t.start()
    time.sleep(0.05)
    assert log == []                                # held off by both
    # A timing is waiting, but a generation holds the device: checks go on.
    checker = threading.Thread(target=lambda: (lock.acquire_shared(), log.append("check"), lock.release_shared()))
    checker.start()
    checker.join(timeout=1)
    assert log == ["check"]
    lock.release_shared()
    time.sleep(0.05)
    assert log == ["check"]                         # the generation still holds it
    lock.release_shared(generation=True)
    t.join(timeout=1)
    assert log == ["check", "timing start", "timing end"]


def test_waiting_timing_is_not_starved_by_new_checks():
    lock = DeviceLock()
    lock.acquire_shared()
    started = threading.Event()

    def timing():
        with lock.exclusive():
            started.set()

    t = threading.Thread(target=timing)
    t.start()
    time.sleep(0.05)
    late = threading.Thread(target=lambda: (lock.acquire_shared(), lock.release_shared()))
    late.start()
    time.sleep(0.05)
    assert late.is_alive()                          # new checks queue behind the timing
    lock.release_shared()
    t.join(timeout=1)
    late.join(timeout=1)
    assert started.is_set() and not late.is_alive()
