"""The training loop of batch TTT and SDPO.

Step 0 samples K candidates per task with the starting weights and evaluates
them; no update. Each later step first updates on the previous step's
samples (one importance-sampling step over all of them), saves the adapter,
then samples and evaluates again with the new weights:

    step 0: sample, evaluate, reward            (checkpoint step-0: the start)
    step s: update on step s-1, save step-s, sample, evaluate, reward

A step's sampling and evaluation is an ordinary run driven by the Engine, so
samples are persisted and evaluated exactly as in `sgs run` (same evaluator,
same review flags) and open in every view of a run. What only training
needs is kept beside them: each sample's exact tokens (recorded as it is
generated), its outcome, reward and advantage, the step's checkpoint, the
update's loss, the probe and the diversity. Every piece is in SQLite before
the next begins, so a stopped training run resumes at its step: an
unfinished sampling continues with the same weights, a missing update is
made again from the saved state.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

from .. import events as ev
from ..engine import EvalOptions, RunConfig, create_run, sample_seed, versions
from ..prompts import TEMPLATE_VERSION, build_prompt
from ..store import Store
from ..surprisal import surprisal_of
from ..types import SamplingParams, Task
from . import events as tev
from .config import TrainingConfig
from .losses import TrainingSequence
from .probe import diversity, probe_correlation, select_probe_samples
from .rewards import Outcome, RunningMedianReward, global_advantages
from .sdpo import solution_text, teacher_prompt, token_advantages
from .tables import step_row, training_summary
from .trainer import Trainer, make_trainer

HEARTBEAT_S = 2.0
# (training sample row) -> (correct, speedup): outcomes to reward instead of the evaluated ones
OutcomeSource = Callable[[dict], tuple[bool, "float | None"]]


class TrainingStopped(Exception):
    """A step's run ended without finishing (interrupted or failed)."""


def create_training(store: Store, config: TrainingConfig, tasks: list[Task]) -> int:
    """Record a new training run; `run_training` drives it."""
    prov = {
        "reference_hashes": {t.id: t.reference_hash for t in tasks},
        "prompt_template_version": TEMPLATE_VERSION,
        "versions": versions(),
    }
    return store.create_training_run(name=config.name, method=config.method_label, backend=config.backend,
                                     model=config.model, k=config.k, steps=config.steps, config=config.to_dict(),
                                     provenance=prov)


def checkpoint_dir_for(store: Store, training_run_id: int, config: TrainingConfig) -> str:
    if config.checkpoint_dir:
        return str(Path(config.checkpoint_dir).expanduser())
    return str(store.path.resolve().parent / "sgs-checkpoints" / f"training-{training_run_id}")


class _TokenRecorder:
    """A backend wrapper that pairs each generation's exact token ids with the sample the engine stores."""

    def __init__(self, inner, store: Store, training_run_id: int, step: int):
        self.inner = inner
        self.name, self.model = inner.name, inner.model
        self.capabilities, self.logprob_mode = inner.capabilities, inner.logprob_mode
        self.store, self.training_run_id, self.step = store, training_run_id, step
        self.pending: deque = deque()
        self.errors: list[str] = []

    def generate(self, prompt, k, params, **options):
        # options: what the inner backend takes (e.g. `progress`, offered since it reports it)
        for generation in self.inner.generate(prompt, k, params, **options):
            self.pending.append(generation)
            yield generation

    def score(self, prompt, completion):
        return self.inner.score(prompt, completion)

    def close(self) -> None:
        pass  # the trainer owns the model

    def on_event(self, event) -> None:
        if not isinstance(event, ev.SampleGenerated) or not self.pending:
            return
        generation = self.pending.popleft()
        ids = generation.extra.get("token_ids")
        if ids is None or len(ids) != generation.n_tokens:
            self.errors.append(f"the {self.name} backend gave no token ids matching its logprobs")
            return
        self.store.add_training_sample(event.sample_id, self.training_run_id, self.step, ids)


class TrainingLoop:
    def __init__(self, store: Store, training_run_id: int, *, trainer: Trainer | None = None, evaluator=None,
                 sinks: Iterable[Callable] = (), outcomes: OutcomeSource | None = None):
        self.store = store
        self.id = training_run_id
        self.run = store.get_training_run(training_run_id)
        self.config = TrainingConfig.from_dict(self.run["config"])
        self.trainer = trainer
        self._own_trainer = trainer is None
        self.evaluator = evaluator
        self._own_evaluator = evaluator is None
        self.sinks = list(sinks)
        self.outcomes = outcomes
        self.tasks: list[Task] | None = None
        self._prompt_ids: dict[str, list[int]] = {}
        self._stop = threading.Event()

    # -- plumbing ---------------------------------------------------------------------
    def emit(self, event) -> None:
        for sink in self.sinks:
            with contextlib.suppress(Exception):  # a broken display must not stop training
                sink(event)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):
                self.store.training_heartbeat(self.id)

    def _task_list(self) -> list[Task]:
        if self.tasks is None:
            from ..tasks import resolve_tasks

            self.tasks = resolve_tasks(self.config.task_ids, kernelbench=self.config.kernelbench,
                                       dataset_file=self.config.dataset_file)
        return self.tasks

    def _prompt(self, task: Task):
        return build_prompt(task, self.config.prompt_style)

    def _prompt_ids_of(self, task: Task) -> list[int]:
        if task.id not in self._prompt_ids:
            self._prompt_ids[task.id] = self.trainer.prompt_ids(self._prompt(task))
        return self._prompt_ids[task.id]

    def _first_open_step(self) -> tuple[int, dict | None]:
        """The step to continue at, and its row (None before step 0 exists)."""
        last = None
        for row in self.store.training_steps(self.id):
            last = row
            done = row["status"] == "updated" or (row["step"] == self.config.steps and row["status"] == "evaluated")
            if not done:
                return row["step"], row
        if last is None:
            return 0, None
        return last["step"] + 1, None

    # -- the run ------------------------------------------------------------------------
    def run_to_end(self) -> str:
        first, row = self._first_open_step()
        if first > self.config.steps:
            return "finished"
        if self.trainer is None:
            resume = row["metrics"].get("resume_from") if row else None
            try:
                self.trainer = make_trainer(self.config, resume_from=resume,
                                            checkpoint_dir=checkpoint_dir_for(self.store, self.id, self.config))
            except Exception as exc:  # a model that does not load: recorded, then the caller says it in one line
                self.store.set_training_status(self.id, "failed", f"{type(exc).__name__}: {exc}")
                raise
        if self.evaluator is None:
            from sgs.gpu_eval import Evaluator

            self.evaluator = Evaluator(max_workers=self.config.eval.get("workers"),
                                       reference_cache=self.store.reference_cache())
        self.store.set_training_status(self.id, "running")
        self.emit(tev.TrainingStarted(self.id, self.config.method_label, tuple(self.config.task_ids), self.config.k,
                                      self.config.steps))
        beat = threading.Thread(target=self._beat, name="sgs-training-heartbeat", daemon=True)
        beat.start()
        previous = _install_sigterm()
        status, error = "finished", None
        try:
            for step in range(first, self.config.steps + 1):
                self._step(step)
        except (KeyboardInterrupt, TrainingStopped) as exc:
            status, error = "interrupted", str(exc) or "interrupted by the user"
        except Exception as exc:  # noqa: BLE001 - recorded, then re-raised
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            self._close(status, error, previous)
            raise
        self._close(status, error, previous)
        return status

    def _close(self, status: str, error: str | None, previous) -> None:
        self._stop.set()
        for sig, handler in (previous or {}).items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)
        best = None
        with contextlib.suppress(Exception):
            best = training_summary(self.store, self.id)
            self.store.set_training_summary(self.id, {"best_of_adaptation": best})
        if self._own_evaluator and self.evaluator is not None:
            with contextlib.suppress(Exception):
                self.evaluator.close()
        if self._own_trainer and self.trainer is not None:
            with contextlib.suppress(Exception):
                self.trainer.close()
        self.store.set_training_status(self.id, status, error)
        self.emit(tev.TrainingFinished(self.id, status, error, best))

    def _step(self, step: int) -> None:
        row = self.store.training_step(self.id, step)
        if row is None:
            if step != 0:
                raise RuntimeError(f"training run {self.id}: step {step} has no weights (step {step - 1} not updated)")
            checkpoint = self.trainer.save_checkpoint("step-0")
            self.store.start_training_step(self.id, 0, checkpoint, {"resume_from": self.trainer.resume_path})
            row = self.store.training_step(self.id, 0)
        if row["status"] == "sampling":
            self._sample_and_evaluate(step, row)
            row = self.store.training_step(self.id, step)
        if row["status"] == "evaluated" and "probe" not in row["metrics"] and self.config.probe_run is not None:
            self.store.merge_step_metrics(self.id, step, {"probe": self._probe(step)})
        if row["status"] == "evaluated":
            self.emit(tev.StepEvaluated(self.id, step, self._row(step).to_dict()))
            if step < self.config.steps:
                self._update(step)

    def _row(self, step: int):
        return step_row(self.store.training_step(self.id, step), self.store.training_samples(self.id, step),
                        self.config.task_ids)

    # -- sampling and evaluation --------------------------------------------------------------
    def _step_run(self, step: int, row: dict) -> int:
        if row.get("run_id") is not None:
            return row["run_id"]
        c = self.config
        # recorded so that `sgs run --resume` of this run would sample with the same weights
        options = {k: v for k, v in c.backend_options.items() if k in ("dtype", "device", "api_key_env")}
        options["adapter"] = row["checkpoint"]
        config = RunConfig(task_ids=list(c.task_ids), k=c.k, backend=c.backend, model=c.model, backend_options=options,
                           prompt_style=c.prompt_style,
                           sampling=SamplingParams(temperature=c.temperature, max_tokens=c.max_tokens),
                           eval=EvalOptions(**c.eval), kernelbench=c.kernelbench, dataset_file=c.dataset_file,
                           seed=sample_seed(c.seed, f"training:{self.id}", step),
                           name=f"{c.method_label} {self.id} step {step}")
        run_id = create_run(self.store, config, self._task_list(), backend=self.trainer.backend)
        self.store.set_training_step_run(self.id, step, run_id)
        return run_id

    def _sample_and_evaluate(self, step: int, row: dict) -> None:
        from ..engine import Engine

        run_id = self._step_run(step, row)
        self.emit(tev.StepStarted(self.id, step, run_id, row["checkpoint"]))
        recorder = _TokenRecorder(self.trainer.backend, self.store, self.id, step)
        engine = Engine(self.store, run_id, backend=recorder, evaluator=self.evaluator,
                        sinks=[recorder.on_event, *self.sinks])
        started = time.perf_counter()
        status = engine.run_to_end()
        seconds = time.perf_counter() - started
        if recorder.errors:
            raise RuntimeError(recorder.errors[0])
        if status != "finished":
            raise TrainingStopped(f"step {step}'s run {run_id} {status}")
        samples = self.store.training_samples(self.id, step)
        for s in samples:
            s["injected"] = self.outcomes is not None
            if self.outcomes is not None:
                s["correct"], s["speedup"] = self.outcomes(dict(s))
            else:
                s["correct"], s["speedup"] = s["outcome"] == "correct", s["evaluated_speedup"]
        previous = self.store.training_step(self.id, step - 1) if step > 0 else None
        medians = (RunningMedianReward.from_state(previous["reward_state"]) if previous and previous["reward_state"]
                   else RunningMedianReward(self.config.baseline_window, self.config.correct_bonus))
        rewards = medians.rewards([Outcome(s["task_id"], s["sample_idx"], bool(s["correct"]), s["speedup"])
                                   for s in samples], list(self.config.task_ids))
        by_key = {(r.task_id, r.sample_idx): r for r in rewards}
        ordered = [(s, by_key[(s["task_id"], s["sample_idx"])]) for s in samples]
        advantages = global_advantages([r.reward for _, r in ordered]) if self.config.method == "ttt" else \
            [None] * len(ordered)
        rows = [{"sample_id": s["sample_id"], "correct": s["correct"], "speedup": s["speedup"],
                 "injected": s["injected"], "reward": r.reward, "baseline": r.baseline, "advantage": a}
                for (s, r), a in zip(ordered, advantages)]
        metrics = {"sample_s": seconds,
                   "completion_tokens": sum(len(s["token_ids"]) for s in samples),
                   "diversity": diversity([{**s, "written": solution_text(s)} for s in samples])}
        self.store.merge_step_metrics(self.id, step, metrics)
        self.store.record_step_rewards(self.id, step, rows, medians.state())

    # -- the probe ------------------------------------------------------------------------------
    def _probe(self, step: int) -> dict:
        probe_run = self.store.get_run(self.config.probe_run)
        picked = select_probe_samples(self.store.candidates(probe_run["id"]), self.config.probe_samples)
        tasks = {t.id: t for t in self.store.run_tasks(probe_run["id"])}
        by_task: dict[str, list] = {}
        for c in picked:
            by_task.setdefault(c.task_id, []).append(c)
        scores, nlls, speedups = [], [], []
        for task_id, cands in by_task.items():
            prompt = build_prompt(tasks[task_id], probe_run.get("prompt_style") or "body")
            texts = [self.store.get_sample(c.sample_id)["raw_text"] for c in cands]
            for c, g in zip(cands, self.trainer.score_texts(prompt, texts)):
                total, mean = surprisal_of(g.logprobs or [])
                scores.append({"sample_id": c.sample_id, "n_tokens": len(g.logprobs or []), "surprisal": total,
                               "mean_nll": mean})
                nlls.append(mean)
                speedups.append(c.speedup)
        self.store.add_probe_scores(self.id, step, scores)
        return {**probe_correlation(nlls, speedups), "probe_run": probe_run["id"]}

    # -- the update -----------------------------------------------------------------------------
    def _sequences(self, step: int) -> tuple[list[TrainingSequence], dict]:
        tasks = {t.id: t for t in self._task_list()}
        samples = [s for s in self.store.training_samples(self.id, step) if s["token_ids"]]
        sampled = {}
        for s in samples:
            generator = next((sc for sc in self.store.scores(s["sample_id"]) if sc["scorer"] == "generator"), None)
            if generator is None or len(generator["logprobs"]) != len(s["token_ids"]):
                raise RuntimeError(f"sample {s['sample_id']} has no sampling logprobs matching its tokens")
            sampled[s["sample_id"]] = generator["logprobs"]
        info = {"teacher_tokens": 0}
        if self.config.method == "ttt":
            return [TrainingSequence(self._prompt_ids_of(tasks[s["task_id"]]), s["token_ids"], sampled[s["sample_id"]],
                                     [s["advantage"]] * len(s["token_ids"]), s["sample_id"]) for s in samples], info
        # SDPO: the teacher is the current model under a prompt with the feedback (never the sample's code)
        by_teacher: dict[tuple, list[dict]] = {}
        for s in samples:
            prompt = teacher_prompt(self._prompt(tasks[s["task_id"]]), s, samples, prompt_only=self.config.prompt_only)
            by_teacher.setdefault(tuple(self.trainer.prompt_ids(prompt)), []).append(s)
        batch, means = [], {}
        for ids, group in by_teacher.items():
            teacher = self.trainer.token_logprobs(list(ids), [s["token_ids"] for s in group])
            for s, t in zip(group, teacher):
                adv = token_advantages(t, sampled[s["sample_id"]], self.config.sdpo_coef)
                info["teacher_tokens"] += len(ids) + len(t)
                means[s["sample_id"]] = sum(adv) / len(adv)
                batch.append(TrainingSequence(self._prompt_ids_of(tasks[s["task_id"]]), s["token_ids"],
                                              sampled[s["sample_id"]], adv, s["sample_id"]))
        self.store.set_sample_advantages(means)
        return batch, info

    def _update(self, step: int) -> None:
        batch, info = self._sequences(step)
        stats = self.trainer.train_step(batch, self.config.optim)
        checkpoint = self.trainer.save_checkpoint(f"step-{step + 1}")
        update = {k: v for k, v in asdict(stats).items() if k != "extra"} | stats.extra | info
        self.store.merge_step_metrics(self.id, step, {"update": update})
        self.store.record_step_update(self.id, step, checkpoint, next_metrics={"resume_from": self.trainer.resume_path})
        self.emit(tev.StepUpdated(self.id, step, stats.loss, checkpoint, stats.seconds))


def _install_sigterm():
    """SIGTERM (a closed SSH session's hangup, `kill`) stops training as interrupted, not failed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    with contextlib.suppress(ValueError, OSError):
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, handler)
    return previous


def run_training(store: Store, config: TrainingConfig, tasks: list[Task], **options) -> int:
    """Create a training run and drive it to the end; returns its id."""
    training_run_id = create_training(store, config, tasks)
    TrainingLoop(store, training_run_id, **options).run_to_end()
    return training_run_id


__all__ = ["OutcomeSource", "TrainingLoop", "TrainingStopped", "checkpoint_dir_for", "create_training",
           "run_training"]
