"""A failing reference is the task's failure, not its candidates': retried
once alone, then one task-level message naming the phase, outcome
`reference_failed` for every candidate, and never retried per candidate
(nor, with the same limits, after a restart)."""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import CORRECT, REFERENCE  # noqa: E402

from sgs.gpu_eval import Evaluator, MemoryReferenceCache  # noqa: E402

HANGS_MAKING_INPUTS = REFERENCE.replace("def get_inputs():\n", "def get_inputs():\n    while True:\n        pass\n")
RAISES_IN_FORWARD = REFERENCE.replace("return torch.relu(self.lin(x))", "raise ValueError('broken task')")
KILLED = REFERENCE.replace("return torch.relu(self.lin(x))",
                           "import os, signal\n        os.kill(os.getpid(), signal.SIGKILL)")


def _req(reference, seed=1, timeout=3.0):
    return {"task_id": "t/broken", "reference_src": reference, "candidate_src": CORRECT, "device": "cpu",
            "seed": seed, "timeout_s": timeout, "num_threads": 1, "time": False}


def _evaluate_many(reference, n, cache, **kw):
    with Evaluator(max_workers=2, reference_cache=cache) as ev:
        futs = [ev.submit(dict(_req(reference, **kw), candidate_src=CORRECT + f"\n# variant {i}\n")) for i in range(n)]
        results = [f.result(timeout=300) for f in futs]
        return results, ev._runner.references


def test_reference_timeout_names_its_phase_and_obeys_the_limit():
    t0 = time.monotonic()
    results, refs = _evaluate_many(HANGS_MAKING_INPUTS, 3, MemoryReferenceCache(), timeout=3.0)
    elapsed = time.monotonic() - t0
    for r in results:
        assert r["outcome"] == "reference_failed"
        assert r["error"] == "reference failed: timed out after 3 s generating inputs"
    assert refs.started == 2 and refs.retried_alone == 1       # once, then once alone; not per candidate
    assert elapsed < 60                                          # no 120 s floor under a 3 s limit


def test_reference_error_and_crash_are_the_tasks():
    for reference, words in ((RAISES_IN_FORWARD, "broken task"), (KILLED, "SIGKILL")):
        results, refs = _evaluate_many(reference, 2, MemoryReferenceCache())
        assert {r["outcome"] for r in results} == {"reference_failed"}
        assert len({r["error"] for r in results}) == 1
        assert words in results[0]["error"] and "running the reference" in results[0]["error"], results[0]["error"]
        assert refs.started == 2


def test_a_stored_failure_is_not_run_again_under_the_same_limits():
    cache = MemoryReferenceCache()
    _evaluate_many(RAISES_IN_FORWARD, 1, cache)
    again, refs = _evaluate_many(RAISES_IN_FORWARD, 1, cache)
    assert again[0]["outcome"] == "reference_failed" and refs.started == 0
    other_limit, refs = _evaluate_many(RAISES_IN_FORWARD, 1, cache, timeout=4.0)
    assert refs.started == 2                                     # other limits: tried again


FAILS_ON_SECOND_CALL = REFERENCE.replace("return torch.relu(self.lin(x))", """global CALLS
        CALLS = globals().get("CALLS", 0) + 1
        if CALLS > 5:           # the reference's own run has 5 input sets; then the checks begin
            raise RuntimeError("out of memory while checking")
        return torch.relu(self.lin(x))""").replace("def get_inputs():", "def get_inputs():\n    global CALLS\n    CALLS = CALLS if 'CALLS' in globals() else 0")


def test_a_reference_that_fails_while_checking_is_no_verdict_until_it_fails_alone(monkeypatch):
    """Outputs that are not kept are made again for each check; a reference
    that fails then (as out of memory beside other evaluations) gets the
    candidate re-run alone, with a fresh reference, before anything is stored."""
    from sgs.gpu_eval.supervisor import reference
    monkeypatch.setattr(reference, "OUTPUT_CACHE_CPU", 0)
    with Evaluator(max_workers=1, reference_cache=MemoryReferenceCache()) as ev:
        r = ev.submit({"reference_src": REFERENCE.replace("return torch.relu(self.lin(x))",
                                                          "return torch.relu(self.lin(x))  # kept nowhere"),
                       "candidate_src": CORRECT, "device": "cpu", "seed": 3, "timeout_s": 30,
                       "num_threads": 1, "time": False}).result(timeout=300)
        assert r["outcome"] == "correct", r["error"]               # recomputed outputs check as kept ones did
        flaky = ev.submit(_req(FAILS_ON_SECOND_CALL, timeout=30)).result(timeout=300)
    assert flaky["rerun_alone"]["first"]["outcome"] == "crashed"
    assert "while checking" in flaky["rerun_alone"]["first"]["error"]
