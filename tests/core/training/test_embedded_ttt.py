"""Batch TTT with the embedded SmolLM2-135M on the CPU: 2 built-in tasks, 2 steps of K=4.

A 135M model rarely writes a correct kernel, so the rewards are injected (and
the evaluator is a stand-in: tests/sgs/test_cli_ttt.py runs training samples
through the real one). The update is checked
numerically: ratio 1 and loss = -sum(A) at the first update, and
sum A * (logp_after - logp_before) > 0 after every update. Checkpoints are
reloaded the way `sgs run --adapter DIR` loads them and sample exactly what
the training run sampled with them.
"""
import json
import math

import pytest

from fakes import RuleEvaluator
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.training import TrainingConfig, run_training, step_table
from sgs.core.training.losses import policy_improvement

pytest.importorskip("gguf")
# one to two minutes on a 2-core CPU; the limit leaves room for a busy one
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TASKS = ["builtin/relu", "builtin/swish"]


class Spy:
    """The real trainer, with each update's batch and the batch's logprobs after it.

    Before an update the policy is the one that sampled the batch (on-policy),
    so the sampled logprobs are the "before" (the first test checks the
    learner agrees with them to 1e-3)."""

    def __init__(self, inner):
        self.inner = inner
        self.updates = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def backend(self):
        return self.inner.backend

    def train_step(self, batch, optim):
        stats = self.inner.train_step(batch, optim)
        by_prompt, after = {}, [None] * len(batch)   # one pass per task's prompt, as the trainer batches them
        for i, s in enumerate(batch):
            by_prompt.setdefault(tuple(s.prompt_ids), []).append(i)
        for prompt, rows in by_prompt.items():
            for i, lps in zip(rows, self.inner.token_logprobs(list(prompt), [batch[i].completion_ids for i in rows])):
                after[i] = lps
        self.updates.append((batch, [s.sampled_logprobs for s in batch], after, stats))
        return stats


def injected(sample):
    """Samples 0 and 2 of a task 'correct' (fast, slow), the rest wrong: rewards that differ."""
    return {0: (True, 2.0), 2: (True, 0.5)}.get(sample["sample_idx"], (False, None))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from sgs.core.backends.hf_lora import HFLoRATrainer

    tmp = tmp_path_factory.mktemp("ttt")
    try:
        trainer = HFLoRATrainer("embedded", checkpoint_dir=tmp / "ck", device="cpu", dtype="fp32")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"embedded model not installed: {exc}")
    spy = Spy(trainer)
    store = Store(tmp / "t.db")
    config = TrainingConfig(task_ids=TASKS, k=4, steps=2, max_tokens=6, backend="hf", model="embedded", seed=11)
    tid = run_training(store, config, [get_task(t) for t in TASKS], trainer=spy, outcomes=injected,
                       evaluator=RuleEvaluator({}))
    yield store, tid, spy
    store.close()
    trainer.close()


def test_two_steps_ran_and_were_stored(trained):
    store, tid, spy = trained
    assert store.get_training_run(tid)["status"] == "finished"
    rows = step_table(store, tid)
    assert [(r.step, r.status, r.n_samples) for r in rows] == [(0, "updated", 8), (1, "updated", 8), (2, "evaluated", 8)]
    assert all(r.injected and r.fast_1 == 0.25 for r in rows)
    assert len(spy.updates) == 2


def test_first_update_sees_ratio_one_and_the_loss_is_minus_the_advantage_sum(trained):
    _, _, spy = trained
    for batch, _, _, stats in spy.updates:
        # the learner's logprobs (its forward pass in the update) against the sampler's: the same raw distribution
        assert stats.ratio_max_dev < 1e-3 and abs(stats.ratio_mean - 1.0) < 1e-4
    batch, _, _, stats = spy.updates[0]
    # -sum exp(new - sampled) * A with every ratio within ratio_max_dev of 1
    expected = -math.fsum(a for seq in batch for a in seq.advantages)
    bound = math.fsum(abs(a) for seq in batch for a in seq.advantages) * math.expm1(stats.ratio_max_dev + 1e-9)
    assert abs(stats.loss - expected) <= bound + 1e-6
    assert any(a != 0 for seq in batch for a in seq.advantages)


def test_every_update_moves_the_policy_along_its_advantages(trained):
    _, _, spy = trained
    for batch, before, after, _ in spy.updates:
        assert policy_improvement(batch, before, after) > 0


def test_checkpoints_are_saved_and_reload_as_the_weights_that_sampled(trained):
    from safetensors.torch import load_file

    from sgs.core.backends import make_backend
    from sgs.core.engine import sample_seed
    from sgs.core.prompts import build_prompt
    from sgs.core.types import SamplingParams

    store, tid, _ = trained
    steps = store.training_steps(tid)
    weights = []
    for s in steps:
        info = json.loads(open(f"{s['checkpoint']}/adapter_config.json").read())
        assert info["r"] == 16 and set(info["target_modules"]) >= {"q_proj", "v_proj", "down_proj"}
        weights.append(load_file(f"{s['checkpoint']}/adapter_model.safetensors"))
    lora_b = [k for k in weights[0] if "lora_B" in k]
    assert all(float(weights[0][k].abs().max()) == 0.0 for k in lora_b)       # step 0: the base model
    assert any(float(weights[1][k].abs().max()) > 0.0 for k in lora_b)        # step 1: updated once
    # `sgs run --adapter DIR` loads it like this; with the step's seed it samples the very same tokens
    step1 = steps[1]
    run = store.get_run(step1["run_id"])
    backend = make_backend("hf", "embedded", device="cpu", dtype="fp32", adapter=step1["checkpoint"])
    task = get_task(TASKS[0])
    params = SamplingParams(temperature=run["config"]["sampling"]["temperature"],
                            max_tokens=run["config"]["sampling"]["max_tokens"],
                            seed=sample_seed(run["config"]["seed"], task.id, 0))
    again = list(backend.generate(build_prompt(task, "body"), 4, params))
    stored = [s for s in store.training_samples(tid, 1) if s["task_id"] == task.id]
    assert [g.extra["token_ids"] for g in again] == [s["token_ids"] for s in stored]
    for g, s in zip(again, stored):
        logged = store.scores(s["sample_id"])[0]["logprobs"]
        assert max(abs(a - b) for a, b in zip(g.logprobs, logged)) < 1e-3 if logged else True
