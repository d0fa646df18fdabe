"""The training loop with a scripted trainer: steps, rewards across steps, SDPO teachers, probe, resume."""
import pytest

from fakes import FakeTrainer, RuleEvaluator
from sgs.core.engine import RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.training import TrainingConfig, TrainingLoop, create_training, run_training, step_table
from sgs.core.types import Generation

TASKS = ["builtin/relu", "builtin/relu6"]
REPLIES = ["```python\nreturn torch.clamp_min(x, 0.0)  # FAST\n```",
           "```python\nreturn torch.relu(x)  # SLOW\n```",
           "I cannot help with that.",
           "```python\nreturn x * 2  # WRONG\n```"]
RULES = {"FAST": ("correct", 2.0), "SLOW": ("correct", 0.8), "WRONG": ("incorrect", None)}


def tasks():
    return [get_task(t) for t in TASKS]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def config(**kw):
    kw.setdefault("steps", 2)
    kw.setdefault("k", 4)
    return TrainingConfig(task_ids=TASKS, backend="hf", model="scripted", seed=7, **kw)


def test_batch_ttt_samples_rewards_and_updates_step_by_step(store, tmp_path):
    trainer = FakeTrainer(REPLIES, tmp_path / "ck")
    evaluator = RuleEvaluator(RULES)
    events = []
    tid = run_training(store, config(), tasks(), trainer=trainer, evaluator=evaluator, sinks=[events.append])
    run = store.get_training_run(tid)
    assert run["status"] == "finished" and run["method"] == "ttt"
    steps = store.training_steps(tid)
    assert [(s["step"], s["status"]) for s in steps] == [(0, "updated"), (1, "updated"), (2, "evaluated")]
    assert trainer.saved == ["step-0", "step-1", "step-2"]
    assert [s["checkpoint"] for s in steps] == [str(tmp_path / "ck" / f"step-{i}") for i in range(3)]
    # every step is an ordinary run of K samples per task, every sample evaluated by the evaluator
    for s in steps:
        assert store.get_run(s["run_id"])["kind"] == "search"
        assert sum(1 for c in store.candidates(s["run_id"]) if c.outcome) == 8
        assert store.get_run(s["run_id"])["config"]["backend_options"]["adapter"] == s["checkpoint"]
    assert len(evaluator.requests) == 3 * 6          # replies without code are not evaluated
    # two updates, each on all 8 samples of the previous step, with the stored advantages
    assert len(trainer.batches) == 2
    for step, (batch, optim) in enumerate(trainer.batches):
        stored = {s["sample_id"]: s for s in store.training_samples(tid, step)}
        assert len(batch) == 8 and optim.learning_rate == 1e-5 and optim.eps == 1e-12
        for seq in batch:
            row = stored[seq.sample_id]
            assert seq.completion_ids == row["token_ids"]
            assert seq.advantages == [row["advantage"]] * len(seq.completion_ids)
            assert seq.sampled_logprobs == store.scores(seq.sample_id)[0]["logprobs"]
    # the reward's running median carries over: step 1's first FAST of relu is divided by median(2.0, 0.8)
    step1 = store.training_samples(tid, 1)
    first_fast = next(s for s in step1 if s["task_id"] == "builtin/relu" and s["code"] and "FAST" in s["code"])
    assert first_fast["baseline"] == pytest.approx(1.4) and first_fast["reward"] == pytest.approx(2.0 / 1.4)
    rows = step_table(store, tid)
    assert [r.fast_1 for r in rows] == [0.25, 0.25, 0.25] and rows[0].loss is not None
    assert rows[0].distinct_codes == 6 and rows[0].mean_edit_distance is not None
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "TrainingStarted" and kinds[-1] == "TrainingFinished"
    assert kinds.count("StepEvaluated") == 3 and kinds.count("StepUpdated") == 2


def test_sdpo_advantages_come_from_the_teacher_and_the_teacher_never_sees_the_code(store, tmp_path):
    trainer = FakeTrainer(REPLIES, tmp_path / "ck")
    tid = run_training(store, config(method="sdpo", steps=1), tasks(), trainer=trainer,
                       evaluator=RuleEvaluator(RULES))
    assert store.get_training_run(tid)["method"] == "sdpo"
    (batch, _), = trainer.batches
    prompts = {}
    for ids, completions in trainer.teacher_calls:
        text = "".join(chr(i) for i in ids)
        for c in completions:
            prompts[tuple(c)] = text
    for seq in batch:
        teacher_len = len(next(ids for ids, cs in trainer.teacher_calls if list(seq.completion_ids) in cs))
        expected = [(-1.0 + 0.001 * teacher_len - 0.01 * i) - s for i, s in enumerate(seq.sampled_logprobs)]
        assert seq.advantages == pytest.approx(expected)
    samples = {s["sample_id"]: s for s in store.training_samples(tid, 0)}
    assert all(s["advantage"] is not None for s in samples.values() if s["token_ids"])


def test_sdpo_teacher_prompt_holds_no_student_code(store, tmp_path, monkeypatch):
    from sgs.core.training import loop

    seen = []
    real = loop.teacher_prompt

    def spy(student, sample, batch, *, prompt_only):
        prompt = real(student, sample, batch, prompt_only=prompt_only)
        seen.append((sample, prompt, prompt_only))
        return prompt

    monkeypatch.setattr(loop, "teacher_prompt", spy)
    for prompt_only in (False, True):
        run_training(store, config(method="sdpo", prompt_only=prompt_only, steps=1), tasks(),
                     trainer=FakeTrainer(REPLIES, tmp_path / "ck"), evaluator=RuleEvaluator(RULES))
    assert seen
    for sample, prompt, prompt_only in seen:
        text = "\n".join(m["content"] for m in prompt.messages)
        if sample["code"]:
            written = sample["raw_text"][sample["code_start"]:sample["code_end"]]
            assert written not in text
        assert ("Feedback from running" in text) is (not prompt_only)


def test_injected_outcomes_drive_rewards_and_are_marked(store, tmp_path):
    injected = lambda s: (s["sample_idx"] == 0, 3.0 if s["sample_idx"] == 0 else None)  # noqa: E731
    tid = run_training(store, config(steps=1), tasks(), trainer=FakeTrainer(REPLIES, tmp_path / "ck"),
                       evaluator=RuleEvaluator(RULES), outcomes=injected)
    rows = step_table(store, tid)
    assert all(r.injected for r in rows)
    assert [r.fast_1 for r in rows] == [0.25, 0.25] and rows[0].fast_1_noise_aware is None
    s0 = store.training_samples(tid, 0)
    assert [s["reward"] for s in s0 if s["sample_idx"] == 0] == [3.0, 3.0]
    assert all(s["injected"] for s in s0)


def test_probe_scores_a_fixed_best_of_n_set_under_every_checkpoint(store, tmp_path):
    probe = create_run(store, RunConfig(task_ids=TASKS, k=6, backend="scripted", model="m"), tasks(),
                       logprob_mode="raw")
    for task in TASKS:
        for idx in range(6):
            text = f"return fast_{idx} " * (idx + 1)
            sid = store.add_sample(probe, task, idx, Generation(text=text, tokens=[text], logprobs=[-1.0]), code=text,
                                   code_kind="torch", code_start=0, code_end=len(text), extraction_error=None,
                                   logprob_mode="raw")
            store.finish_evaluation(sid, probe, task, {"outcome": "correct", "speedup": 0.5 + idx})
    trainer = FakeTrainer(REPLIES, tmp_path / "ck")
    tid = run_training(store, config(steps=2, probe_run=probe, probe_samples=10), tasks(), trainer=trainer,
                       evaluator=RuleEvaluator(RULES))
    for step in range(3):
        scores = store.probe_scores(tid, step)
        assert len(scores) == 10 and {s["task_id"] for s in scores} == set(TASKS)
    rows = step_table(store, tid)
    assert all(r.rho is not None and r.probe_mean_nll is not None for r in rows)
    assert len(trainer.scored) == 3 * 2                  # one call per task and checkpoint


class Interrupting(FakeTrainer):
    def __init__(self, *a, stop_at=1, **kw):
        super().__init__(*a, **kw)
        self.stop_at = stop_at

    def train_step(self, batch, optim):
        if len(self.batches) == self.stop_at:
            raise KeyboardInterrupt
        return super().train_step(batch, optim)


def test_a_stopped_training_run_resumes_at_its_step(store, tmp_path):
    cfg = config(steps=3)
    tid = create_training(store, cfg, tasks())
    first = Interrupting(REPLIES, tmp_path / "ck", stop_at=1)
    status = TrainingLoop(store, tid, trainer=first, evaluator=RuleEvaluator(RULES)).run_to_end()
    assert status == "interrupted" and store.get_training_run(tid)["status"] == "interrupted"
    assert [(s["step"], s["status"]) for s in store.training_steps(tid)] == [(0, "updated"), (1, "evaluated")]
    second = FakeTrainer(REPLIES, tmp_path / "ck")
    assert TrainingLoop(store, tid, trainer=second, evaluator=RuleEvaluator(RULES)).run_to_end() == "finished"
    steps = store.training_steps(tid)
    assert [(s["step"], s["status"]) for s in steps] == [(0, "updated"), (1, "updated"), (2, "updated"),
                                                         (3, "evaluated")]
    assert len(second.batches) == 2 and second.saved == ["step-2", "step-3"]   # step 1's update made again
    for s in steps:  # exactly K samples per task in every step, none twice
        assert len(store.candidates(s["run_id"])) == 8
        assert len(store.training_samples(tid, s["step"])) == 8
    assert steps[2]["metrics"]["resume_from"] == str(tmp_path / "ck" / "step-2")
