"""The engine: tasks x K samples -> persisted samples -> isolated evaluation -> persisted results.

Every sample is written to SQLite the moment it exists and every evaluation
the moment it finishes, so a run killed at any point resumes with exactly K
samples per task, none lost, none duplicated, finished evaluations kept.
Consumers (the CLI printer, the TUI) receive typed events; a TUI in another
process follows the same run from the database alone.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import secrets
import signal
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import asdict, dataclass, field
from typing import Iterable

from . import events as ev
from .backends import Backend, make_backend
from .backends.base import generate
from .review import review_flags
from .selection.identity import code_identity
from .store import Store
from .store.progress import ProgressRecorder
from .types import SamplingParams, Task

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
STALE_AFTER_S = 30.0  # a 'running' run with an older heartbeat and no live process is interrupted


@dataclass
class EvalOptions:
    device: str = "auto"
    mode: str = "fast"                      # fast: 1 correctness / 5 timing trials; full: 5 / 50
    correctness_trials: int | None = None
    timing_trials: int | None = None
    atol: float | None = None               # None: by precision (fp32 1e-4, fp16/bf16 1e-2)
    rtol: float | None = None
    timeout_s: float = 60.0
    compile_timeout_s: float = 300.0
    workers: int | None = None
    num_threads: int | None = None
    time_top: int | None = None             # surprisal budget: check down the ranking, time the top N (core/budget.py)
    audit: int = 0                          # with time_top: samples the budget left out, evaluated at random


@dataclass
class RunConfig:
    task_ids: list[str]
    k: int = 8
    backend: str = "hf"
    model: str = "embedded"
    backend_options: dict = field(default_factory=dict)   # never holds a secret: keys come from env var names
    prompt_style: str = "body"
    sampling: SamplingParams = field(default_factory=SamplingParams)
    eval: EvalOptions = field(default_factory=EvalOptions)
    rank_by: str = "surprisal"
    kernelbench: str | None = None
    dataset_file: str | None = None
    seed: int = field(default_factory=lambda: secrets.randbits(31))
    name: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = dict(d)
        d["sampling"] = SamplingParams(**d.get("sampling", {}))
        d["eval"] = EvalOptions(**d.get("eval", {}))
        return cls(**d)


def versions() -> dict:
    info = {"python": platform.python_version(), "sgs": _sgs_version()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - provenance must never stop a run
        log.debug("torch versions not recorded", exc_info=True)
    info["driver"] = _nvidia_driver()
    info["platform"] = platform.platform()
    info["cpu"] = platform.processor() or platform.machine()
    info["cpu_count"] = os.cpu_count()
    return info


def _sgs_version() -> str:
    from sgs import __version__

    return __version__


def _nvidia_driver() -> str | None:
    try:
        return open("/proc/driver/nvidia/version").readline().strip() or None
    except OSError:
        return None


def provenance(config: RunConfig, tasks: list[Task], logprob_mode: str | None, backend=None) -> dict:
    from .prompts import TEMPLATE_VERSION

    return {
        "reference_hashes": {t.id: t.reference_hash for t in tasks},
        "prompt_template_version": TEMPLATE_VERSION,
        "prompt_style": config.prompt_style,
        "sampling": asdict(config.sampling),
        "logprob_mode": logprob_mode,
        "seed": config.seed,
        "eval": asdict(config.eval),
        "versions": versions(),
        "model_dtype": getattr(backend, "dtype", None),
    }


def create_run(store: Store, config: RunConfig, tasks: list[Task], *, logprob_mode: str | None = None,
               kind: str = "search", backend=None) -> int:
    if backend is not None:
        logprob_mode = logprob_mode or backend.logprob_mode
    return store.create_run(
        name=config.name, kind=kind, backend=config.backend, model=config.model, k=config.k,
        prompt_style=config.prompt_style, rank_by=config.rank_by, logprob_mode=logprob_mode,
        config=config.to_dict(), provenance=provenance(config, tasks, logprob_mode, backend), tasks=tasks,
    )


def effective_status(run: dict, now_ts: float | None = None) -> str:
    """A 'running' run whose process died (SIGKILL, power loss) reads as interrupted."""
    if run["status"] != "running":
        return run["status"]
    from datetime import datetime

    pid, host = run.get("pid"), run.get("host")
    if pid and host == os.uname().nodename and not _alive(pid):
        return "interrupted"  # its process is gone (SIGKILL, a crash): no need to wait for the heartbeat
    beat = run.get("heartbeat_at")
    if beat is None:
        return "interrupted"
    age = (now_ts or time.time()) - datetime.fromisoformat(beat).timestamp()
    return "running" if age <= STALE_AFTER_S else "interrupted"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def sample_seed(run_seed: int, task_id: str, first_idx: int) -> int:
    digest = hashlib.sha256(f"{run_seed}:{task_id}:{first_idx}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class Engine:
    """Drives one run to completion (or resumes one). Not thread-safe; one per run."""

    def __init__(self, store: Store, run_id: int, *, backend: Backend | None = None,
                 sinks: Iterable[ev.EventSink] = (), evaluator=None):
        self.store = store
        self.run_id = run_id
        self.run = store.get_run(run_id)
        self.config = RunConfig.from_dict(self.run["config"])
        self.tasks = {t.id: t for t in store.run_tasks(run_id)}
        self._backend = backend
        self.sinks = list(sinks)
        self._evaluator = evaluator
        self._own_evaluator = evaluator is None
        self._futures: list[Future] = []
        self._by_code: dict[tuple[str, str], Future] = {}
        self._pending_per_task: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._discard = threading.Event()        # set when the run is cut off: results coming in are not stored
        self._settled = threading.Condition(self._lock)
        self._heartbeat: threading.Thread | None = None
        self._evaluator_errors: list[str] = []
        self.progress = ProgressRecorder(store, run_id)  # for readers in other processes (the app)
        self._budget = None
        if self.config.eval.time_top:
            from .budget import BudgetScheduler

            self._budget = BudgetScheduler(self.config.eval.time_top, audit=self.config.eval.audit,
                                           rank_by=self.config.rank_by, seed=self.config.seed)
            self._budget_rows: dict[str, dict[int, dict]] = {}

    # -- events -----------------------------------------------------------
    def emit(self, event: ev.Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # noqa: BLE001 - a broken display must not stop a run
                log.warning("event display failed on %s", type(event).__name__, exc_info=True)

    # -- parts ------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self.progress.loading_model(self.config.backend, self.config.model)
            try:
                self._backend = make_backend(self.config.backend, self.config.model, **self.config.backend_options)
            except Exception as exc:
                self.progress.failed_to_start(exc)
                raise
            self.progress.model_loaded()
        return self._backend

    @property
    def evaluator(self):
        if self._evaluator is None:
            from sgs.gpu_eval import Evaluator

            self._evaluator = Evaluator(max_workers=self.config.eval.workers,
                                        reference_cache=self.store.reference_cache())
        return self._evaluator

    def _generation_guard(self):
        """Hold the device's timing slot while a local model generates, so no timing overlaps it."""
        device = getattr(self.backend.capabilities, "local_device", None)
        if device is None:
            return contextlib.nullcontext()
        return self.evaluator.timing_slot(device)

    def _request(self, task: Task, sample: dict) -> dict:
        opts = self.config.eval
        request = {
            "task_id": task.id,
            "reference_src": task.reference_src,
            "candidate_src": sample["code"],
            "kind": sample.get("code_kind") or "torch",
            "device": opts.device,
            "mode": opts.mode,
            "atol": opts.atol,
            "rtol": opts.rtol,
            # Per-run seeds: a candidate cannot know the inputs it will be checked
            # on. One seed per task lets the evaluator reuse the reference's
            # outputs across the task's samples instead of recomputing them.
            "seed": sample_seed(self.config.seed, f"eval:{task.id}", 0),
            "timeout_s": opts.timeout_s,
            "compile_timeout_s": opts.compile_timeout_s,
        }
        for key in ("correctness_trials", "timing_trials", "num_threads"):
            if getattr(opts, key) is not None:
                request[key] = getattr(opts, key)
        return request

    # -- evaluation -------------------------------------------------------
    def _submit(self, sample: dict) -> None:
        task = self.tasks[sample["task_id"]]
        sample_id, idx = sample["id"], sample["sample_idx"]
        with self._lock:
            self._pending_per_task[task.id] = self._pending_per_task.get(task.id, 0) + 1
        if not sample.get("code"):
            result = {"outcome": "no_code", "error": sample.get("extraction_error") or "no code in reply"}
            self._finish(task, sample_id, idx, sample.get("surprisal"), result, None)
            return
        self.store.start_evaluation(sample_id, self.run_id, task.id)
        self.emit(ev.EvalStarted(self.run_id, task.id, idx, sample_id))
        # the same code (selection/identity.py) within a task is evaluated once and the result shared
        key = (task.id, code_identity(sample["code"]))
        future = self._by_code.get(key)
        if future is None:
            future = self.evaluator.submit(self._request(task, sample))
            self._by_code[key] = future
        self._futures.append(future)
        future.add_done_callback(
            lambda f, task=task, sid=sample_id, i=idx, s=sample.get("surprisal"), code=sample["code"]:
            self._finish(task, sid, i, s, self._result_of(f), code)
        )

    def _result_of(self, future: Future) -> dict | None:
        """The evaluation's result, or None when there is no verdict: the
        evaluation was cancelled or cut off by an interruption, or the
        evaluator itself failed. Such a sample stays pending for resume;
        none of that is the candidate's doing."""
        try:
            return future.result()
        except CancelledError:
            return None
        except Exception as exc:  # noqa: BLE001 - an evaluator fault is not the candidate's verdict
            if not self._discard.is_set() and not _is_abort(exc):
                log.warning("evaluator failed on a sample: %s: %s", type(exc).__name__, exc, exc_info=True)
                with self._lock:
                    self._evaluator_errors.append(f"{type(exc).__name__}: {exc}")
            return None

    def _finish(self, task: Task, sample_id: int, idx: int, surprisal, result: dict | None,
                code: str | None) -> None:
        """Store one verdict. Runs in the evaluator's callback threads, where an exception would be
        swallowed: whatever happens, the sample is settled, or the run would wait for it forever."""
        stored = False
        try:
            stored = self._store_verdict(task, sample_id, idx, surprisal, result, code)
        except Exception as exc:  # noqa: BLE001 - the sample stays pending; the run ends failed, resumable
            log.error("the verdict of sample %s (%s) was not stored: %s: %s", sample_id, task.id,
                      type(exc).__name__, exc, exc_info=True)
            with self._lock:
                self._evaluator_errors.append(f"storing a verdict failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._pending_per_task[task.id] -= 1
                self._settled.notify_all()
                done = stored and self._pending_per_task[task.id] == 0 and self._generated.get(task.id, False)
        if done:
            self._task_finished(task.id)

    def _store_verdict(self, task: Task, sample_id: int, idx: int, surprisal, result: dict | None,
                       code: str | None) -> bool:
        if result is None or (self._discard.is_set() and result.get("outcome") != "no_code"):
            # No verdict, or one that finished while the run was being
            # interrupted (its children may have been killed under it): the
            # sample stays pending and is evaluated again on resume.
            return False
        result = dict(result)
        if self._budget is not None and self._budget.role(task.id, sample_id):
            result["budget"] = self._budget.describe(task.id, sample_id)
            if result["budget"]["role"] == "audit":
                result["flags"] = [*(result.get("flags") or []), "audit"]
        try:
            result["flags"] = review_flags(task.reference_src, code, result)
        except Exception:  # noqa: BLE001 - a review is advice; the verdict is stored without it
            log.warning("review of sample %s failed; its verdict is stored without sgs's own flags", sample_id,
                        exc_info=True)
        self.store.finish_evaluation(sample_id, self.run_id, task.id, result)
        self.emit(ev.EvalFinished(self.run_id, task.id, idx, sample_id, result.get("outcome"),
                                  result.get("speedup"), result.get("error"), surprisal))
        if self._budget is not None:  # the next evaluations of the task, before this one stops counting
            self._dispatch(task.id, self._budget.record(task.id, sample_id, result.get("outcome") == "correct"))
        return True

    def _task_finished(self, task_id: str) -> None:
        cands = self.store.candidates(self.run_id, task_id)
        self.emit(ev.TaskFinished(self.run_id, task_id, len(cands), sum(c.correct for c in cands)))

    # -- generation -------------------------------------------------------
    def _generate_task(self, task: Task) -> None:
        from .prompts import build_prompt, extract

        have = self.store.sample_count(self.run_id, task.id)
        missing = self.config.k - have
        if missing <= 0 or self.run["kind"] != "search":
            return
        prompt = build_prompt(task, self.config.prompt_style)
        params = self.config.sampling
        params = SamplingParams(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k,
                                max_tokens=params.max_tokens, seed=sample_seed(self.config.seed, task.id, have))
        idx = have
        device = getattr(self.backend.capabilities, "local_device", None)
        local = device is not None
        if device == "cpu":
            # A model and evaluation workers sharing a few CPU cores slow each
            # other down many times over (thread spin-waits): on the CPU the
            # previous task's evaluations finish before the next task samples.
            self._wait_for_evaluations()
        with self._generation_guard():
            self.progress.generating(task.id, have, self.config.k)

            def progress(p, task_id=task.id, have=have):
                self.progress.tokens(p.tokens)  # for the app in another process: tokens/s while a local model writes
                self.emit(ev.GenerationProgress(self.run_id, task_id, have + p.samples_done, have + p.samples_total,
                                                p.tokens, p.tokens_per_s))
            stream = generate(self.backend, prompt, missing, params, progress)
            for generation in stream:
                if self._stop.is_set():
                    break
                extraction = extract(generation.text, task, self.config.prompt_style)
                sample_id = self.store.add_sample(
                    self.run_id, task.id, idx, generation, code=extraction.code, code_kind=extraction.kind,
                    code_start=extraction.start, code_end=extraction.end, extraction_error=extraction.error,
                    logprob_mode=self.backend.logprob_mode,
                )
                surprisal = self.store.get_sample(sample_id)["surprisal"]
                self.emit(ev.SampleGenerated(self.run_id, task.id, idx, sample_id, generation.n_tokens, surprisal,
                                             extraction.code is not None))
                self._pending_samples.append({
                    "id": sample_id, "task_id": task.id, "sample_idx": idx, "code": extraction.code,
                    "code_kind": extraction.kind, "surprisal": surprisal, "extraction_error": extraction.error,
                })
                idx += 1
                self.progress.sample_done(task.id, idx, self.config.k, generation.n_tokens)
                if not local:
                    self._flush_pending()  # a remote model: evaluate while it keeps sampling
        self.progress.generated(task.id)
        # evaluations are submitted after the guard is released, so correctness
        # checks and timings never compete with a local model for the device
        self._flush_pending()
        if self._budget is not None:
            self._start_budget(task.id)

    def _wait_for_evaluations(self) -> None:
        """Until every submitted evaluation is settled: its future done and
        its result stored (a future's result() returns before its callbacks
        have run)."""
        for future in list(self._futures):
            try:
                future.result()
            except Exception:  # noqa: BLE001 - _result_of records an evaluator failure for the run
                log.debug("an evaluation ended in an error", exc_info=True)
        with self._settled:
            self._settled.wait_for(lambda: all(n <= 0 for n in self._pending_per_task.values()))

    def _flush_pending(self) -> None:
        while self._pending_samples:
            sample = self._pending_samples.pop(0)
            if self._budget is not None and sample.get("code"):
                continue  # ranked and submitted by the budget once the task's samples all exist
            self._submit(sample)

    # -- surprisal budget (core/budget.py) --------------------------------
    def _start_budget(self, task_id: str) -> None:
        rows = {s["id"]: s for s in self.store.samples(self.run_id, task_id)}
        with self._lock:
            self._budget_rows[task_id] = rows
        self._dispatch(task_id, self._budget.start(task_id, self.store.candidates(self.run_id, task_id)))

    def _dispatch(self, task_id: str, actions) -> None:
        from .budget import skipped_result

        rows = self._budget_rows[task_id]
        for action in actions:
            sample = rows[action.sample_id]
            if action.kind == "evaluate":
                self._submit(sample)
                continue
            with self._lock:
                self._pending_per_task[task_id] = self._pending_per_task.get(task_id, 0) + 1
            self._finish(self.tasks[task_id], sample["id"], sample["sample_idx"], sample.get("surprisal"),
                         skipped_result(action), None)

    # -- main loop --------------------------------------------------------
    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.store.heartbeat(self.run_id)
            except Exception:  # noqa: BLE001
                log.warning("heartbeat of run %s not written", self.run_id, exc_info=True)

    def run_to_end(self) -> str:
        self._generated: dict[str, bool] = {}
        self._pending_samples: list[dict] = []
        self.progress.session_started()
        self.store.set_run_status(self.run_id, "running")
        self.emit(ev.RunStarted(self.run_id, tuple(self.tasks), self.config.k))
        self._heartbeat = threading.Thread(target=self._beat, name="sgs-heartbeat", daemon=True)
        self._heartbeat.start()
        status, error = "finished", None
        self._previous_handlers = install_sigterm()
        try:
            # Verdicts an older sgs stored for evaluations an interruption cut
            # off ("evaluator failed: CancelledError") were never the
            # candidates': they are evaluated again, with those cut off now.
            self.store.reopen_evaluator_failures(self.run_id)
            # evaluations cut off by an interruption come first
            leftovers = self.store.samples_to_evaluate(self.run_id)
            full = {s["id"]: s for s in leftovers}
            for s in leftovers:
                row = self.store.get_sample(s["id"])
                full[s["id"]]["extraction_error"] = row["extraction_error"]
            for task_id in self.tasks:
                self._generated[task_id] = self.run["kind"] != "search" or \
                    self.store.sample_count(self.run_id, task_id) >= self.config.k
            for s in full.values():
                if self._budget is None or not s.get("code"):
                    self._submit(s)
            if self._budget is not None:  # tasks whose samples all exist resume under their budget
                for task_id in self.tasks:
                    if self._generated[task_id]:
                        self._start_budget(task_id)
            for task_id, task in self.tasks.items():
                if self._stop.is_set():
                    break
                if not self._generated[task_id]:
                    self._generate_task(task)
                    with self._lock:
                        self._generated[task_id] = True
                        nothing_pending = self._pending_per_task.get(task_id, 0) == 0
                    if nothing_pending:
                        self._task_finished(task_id)
            self._wait_for_evaluations()
            if self._evaluator_errors:
                n = len(self._evaluator_errors)
                status = "failed"
                error = (f"the evaluator failed on {n} evaluation{'s' if n != 1 else ''} "
                         f"(first: {self._evaluator_errors[0]}); they stay pending: resume the run to retry them")
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user"
        except Exception as exc:  # noqa: BLE001 - recorded, then re-raised to the caller
            log.info("run %s failed", self.run_id, exc_info=True)  # the caller reports it
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            self._close(status, error)
            raise
        self._close(status, error)
        return status

    def _close(self, status: str, error: str | None) -> None:
        if status != "finished":
            # From here on, results that come in are not stored (see _finish).
            self._discard.set()
        self._stop.set()
        previous = getattr(self, "_previous_handlers", None) or {}
        with _signals_held(previous):
            if self._own_evaluator and self._evaluator is not None:
                try:
                    if status == "finished":
                        self._evaluator.close()
                    else:
                        # Unfinished evaluations end now and stay pending: their
                        # children are killed, nothing they report is a verdict.
                        self._evaluator.abort()
                except Exception:  # noqa: BLE001 - the run's outcome is already decided
                    log.warning("evaluator did not close cleanly", exc_info=True)
            self.store.set_run_status(self.run_id, status, error)
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)  # the caller's handler again once the run is over
        self.emit(ev.RunFinished(self.run_id, status, error))


@contextlib.contextmanager
def _signals_held(signals: dict):
    """A second Ctrl-C or SIGTERM while the run closes must not cut the
    closing short (the run's status would stay 'running')."""
    held = {}
    if threading.current_thread() is threading.main_thread():
        for sig in set(signals) | {signal.SIGINT}:
            with contextlib.suppress(ValueError, OSError):
                held[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in held.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)


def _is_abort(exc: BaseException) -> bool:
    return type(exc).__name__ == "EvaluationAborted"


def install_sigterm():
    """SIGTERM (a closed SSH session's hangup, `kill`) raises KeyboardInterrupt in the main thread, so a run
    or a training run ends as interrupted, not failed. Returns the handlers it replaced (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGTERM,):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, handler)
    return previous


def run_search(store: Store, config: RunConfig, tasks: list[Task], *, backend: Backend | None = None,
               sinks: Iterable[ev.EventSink] = (), evaluator=None) -> int:
    """Create a run and drive it to the end; returns the run id."""
    run_id = create_run(store, config, tasks, backend=backend)
    Engine(store, run_id, backend=backend, sinks=sinks, evaluator=evaluator).run_to_end()
    return run_id


__all__ = ["Engine", "EvalOptions", "RunConfig", "create_run", "effective_status", "run_search", "versions"]
