"""Turn replayed samples into a run, and score samples that came without logprobs.

A replay run is evaluated and ranked like any other; samples imported without
logprobs get their surprisal from a model the user names, and the run
records which model scored them. A record that carries the program its source
evaluated keeps that program, byte for byte: the prompt style only says how the
reply is read for its span and later scored, never what gets evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .backends import Backend
from .engine import RunConfig, create_run
from .errors import UserInputError
from .prompts import build_prompt, extract
from .prompts.reply import code_kind
from .replay import ReplayFile
from .store import Store
from .tasks import get_task
from .types import Generation, Task


@dataclass
class ImportReport:
    run_id: int
    n_samples: int
    n_tasks: int
    errors: list[str]


def _fenced(code: str) -> str:
    """How a model would have written a code-only sample; scoring sees a realistic reply."""
    return f"```python\n{code.rstrip()}\n```"


def _code_span(text: str, code: str, extraction) -> tuple[int | None, int | None]:
    """Where the record's program sits in its reply: verbatim, else where the reply's code
    was read from, else nowhere (e.g. a forward body read in the kernel style)."""
    at = text.find(code.rstrip())
    if at >= 0:
        return at, at + len(code.rstrip())
    return (extraction.start, extraction.end) if extraction.ok else (None, None)


def import_replay(store: Store, replay: ReplayFile, *, name: str | None = None, style: str | None = None,
                  kernelbench: str | None = None, dataset_file: str | None = None, source_label: str = "replay",
                  eval_options=None) -> ImportReport:
    """Create a replay run holding every record of `replay`; returns its id and the lines skipped.

    `style` defaults to the one the format implies, else `kernel`.
    """
    style = style or replay.prompt_style or "kernel"
    errors = list(replay.errors)
    tasks: dict[str, Task] = {}
    by_task: dict[str, list] = {}
    for rec in replay.records:
        if rec.task_id not in tasks:
            try:
                tasks[rec.task_id] = get_task(rec.task_id, kernelbench=kernelbench, dataset_file=dataset_file)
            except Exception as exc:  # noqa: BLE001 - an unknown task costs its lines only
                where = f"line {rec.line}: " if rec.line else ""
                errors.append(f"{where}{exc}")
                continue
        by_task.setdefault(rec.task_id, []).append(rec)
    if not by_task:
        raise UserInputError("nothing to import: no record names a known task" +
                             (f" ({errors[0]})" if errors else ""))
    k = max(len(recs) for recs in by_task.values())
    config = RunConfig(task_ids=list(by_task), k=k, backend="replay", model=source_label, prompt_style=style,
                       name=name)
    if eval_options is not None:
        config.eval = eval_options
    has_logprobs = all(r.logprobs is not None for recs in by_task.values() for r in recs)
    run_id = create_run(store, config, [tasks[t] for t in by_task], kind="replay",
                        logprob_mode="raw" if has_logprobs else None)
    n = 0
    for task_id, recs in by_task.items():
        task = tasks[task_id]
        used: set[int] = {r.sample_idx for r in recs if r.sample_idx is not None}
        next_idx = 0
        for rec in recs:
            idx = rec.sample_idx
            if idx is None:
                while next_idx in used:
                    next_idx += 1
                idx, next_idx = next_idx, next_idx + 1
                used.add(idx)
            text = rec.text if rec.text != rec.code or rec.code is None else _fenced(rec.code)
            extraction = extract(text, task, style)
            code, kind, error = extraction.code, extraction.kind, extraction.error
            start, end = extraction.start, extraction.end
            if rec.code:  # the program the source evaluated
                code, kind, error = rec.code, code_kind(rec.code), None
                start, end = _code_span(text, rec.code, extraction)
            elif rec.code == "":
                code, error = None, error or "no code in record"
            generation = Generation(text=text, tokens=rec.tokens or [], logprobs=rec.logprobs)
            store.add_sample(run_id, task_id, idx, generation, code=code, code_kind=kind,
                             code_start=start, code_end=end, extraction_error=error,
                             logprob_mode="raw", scorer="source", note=(rec.extra or {}).get("note"))
            n += 1
    return ImportReport(run_id=run_id, n_samples=n, n_tasks=len(by_task), errors=errors)


def score_run(store: Store, run_id: int, backend: Backend, *, only_missing: bool = True,
              progress: Callable[[int, int], None] | None = None) -> int:
    """Score samples with `backend` (label 'backend/model'); unscored samples take it as their surprisal."""
    if not backend.capabilities.scoring:
        raise UserInputError(f"backend {backend.name} cannot score text")
    run = store.get_run(run_id)
    tasks = {t.id: t for t in store.run_tasks(run_id)}
    scorer = f"{backend.name}/{backend.model}"
    todo = [s for s in store.samples(run_id) if not (only_missing and s["surprisal"] is not None)]
    by_task: dict[str, list[dict]] = {}
    for s in todo:
        by_task.setdefault(s["task_id"], []).append(store.get_sample(s["id"]))
    done = 0
    for task_id, samples in by_task.items():
        prompt = build_prompt(tasks[task_id], run["prompt_style"] or "kernel")
        texts = [s["raw_text"] for s in samples]
        # one prompt prefill per task where the backend can share it
        many = getattr(backend, "score_many", None)
        generations = many(prompt, texts) if many else [backend.score(prompt, t) for t in texts]
        for sample, generation in zip(samples, generations):
            generation.offsets = _offsets_in(sample["raw_text"], generation)
            store.add_score(sample["id"], scorer, backend.logprob_mode, generation,
                            as_primary=sample["surprisal"] is None)
            done += 1
            if progress:
                progress(done, len(todo))
    if todo:
        store.record_scorer(run_id, scorer, backend.logprob_mode)
    return len(todo)


def _offsets_in(text: str, generation: Generation) -> list[int] | None:
    """Token offsets in the stored text (a scorer's decoding may differ slightly from it)."""
    if generation.offsets is not None and generation.text == text:
        return generation.offsets
    offsets, pos = [], 0
    for tok in generation.tokens:
        found = text.find(tok, pos) if tok else -1
        offsets.append(found if found >= 0 else pos)
        pos = found + len(tok) if found >= 0 else pos
    return offsets if generation.tokens else None
