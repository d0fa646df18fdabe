"""Surprisal-budgeted evaluation: the scheduler alone, then driven by the engine."""
import contextlib
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sgs.core.backends.scripted import ScriptedBackend, tokenize
from sgs.core.budget import BudgetScheduler
from sgs.core.engine import Engine, EvalOptions, RunConfig, create_run
from sgs.core.selection import STRATEGIES
from sgs.core.store import Candidate, Store
from sgs.core.tasks import get_task


def cands_from(spec):
    """spec: list of (surprisal or None, outcome, speedup); sample_id = 100 + index."""
    return [Candidate(sample_id=100 + i, sample_idx=i, task_id="t", code=f"c{i}", surprisal=s, mean_nll=None,
                      n_tokens=10, outcome=None, speedup=None) for i, (s, _, _) in enumerate(spec)]


def drive(spec, time_top=3, audit=0, seed=0, shuffle=None):
    """Run the scheduler to the end against known outcomes; returns (evaluated ids in submission order, actions)."""
    sched = BudgetScheduler(time_top, audit=audit, seed=seed)
    actions = sched.start("t", cands_from(spec))
    evaluated, skipped, queue = [], [], list(actions)
    rng = random.Random(shuffle)
    while queue:
        # outcomes come back in any order
        i = rng.randrange(len(queue)) if shuffle is not None else 0
        a = queue.pop(i)
        if a.kind == "skip":
            skipped.append(a)
            continue
        evaluated.append((a.sample_id, a.role))
        _, outcome, _ = spec[a.sample_id - 100]
        queue += sched.record("t", a.sample_id, outcome == "correct")
    return evaluated, skipped, sched


SPEC = [  # surprisal, outcome, speedup
    (90.0, "incorrect", None),
    (80.0, "correct", 1.2),
    (70.0, "incorrect", None),
    (60.0, "correct", 3.0),
    (50.0, "correct", 0.9),
    (40.0, "correct", 5.0),   # below the top 3: never evaluated
    (30.0, "incorrect", None),
    (20.0, "correct", 0.7),   # the most confident correct sample
    (10.0, "incorrect", None),
    (None, "correct", 9.0),   # unscored: outside the budget's order
]


def test_checks_down_the_ranking_until_n_correct_and_the_most_confident_from_the_bottom():
    evaluated, skipped, _ = drive(SPEC)
    top = [100 + i for i in (0, 1, 2, 3, 4)]
    confident = [108, 107]
    assert sorted(sid for sid, _ in evaluated) == sorted(top + confident)
    assert {sid for sid, role in evaluated if role == "confident"} == set(confident)
    assert {a.sample_id for a in skipped} == {105, 106, 109}
    assert all(a.role == "outside" for a in skipped)
    assert "no surprisal" in next(a.reason for a in skipped if a.sample_id == 109)
    assert "outside the surprisal budget (--time-top 3)" in next(a.reason for a in skipped if a.sample_id == 105)


@pytest.mark.parametrize("seed", range(30))
def test_every_correct_sample_evaluated_is_needed_and_the_picks_match_a_full_evaluation(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 16)
    spec = [(rng.choice([None] + [float(rng.randint(0, 12))] * 5), rng.choice(["correct", "incorrect"]),
             round(rng.uniform(0.2, 3), 2)) for _ in range(n)]
    evaluated, skipped, _ = drive(spec, time_top=3, shuffle=seed)
    ids = [sid for sid, _ in evaluated]
    assert len(ids) == len(set(ids))                                  # nothing evaluated twice
    full = [Candidate(100 + i, i, "t", f"c{i}", s, None, 10, o, sp if o == "correct" else None)
            for i, (s, o, sp) in enumerate(spec)]
    budget = [c if c.sample_id in ids else Candidate(c.sample_id, c.sample_idx, "t", c.code, c.surprisal, None, 10,
                                                      "skipped", None) for c in full]
    for name in ("surprisal-top3", "surprisal", "most-confident"):
        want = STRATEGIES.get(name).pick(full, "surprisal")
        got = STRATEGIES.get(name).pick(budget, "surprisal")
        assert [c.sample_idx for c, _ in got] == [c.sample_idx for c, _ in want], name
    top3 = [c.sample_id for c in sorted((c for c in full if c.correct and c.surprisal is not None),
                                        key=lambda c: (-c.surprisal, c.sample_idx))]
    confident = [c.sample_id for c, _ in STRATEGIES.get("most-confident").pick(full, "surprisal")]
    needed = set(top3[:3]) | set(confident)
    timed = {c.sample_id for c in full if c.correct and c.sample_id in ids}
    assert timed == needed                                            # no correct sample timed in vain
    assert len(ids) + len(skipped) == n


def test_audit_draws_m_of_the_samples_left_out_the_same_way_every_time():
    a, skipped_a, _ = drive(SPEC, audit=2, seed=5)
    b, _, _ = drive(SPEC, audit=2, seed=5)
    audit = [sid for sid, role in a if role == "audit"]
    assert len(audit) == 2 and set(audit) <= {105, 106, 109}
    assert audit == [sid for sid, role in b if role == "audit"]
    assert len(skipped_a) == 1


def test_resume_from_stored_outcomes_continues_where_it_stopped():
    # the first three checks finished before the interruption
    cands = cands_from(SPEC)
    for c in cands[:3]:
        c.outcome = SPEC[c.sample_idx][1]
    sched = BudgetScheduler(3)
    first = sched.start("t", cands)
    assert {a.sample_id for a in first if a.kind == "evaluate"} == {103, 104, 108}


# -- the engine under a budget --------------------------------------------
REPLIES = {  # tag: (surprisal, outcome, speedup)
    "A": (90.0, "incorrect", None), "B": (80.0, "correct", 1.2), "C": (70.0, "correct", 3.0),
    "D": (60.0, "correct", 5.0), "E": (50.0, "correct", 0.9), "F": (20.0, "correct", 0.7),
    "G": (10.0, "incorrect", None),
}


def reply(tag):
    text = f"```python\nreturn torch.relu(x)  # {tag}\n```"
    tokens, _ = tokenize(text)
    return {"text": text, "logprobs": [-REPLIES[tag][0] / len(tokens)] * len(tokens)}


class OutcomeEvaluator:
    """Answers from the tag in the code, on worker threads; records the requests."""

    def __init__(self):
        self.requests = []
        self.pool = ThreadPoolExecutor(3)
        self.lock = threading.Lock()

    def submit(self, request):
        tag = re.search(r"# (\w)", request["candidate_src"]).group(1)
        with self.lock:
            self.requests.append(tag)
        _, outcome, speedup = REPLIES[tag]

        def work():
            time.sleep(0.01)
            return {"outcome": outcome, "speedup": speedup, "speedup_ci": [speedup, speedup] if speedup else None,
                    "phases": {"compile_s": 0.1, "correctness_s": 0.2, "timing_s": 0.3 if speedup else None}}
        return self.pool.submit(work)

    @contextlib.contextmanager
    def timing_slot(self, device):
        yield

    def close(self):
        self.pool.shutdown()


def budget_run(tmp_path, tags, time_top=2, audit=0):
    store = Store(tmp_path / "b.db")
    config = RunConfig(task_ids=["builtin/relu"], k=len(tags), backend="scripted", model="m",
                       eval=EvalOptions(device="cpu", time_top=time_top, audit=audit))
    run_id = create_run(store, config, [get_task("builtin/relu")], logprob_mode="raw")
    evaluator = OutcomeEvaluator()
    Engine(store, run_id, backend=ScriptedBackend(replies=[reply(t) for t in tags]), evaluator=evaluator).run_to_end()
    return store, run_id, evaluator


def test_engine_evaluates_only_what_the_budget_asks(tmp_path):
    store, run_id, evaluator = budget_run(tmp_path, list("ABCDEFG"), time_top=2)
    assert sorted(evaluator.requests) == ["A", "B", "C", "F", "G"]
    cands = {c.sample_idx: c for c in store.candidates(run_id)}
    assert [cands[i].outcome for i in range(7)] == ["incorrect", "correct", "correct", "skipped", "skipped",
                                                    "correct", "incorrect"]
    assert "outside_budget" in cands[3].flags and "outside the surprisal budget" in cands[3].error
    assert store.get_run(run_id)["status"] == "finished"
    roles = {i: store.get_sample(cands[i].sample_id)["result"]["budget"]["role"] for i in range(7)}
    assert roles == {0: "top", 1: "top", 2: "top", 3: "outside", 4: "outside", 5: "confident", 6: "confident"}


def test_engine_audits_and_resumes_without_evaluating_twice(tmp_path):
    store, run_id, evaluator = budget_run(tmp_path, list("ABCDEFG"), time_top=2, audit=1)
    assert len(evaluator.requests) == 6
    audited = [c for c in store.candidates(run_id) if "audit" in c.flags]
    assert len(audited) == 1 and audited[0].sample_idx in (3, 4)
    again = OutcomeEvaluator()
    store.set_run_status(run_id, "interrupted")
    Engine(store, run_id, backend=ScriptedBackend(replies=[reply("A")]), evaluator=again).run_to_end()
    assert again.requests == []


def test_engine_evaluates_whitespace_variants_once(tmp_path):
    # the same program with blank lines (and their indentation): one evaluation, shared
    store = Store(tmp_path / "w.db")
    config = RunConfig(task_ids=["builtin/relu"], k=2, backend="scripted", model="m", eval=EvalOptions(device="cpu"))
    run_id = create_run(store, config, [get_task("builtin/relu")], logprob_mode="raw")
    a = "```python\ny = torch.relu(x)  # B\nreturn y\n```"
    b = "```python\ny = torch.relu(x)  # B\n\n\nreturn y\n```"
    evaluator = OutcomeEvaluator()
    Engine(store, run_id, backend=ScriptedBackend(replies=[a, b]), evaluator=evaluator).run_to_end()
    assert evaluator.requests == ["B"]
    speedups = [c.speedup for c in store.candidates(run_id)]
    assert speedups == [1.2, 1.2]


def test_import_then_resume_under_a_budget_with_the_real_evaluator(tmp_path, capsys):
    """sgs import --time-top 1, then sgs run --resume: the CPU evaluator checks down the ranking only."""
    import json

    from sgs.cli import main
    from sgs.core.tasks.builtin import pool_path

    records = [json.loads(line) for line in open(pool_path()) if '"builtin/relu"' in line][:5]
    path = tmp_path / "relu.jsonl"
    with open(path, "w") as f:
        for i, rec in enumerate(records):
            text = f"```python\n{rec['code']}```"
            tokens, _ = tokenize(text)
            f.write(json.dumps({"task": "builtin/relu", "text": text, "tokens": tokens,
                                "logprobs": [-(10.0 - i) / len(tokens)] * len(tokens)}) + "\n")
    db = str(tmp_path / "i.db")
    assert main(["import", str(path), "--db", db, "--time-top", "1", "--device", "cpu", "--timeout", "20"]) == 0
    assert main(["run", "--resume", "1", "--db", db, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "evaluated under a surprisal budget (--time-top 1)" in out
    cands = Store(db).candidates(1)
    evaluated = [c for c in cands if c.outcome != "skipped"]
    # the top-ranked correct sample and the most confident correct one were found; nothing else ran
    correct = sorted((c for c in cands if c.correct), key=lambda c: -c.surprisal)
    assert correct, "the pool's relu candidates include correct ones"
    top, confident = correct[0].surprisal, correct[-1].surprisal
    assert all(c.surprisal >= top or c.surprisal <= confident for c in evaluated)
    assert all(confident < c.surprisal < top for c in cands if c.outcome == "skipped")
