"""Engine behaviour with a scripted model and an in-process stand-in evaluator."""
import contextlib
import threading
from concurrent.futures import Future

import pytest

from sgs.core import events as ev
from sgs.core.backends.scripted import ScriptedBackend
from sgs.core.engine import Engine, EvalOptions, RunConfig, create_run, effective_status
from sgs.core.store import Store
from sgs.core.tasks import get_task

FAST = "```python\nreturn torch.relu(x)  # FAST\n```"
SLOW = "```python\nreturn torch.relu(x) + 0  # SLOW\n```"
NOCODE = "I am not sure how to do this."


class FakeEvaluator:
    """Answers at once: FAST -> correct 2x, SLOW -> correct 0.5x; records what it was asked."""

    def __init__(self):
        self.requests = []
        self.slot_held = threading.Event()
        self.lock = threading.Lock()

    def submit(self, request):
        self.requests.append(request)
        f = Future()
        src = request["candidate_src"]
        if "FAST" in src:
            f.set_result({"outcome": "correct", "speedup": 2.0, "speedup_ci": [1.9, 2.1], "hardware": "fake"})
        else:
            f.set_result({"outcome": "correct", "speedup": 0.5, "speedup_ci": [0.45, 0.55], "hardware": "fake"})
        return f

    @contextlib.contextmanager
    def timing_slot(self, device):
        with self.lock:
            self.slot_held.set()
            yield
            self.slot_held.clear()

    def close(self):
        pass


def setup(tmp_path, replies, k=4, tasks=("builtin/relu",)):
    store = Store(tmp_path / "e.db")
    config = RunConfig(task_ids=list(tasks), k=k, backend="scripted", model="m", eval=EvalOptions(device="cpu"))
    task_objs = [get_task(t) for t in tasks]
    run_id = create_run(store, config, task_objs, logprob_mode="raw")
    backend = ScriptedBackend(replies=replies)
    return store, run_id, backend


def test_run_persists_k_samples_and_emits_events_in_order(tmp_path):
    store, run_id, backend = setup(tmp_path, [FAST, SLOW, NOCODE, SLOW])
    seen = []
    evaluator = FakeEvaluator()
    Engine(store, run_id, backend=backend, sinks=[seen.append], evaluator=evaluator).run_to_end()
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert kinds.count("SampleGenerated") == 4
    assert kinds.count("EvalFinished") == 4
    assert kinds.count("TaskFinished") == 1
    assert kinds.index("TaskFinished") > max(i for i, k in enumerate(kinds) if k == "EvalFinished")
    cands = store.candidates(run_id, "builtin/relu")
    assert [c.sample_idx for c in cands] == [0, 1, 2, 3]
    assert [c.outcome for c in cands] == ["correct", "correct", "no_code", "correct"]
    assert all(c.surprisal is not None and c.surprisal > 0 for c in cands)
    assert store.get_run(run_id)["status"] == "finished"
    # identical code within the task is evaluated once: SLOW twice -> 1 request
    assert len(evaluator.requests) == 2


def test_body_reply_is_assembled_into_a_modelnew_module(tmp_path):
    store, run_id, backend = setup(tmp_path, [FAST], k=1)
    evaluator = FakeEvaluator()
    Engine(store, run_id, backend=backend, evaluator=evaluator).run_to_end()
    (req,) = evaluator.requests
    assert "class ModelNew" in req["candidate_src"] and "class Model" in req["candidate_src"]
    assert req["device"] == "cpu" and isinstance(req["seed"], int)


def test_resume_fills_only_missing_samples_and_keeps_finished_evaluations(tmp_path):
    store, run_id, backend = setup(tmp_path, [FAST, SLOW, FAST, SLOW], k=4)
    # simulate an interrupted run: two samples exist, one evaluated, one cut off mid-evaluation
    gen = list(backend.generate(None, 2, None))
    from sgs.core.prompts import extract

    task = get_task("builtin/relu")
    ids = []
    for i, g in enumerate(gen):
        e = extract(g.text, task, "body")
        ids.append(store.add_sample(run_id, task.id, i, g, code=e.code, code_kind=e.kind, code_start=e.start,
                                    code_end=e.end, extraction_error=e.error, logprob_mode="raw"))
    store.finish_evaluation(ids[0], run_id, task.id, {"outcome": "correct", "speedup": 2.0})
    store.start_evaluation(ids[1], run_id, task.id)
    store.set_run_status(run_id, "interrupted")
    evaluator = FakeEvaluator()
    Engine(store, run_id, backend=ScriptedBackend(replies=["```python\nreturn x.clamp_min(0)\n```"]),
           evaluator=evaluator).run_to_end()
    cands = store.candidates(run_id, task.id)
    assert [c.sample_idx for c in cands] == [0, 1, 2, 3]
    assert all(c.outcome is not None for c in cands)
    # sample 0 was not re-evaluated; sample 1 (cut off) and the 2 new ones were (the new ones share code)
    assert len(evaluator.requests) == 2
    assert cands[0].speedup == 2.0


def test_local_model_holds_the_timing_slot_while_generating(tmp_path):
    store, run_id, _ = setup(tmp_path, [FAST], k=2)
    evaluator = FakeEvaluator()
    held_during_generation = []

    class LocalBackend(ScriptedBackend):
        def __init__(self, **kw):
            super().__init__(**kw)
            from sgs.core.backends.base import Capabilities

            self.capabilities = Capabilities(local_device="cpu")

        def generate(self, prompt, k, params):
            for g in super().generate(prompt, k, params):
                held_during_generation.append(evaluator.slot_held.is_set())
                yield g

    Engine(store, run_id, backend=LocalBackend(replies=[FAST]), evaluator=evaluator).run_to_end()
    assert held_during_generation == [True, True]
    assert not evaluator.slot_held.is_set()


def test_an_evaluator_exception_is_no_verdict_and_resume_retries_it(tmp_path):
    store, run_id, backend = setup(tmp_path, [FAST, SLOW], k=2)

    class Flaky(FakeEvaluator):
        def submit(self, request):
            if "SLOW" in request["candidate_src"]:
                f = Future()
                f.set_exception(RuntimeError("worker died"))
                return f
            return super().submit(request)

    status = Engine(store, run_id, backend=backend, evaluator=Flaky()).run_to_end()
    outcomes = [c.outcome for c in store.candidates(run_id)]
    # The evaluator's fault is not the candidate's: no verdict is stored.
    assert outcomes == ["correct", None]
    run = store.get_run(run_id)
    assert status == run["status"] == "failed"
    assert "worker died" in run["error"] and "resume" in run["error"]
    Engine(store, run_id, backend=backend, evaluator=FakeEvaluator()).run_to_end()
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "correct"]
    assert store.get_run(run_id)["status"] == "finished"


def test_resume_reopens_verdicts_an_interruption_falsified(tmp_path):
    store, run_id, backend = setup(tmp_path, [FAST, SLOW], k=2)
    Engine(store, run_id, backend=backend, evaluator=FakeEvaluator()).run_to_end()
    # What an older sgs stored for an evaluation cut off by Ctrl-C.
    sample = store.samples(run_id)[1]
    store.finish_evaluation(sample["id"], run_id, sample["task_id"],
                            {"outcome": "crashed", "error": "evaluator failed: CancelledError: "})
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "crashed"]
    Engine(store, run_id, backend=backend, evaluator=FakeEvaluator()).run_to_end()
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "correct"]


def test_stale_running_run_reads_as_interrupted():
    run = {"status": "running", "heartbeat_at": "2020-01-01T00:00:00+00:00", "pid": 999999999, "host": "elsewhere"}
    assert effective_status(run) == "interrupted"
    assert effective_status({"status": "finished"}) == "finished"


def test_a_result_that_lands_as_the_run_ends_is_stored(tmp_path):
    """A future's result() returns before its callbacks have run: the run
    must not end (and drop results) until every result is stored."""
    import time

    store, run_id, backend = setup(tmp_path, [FAST, SLOW], k=2)

    class LateCallbacks(FakeEvaluator):
        def submit(self, request):
            self.requests.append(request)
            f = Future()
            f.add_done_callback(lambda _: time.sleep(0.5))      # runs before the engine's own callback
            threading.Timer(0.1, f.set_result, args=({"outcome": "correct", "speedup": 1.5,
                                                      "speedup_ci": [1.4, 1.6], "hardware": "fake"},)).start()
            return f

    status = Engine(store, run_id, backend=backend, evaluator=LateCallbacks()).run_to_end()
    assert status == "finished"
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "correct"]


class LateResults(FakeEvaluator):
    """Results set from timer threads, so the engine's callbacks run in several threads at once."""

    def submit(self, request):
        self.requests.append(request)
        f = Future()
        threading.Timer(0.05, f.set_result, args=({"outcome": "correct", "speedup": 1.2,
                                                    "speedup_ci": [1.1, 1.3], "hardware": "fake"},)).start()
        return f


def test_a_review_that_raises_still_stores_the_verdict(tmp_path, monkeypatch):
    """The review of a result runs in the evaluator's callback thread (CPython 3.11's AST constructor
    can raise SystemError there): the verdict is stored without the review and the run finishes."""
    from sgs.core import engine as engine_module

    def broken_review(*_args):
        raise SystemError("AST constructor recursion depth mismatch (before=30, after=26)")

    monkeypatch.setattr(engine_module, "review_flags", broken_review)
    store, run_id, backend = setup(tmp_path, [FAST, SLOW], k=2)
    status = Engine(store, run_id, backend=backend, evaluator=LateResults()).run_to_end()
    assert status == "finished"
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "correct"]


def test_a_verdict_that_cannot_be_stored_ends_the_run_failed_not_hung(tmp_path):
    """A fault while storing a verdict (in a callback thread, where it would be swallowed) settles the
    sample: the run ends failed and resumable instead of waiting for it forever."""
    store, run_id, backend = setup(tmp_path, [FAST, SLOW], k=2)
    real_finish = store.finish_evaluation
    calls = []

    def failing_once(sample_id, *args, **kw):
        calls.append(sample_id)
        if len(calls) == 1:
            raise RuntimeError("disk I/O error")
        return real_finish(sample_id, *args, **kw)

    store.finish_evaluation = failing_once
    done = threading.Event()
    outcome = {}

    def run():
        outcome["status"] = Engine(store, run_id, backend=backend, evaluator=LateResults()).run_to_end()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the run waited forever for a verdict that was never stored"
    assert outcome["status"] == "failed"
    assert "storing a verdict failed" in store.get_run(run_id)["error"]
    store.finish_evaluation = real_finish
    assert Engine(store, run_id, backend=backend, evaluator=FakeEvaluator()).run_to_end() == "finished"
    assert [c.outcome for c in store.candidates(run_id)] == ["correct", "correct"]
