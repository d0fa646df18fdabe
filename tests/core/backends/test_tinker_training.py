"""Training through Tinker, offline: the contract with its training client.

The stand-in follows the SDK (tinker 0.38): ServiceClient.create_lora_training_client
(base_model, rank) and create_training_client_from_state_with_optimizer(path) return
futures of a TrainingClient; forward_backward(data, loss_fn) and optim_step(AdamParams)
return futures; ForwardBackwardOutput.loss_fn_outputs holds, per Datum, the learner's
logprobs of its target tokens; save_weights_for_sampler / save_state give a `.path`.
The `importance_sampling` loss takes target_tokens, logprobs and advantages, aligned
with model_input in next-token layout. Where the SDK is installed its own types
(Datum, TensorData, ModelInput, AdamParams) build the requests.
"""
import concurrent.futures as cf
import types as pytypes
from dataclasses import dataclass

import numpy as np
import pytest
from test_tinker_backend import (CharTokenizer, FakeSamplingClient, FakeServiceClient, fake_types, raw_logprob,
                                 sdk, to_ints)  # noqa: F401 (sdk is a fixture)

from sgs.core.backends import BackendError
from sgs.core.training.config import OptimSettings
from sgs.core.training.losses import TrainingSequence


def done(value):
    fut = cf.Future()
    fut.set_result(value)
    return fut


def training_types():
    t = fake_types()
    if hasattr(t, "Datum"):
        return t   # the real SDK

    @dataclass
    class Datum:
        model_input: object
        loss_fn_inputs: dict

    @dataclass
    class AdamParams:
        learning_rate: float = 1e-4
        beta1: float = 0.9
        beta2: float = 0.95
        eps: float = 1e-12
        weight_decay: float = 0.0

    return pytypes.SimpleNamespace(ModelInput=t.ModelInput, SamplingParams=t.SamplingParams, Datum=Datum,
                                   AdamParams=AdamParams)


def values(x):
    return x.tolist() if hasattr(x, "tolist") else list(x)


class FakeTrainingClient:
    def __init__(self, base_model, rank):
        self.base_model, self.rank = base_model, rank
        self.forward_backwards, self.optim_steps, self.saved = [], [], []

    def forward_backward(self, data, loss_fn, loss_fn_config=None):
        self.forward_backwards.append((data, loss_fn))
        outputs = []
        for d in data:
            ids = to_ints(d.model_input)
            targets = values(d.loss_fn_inputs["target_tokens"])
            # the learner's raw logprob of target i after input i: the sampler's function, so the ratio is 1
            outputs.append({"logprobs": np.asarray([raw_logprob(p, t) for p, t in zip(ids, targets)], np.float32)})
        return done(pytypes.SimpleNamespace(loss_fn_outputs=outputs, metrics={"loss:sum": -1.0}))

    def optim_step(self, adam_params):
        self.optim_steps.append(adam_params)
        return done(pytypes.SimpleNamespace())

    def save_weights_for_sampler(self, name):
        self.saved.append(("sampler", name))
        return done(pytypes.SimpleNamespace(path=f"tinker://run-1/sampler_weights/{name}"))

    def save_state(self, name):
        self.saved.append(("state", name))
        return done(pytypes.SimpleNamespace(path=f"tinker://run-1/weights/{name}"))


class TrainingService(FakeServiceClient):
    def __init__(self, sampling_client):
        super().__init__(sampling_client)
        self.trainings, self.from_state = [], []

    def create_lora_training_client(self, base_model, rank=32, **kw):
        client = FakeTrainingClient(base_model, rank)
        self.trainings.append(client)
        return done(client)

    def create_training_client_from_state_with_optimizer(self, path, **kw):
        self.from_state.append(path)
        client = FakeTrainingClient("from-state", None)
        self.trainings.append(client)
        return done(client)


@pytest.fixture
def service(sdk):  # noqa: F811
    sdk.types = training_types()
    return TrainingService(FakeSamplingClient(CharTokenizer(), reply="return torch.relu(x)"))


def test_datum_layout_loss_and_adam_follow_tinkers_importance_sampling_contract(service):
    from sgs.core.backends.tinker_training import TinkerTrainer

    trainer = TinkerTrainer("openai/gpt-oss-120b", service_client=service, lora_rank=16)
    (client,) = service.trainings
    assert (client.base_model, client.rank) == ("openai/gpt-oss-120b", 16)
    prompt, completion = [14, 15, 16], [40, 41]
    sampled = [raw_logprob(16, 40), raw_logprob(40, 41)]
    seq = TrainingSequence(prompt, completion, sampled, [1.5, -1.0])
    d = trainer.datum(seq)
    assert to_ints(d.model_input) == [14, 15, 16, 40]
    inputs = d.loss_fn_inputs
    assert set(inputs) == {"target_tokens", "logprobs", "advantages"}          # no weights for this loss
    assert values(inputs["target_tokens"]) == [15, 16, 40, 41]
    assert values(inputs["logprobs"]) == pytest.approx([0.0, 0.0, *sampled])
    assert values(inputs["advantages"]) == [0.0, 0.0, 1.5, -1.0]
    for key, dtype in (("target_tokens", "int64"), ("logprobs", "float32"), ("advantages", "float32")):
        assert str(getattr(inputs[key], "dtype", "")) == dtype

    stats = trainer.train_step([seq], OptimSettings())
    (data, loss_fn), = client.forward_backwards
    assert loss_fn == "importance_sampling" and len(data) == 1
    (adam,) = client.optim_steps
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.eps) == (1e-5, 0.9, 0.95, 1e-12)
    assert getattr(adam, "weight_decay", 0.0) == 0.0
    # the learner's logprobs came back equal to the sampler's: ratio 1, loss = -sum(A)
    assert stats.ratio_max_dev == pytest.approx(0.0, abs=1e-6)
    assert stats.loss == pytest.approx(-0.5, abs=1e-5) and stats.n_tokens == 2
    assert stats.extra["server_metrics"] == {"loss:sum": -1.0}


def test_a_checkpoint_is_a_sampler_path_the_backend_then_samples_from(service):
    from sgs.core.backends.tinker import TinkerBackend
    from sgs.core.backends.tinker_training import TinkerTrainer
    from sgs.core.types import SamplingParams
    from test_tinker_backend import PROMPT

    trainer = TinkerTrainer("base-model", service_client=service, checkpoint_dir="/x/training-7")
    path = trainer.save_checkpoint("step-0")
    assert path == "tinker://run-1/sampler_weights/training-7-step-0"
    assert trainer.resume_path == "tinker://run-1/weights/training-7-step-0"
    gens = list(trainer.backend.generate(PROMPT, 2, SamplingParams(temperature=0.25, max_tokens=64, seed=3)))
    assert service.created[-1] == (path, None)
    for g in gens:
        assert g.extra["token_ids"] and len(g.extra["token_ids"]) == len(g.logprobs)
    # `sgs run --backend tinker --model base-model --adapter PATH` samples from the same weights
    b = TinkerBackend(model="base-model", adapter=path, service_client=service)
    list(b.generate(PROMPT, 1, SamplingParams(max_tokens=8)))
    assert service.created[-1] == (path, None)
    with pytest.raises(BackendError, match="tinker:// sampler path"):
        TinkerBackend(model="base-model", adapter="/a/folder", service_client=service)


def test_resume_from_a_training_state_and_refuse_a_sampler_path(service):
    from sgs.core.backends.tinker_training import TinkerTrainer

    TinkerTrainer("m", service_client=service, adapter="tinker://run-1/weights/step-3")
    assert service.from_state == ["tinker://run-1/weights/step-3"]
    with pytest.raises(BackendError, match="sampler path cannot be trained from"):
        TinkerTrainer("m", service_client=service, adapter="tinker://run-1/sampler_weights/step-3")


def test_without_a_key_training_refuses_in_one_line(sdk, monkeypatch):  # noqa: F811
    from sgs.core.backends.tinker_training import TinkerTrainer

    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    with pytest.raises(BackendError, match=r"^tinker training needs a Tinker API key: set \$TINKER_API_KEY$"):
        TinkerTrainer("m")


def test_a_training_run_on_tinker(service, tmp_path):
    from fakes import RuleEvaluator

    from sgs.core.backends.tinker_training import TinkerTrainer
    from sgs.core.store import Store
    from sgs.core.tasks import get_task
    from sgs.core.training import TrainingConfig, run_training, step_table

    store = Store(tmp_path / "t.db")
    trainer = TinkerTrainer("base-model", service_client=service)
    config = TrainingConfig(task_ids=["builtin/relu"], k=2, steps=1, backend="tinker", model="base-model")
    tid = run_training(store, config, [get_task("builtin/relu")], trainer=trainer,
                       evaluator=RuleEvaluator({"relu": ("correct", 1.5)}),
                       outcomes=lambda s: (s["sample_idx"] == 0, 2.0))
    (client,) = service.trainings
    (data, loss_fn), = client.forward_backwards
    assert loss_fn == "importance_sampling" and len(data) == 2
    steps = store.training_steps(tid)
    assert [s["checkpoint"] for s in steps] == [f"tinker://run-1/sampler_weights/sgs-step-{i}" for i in range(2)]
    assert steps[1]["metrics"]["resume_from"] == "tinker://run-1/weights/sgs-step-1"
    assert store.get_run(steps[1]["run_id"])["config"]["backend_options"]["adapter"] == steps[1]["checkpoint"]
    rows = step_table(store, tid)
    assert rows[0].ratio_max_dev == pytest.approx(0.0, abs=1e-6) and rows[0].loss is not None
    store.close()


def test_training_refuses_the_samplers_own_logprobs(service):
    from sgs.core.backends.tinker_training import TinkerTrainer

    with pytest.raises(BackendError, match="raw logprobs"):
        TinkerTrainer("m", service_client=service, logprobs="sampler")
