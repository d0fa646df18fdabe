"""What the screens show, read from the store: plain data, no textual.

Every function here blocks on SQLite, so the screens call them from thread
workers only. One `DataSource` is shared by the app's workers; its lock keeps
them from interleaving on the one connection. All reads go through the
store's query methods: this package holds no SQL (tests/tui/test_layering.py).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sgs.core.engine import effective_status
from sgs.core.launch import log_tail, start_failure
from sgs.core.review import needs_review
from sgs.core.selection import DEFAULT_ORDER
from sgs.core.selection.picks import picks_by_sample, picks_by_strategy
from sgs.core.statistics import expert_tail
from sgs.core.store import Candidate, Store
from sgs.core.types import Task

from .clock import Clock

SORT_KEYS = ("surprisal", "mean_nll", "speedup", "index")


class DataSource:
    def __init__(self, db_path: str | Path, clock: Clock | None = None):
        self.path = Path(db_path)
        self.clock = clock or Clock()
        self.store = Store(self.path, access="edit" if self.path.exists() else "write")  # never migrates one
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self.store.close()

    def _call(self, method: str, *args):
        with self._lock:
            return getattr(self.store, method)(*args)

    # -- runs -------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run with its effective status, progress row, elapsed time and oracle fast_1 so far."""
        with self._lock:
            rows = self.store.list_runs()
            fast = self.store.oracle_fast_task_counts()
            progress = self.store.all_run_progress()
        now_ts = self.clock.timestamp()
        for row in rows:
            self._describe(row, progress.get(row["id"]), now_ts)
            row["n_fast_tasks"] = fast.get(row["id"], 0)
            row["oracle_fast_1"] = row["n_fast_tasks"] / row["n_tasks"] if row["n_tasks"] else None
            # a replay run holds what was imported (tasks may have fewer than K)
            row["n_expected"] = (row["n_samples"] if row.get("kind") == "replay"
                                 else (row["n_tasks"] or 0) * (row["k"] or 0))
        return rows

    def _describe(self, row: dict, progress: dict | None, now_ts: float) -> dict:
        row["effective_status"] = effective_status(row, now_ts)
        row["progress"] = progress
        row["earlier_s"] = (progress or {}).get("earlier_s") or 0.0
        row["start_failure"] = start_failure(row, progress)
        row["display_status"] = "failed to start" if row["start_failure"] else row["effective_status"]
        # a created run whose process is at work says what it does
        label = row["display_status"]
        if label == "created" and progress:
            label = "loading model" if progress.get("phase") == "loading_model" else "starting"
        row["status_label"] = label
        return row

    def run(self, run_id: int) -> dict:
        with self._lock:
            row = self.store.get_run(run_id)
            progress = self.store.run_progress(run_id)
        return self._describe(row, progress, self.clock.timestamp())

    def run_ids(self) -> set[int]:
        return set(self._call("run_ids"))

    def launch_log(self, run: dict, lines: int = 10) -> tuple[str | None, list[str]]:
        """(log path, its last lines) of a run started in the background."""
        from sgs.core.launch import log_path_for

        path = (run.get("progress") or {}).get("log_path")
        if not path:
            candidate = log_path_for(self.path, run["id"], create=False)
            path = str(candidate) if candidate.exists() else None
        return path, log_tail(path, lines)

    def delete_run(self, run_id: int) -> None:
        with self._lock:
            row = self.store.get_run(run_id)
            if effective_status(row, self.clock.timestamp()) == "running":
                raise RuntimeError(f"run {run_id} is running (pid {row.get('pid')}); it cannot be deleted now")
            self.store.delete_run(run_id)

    def running_runs(self) -> list[dict]:
        return [r for r in self.runs() if r["effective_status"] == "running"]

    # -- tasks and candidates --------------------------------------------
    def task_progress(self, run_id: int) -> list[dict]:
        return self._call("task_progress", run_id)

    def tasks(self, run_id: int) -> list[Task]:
        return self._call("run_tasks", run_id)

    def task(self, run_id: int, task_id: str) -> Task:
        for task in self.tasks(run_id):
            if task.id == task_id:
                return task
        raise LookupError(f"run {run_id} has no task {task_id!r}")

    def candidates(self, run_id: int, task_id: str | None = None) -> list[Candidate]:
        return self._call("candidates", run_id, task_id)

    def candidates_by_task(self, run_id: int) -> dict[str, list[Candidate]]:
        with self._lock:
            out: dict[str, list[Candidate]] = {t.id: [] for t in self.store.run_tasks(run_id)}
            for cand in self.store.candidates(run_id):
                out.setdefault(cand.task_id, []).append(cand)
        return out

    def top3_picks(self, run_id: int, task_ids, rank_by: str = "surprisal") -> dict[str, Candidate | None]:
        """Each task's surprisal-top3 pick (None while the task has no correct sample)."""
        from sgs.core.selection import STRATEGIES

        task_ids = list(task_ids)
        if len(task_ids) > 8:  # many tasks at once (a run just opened): one query for the whole run
            by_task: dict[str, list[Candidate]] = {t: [] for t in task_ids}
            for cand in self.candidates(run_id):
                if cand.task_id in by_task:
                    by_task[cand.task_id].append(cand)
        else:
            by_task = {t: self.candidates(run_id, t) for t in task_ids}
        top3 = STRATEGIES.get("surprisal-top3")
        out = {}
        for task_id, cands in by_task.items():
            pick = top3.pick(cands, rank_by)
            out[task_id] = pick[0][0] if pick else None
        return out

    def sample(self, sample_id: int) -> dict:
        return self._call("get_sample", sample_id)

    def scores(self, sample_id: int) -> list[dict]:
        """The sample's per-token logprobs, one entry per scorer."""
        return self._call("scores", sample_id)

    def jump_targets(self) -> list[dict]:
        """Runs and their tasks, for the command palette's jump commands."""
        with self._lock:
            runs = self.store.list_runs()
            out = []
            for run in runs:
                out.append({"run_id": run["id"], "name": run["name"], "status": run["status"], "task_id": None})
                for task in self.store.run_tasks(run["id"]):
                    out.append({"run_id": run["id"], "name": run["name"], "task_id": task.id,
                                "task_name": task.name})
        return out


# -- the candidates table ---------------------------------------------------
@dataclass
class CandidateRow:
    rank: int
    cand: Candidate
    tail: bool
    picked_by: list[str]
    flagged: bool


@dataclass
class TaskSummary:
    n_samples: int
    n_correct: int
    n_evaluated: int
    tail: set[int]
    picks: dict[str, int]                 # strategy -> sample_idx
    flagged_picks: list[str]              # strategies whose pick is held for review
    picks_unflagged: dict[str, int]       # the picks once flagged samples are set aside
    by_idx: dict[int, Candidate] = field(default_factory=dict)

    def speedup_of(self, idx: int | None) -> float | None:
        cand = self.by_idx.get(idx) if idx is not None else None
        return cand.speedup if cand else None


def summarise(cands: list[Candidate], rank_by: str = "surprisal") -> TaskSummary:
    picks = picks_by_strategy(cands, rank_by)
    by_idx = {c.sample_idx: c for c in cands}
    flagged = [name for name in DEFAULT_ORDER if name in picks and needs_review(by_idx[picks[name]].flags)]
    clean = [c for c in cands if not (c.correct and needs_review(c.flags))]
    return TaskSummary(
        n_samples=len(cands), n_correct=sum(c.correct for c in cands),
        n_evaluated=sum(c.outcome is not None for c in cands), tail=expert_tail(cands, rank_by),
        picks=picks, flagged_picks=flagged, picks_unflagged=picks_by_strategy(clean, rank_by), by_idx=by_idx,
    )


def sort_value(cand: Candidate, key: str):
    if key == "index":
        return cand.sample_idx
    return getattr(cand, key)


def candidate_rows(cands: list[Candidate], *, rank_by: str = "surprisal", sort_key: str = "surprisal",
                   descending: bool | None = None, correct_only: bool = False,
                   hide_flagged: bool = False) -> list[CandidateRow]:
    """The rows of a task's table: sorted, filtered, each marked with tail, picks and review flag.

    Tail and picks always describe the whole task, whatever is filtered out,
    except that hiding flagged samples re-picks among the rest (that is what
    "the table without them" means).
    """
    if sort_key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort_key!r}; use one of {', '.join(SORT_KEYS)}")
    if descending is None:
        descending = sort_key != "index"
    shown = [c for c in cands if not (hide_flagged and c.correct and needs_review(c.flags))]
    tail = expert_tail(cands, rank_by)
    picks = picks_by_sample(shown, rank_by)
    with_value = [c for c in shown if sort_value(c, sort_key) is not None]
    without = [c for c in shown if sort_value(c, sort_key) is None]
    with_value.sort(key=lambda c: (sort_value(c, sort_key), -c.sample_idx if descending else c.sample_idx),
                    reverse=descending)
    ordered = with_value + sorted(without, key=lambda c: c.sample_idx)
    if correct_only:
        ordered = [c for c in ordered if c.correct]
    return [CandidateRow(rank=i, cand=c, tail=c.sample_idx in tail, picked_by=picks.get(c.sample_idx, []),
                         flagged=needs_review(c.flags)) for i, c in enumerate(ordered, 1)]


# -- the live feed ----------------------------------------------------------
@dataclass
class FeedLine:
    ts: str
    kind: str                      # "sampled" or "evaluated"
    task_id: str
    sample_idx: int
    surprisal: float | None = None
    n_tokens: int | None = None
    outcome: str | None = None
    speedup: float | None = None
    error: str | None = None
    flagged: bool = False


@dataclass
class Throughput:
    samples_per_min: float | None
    evals_per_min: float | None
    tokens_per_s: float | None
    window_s: float


@dataclass
class LaunchFailure:
    error: str                     # one line
    log_path: str | None
    log_tail: list[str]


@dataclass
class FeedUpdate:
    run: dict
    progress: list[dict]
    lines: list[FeedLine]
    dropped: int                   # events not shown as lines (a burst larger than the cap)
    throughput: Throughput
    hardware: str | None
    changed: bool
    failure: LaunchFailure | None = None
    top3: dict = field(default_factory=dict)   # task id -> its surprisal-top3 pick (tasks whose evaluations changed)


class LiveFeed:
    """Follows one run from SQLite alone: each poll returns what is new since the last.

    Samples are followed by id (they are only ever inserted); evaluations by
    finished_at, with the ids already seen at the newest timestamp remembered
    so that two finishing in the same millisecond are neither lost nor repeated.
    """

    WINDOW_S = 60.0

    def __init__(self, source: DataSource, run_id: int, *, backlog: int = 60, max_lines: int = 500):
        self.source = source
        self.run_id = run_id
        self.backlog = backlog
        self.max_lines = max_lines
        self.last_sample_id: int | None = None
        self.last_eval_ts = ""
        self.seen_at_last_ts: set[int] = set()
        self._last_progress_key = None
        self._hardware: str | None = None
        self._evaluated: dict[str, int] = {}
        self._progress: list[dict] = []
        self._rank_by = "surprisal"

    def _new_samples(self) -> list[dict]:
        store = self.source
        if self.last_sample_id is None:
            rows = store._call("latest_samples", self.run_id, self.backlog)
            self.last_sample_id = store._call("newest_sample_id", self.run_id)
            return rows
        rows = store._call("samples_after", self.run_id, self.last_sample_id)
        if rows:
            self.last_sample_id = rows[-1]["id"]
        return rows

    def _new_evaluations(self) -> list[dict]:
        store = self.source
        if not self.last_eval_ts:
            rows = store._call("latest_evaluations", self.run_id, self.backlog)
            top = store._call("newest_evaluation_time", self.run_id)
            if top:
                self.last_eval_ts = top
                self.seen_at_last_ts = store._call("evaluation_ids_finished_at", self.run_id, top)
            else:
                self.last_eval_ts = " "  # followed from the start: every timestamp sorts after a space
            return rows
        rows = store._call("evaluations_since", self.run_id, self.last_eval_ts)
        rows = [r for r in rows if not (r["finished_at"] == self.last_eval_ts and r["id"] in self.seen_at_last_ts)]
        if rows:
            newest = rows[-1]["finished_at"]
            if newest != self.last_eval_ts:
                self.seen_at_last_ts = set()
            self.last_eval_ts = newest
            self.seen_at_last_ts |= {r["id"] for r in rows if r["finished_at"] == newest}
        return rows

    def _throughput(self, run: dict) -> Throughput:
        from .fmt import parse_ts

        now = self.source.clock.now()
        if run["effective_status"] == "running":
            begin = now - timedelta(seconds=self.WINDOW_S)
            started = parse_ts(run.get("started_at"))
            if started is not None and started > begin:
                begin = started
            end = now
        else:
            begin = parse_ts(run.get("started_at") or run.get("created_at"))
            end = parse_ts(run.get("finished_at") or run.get("heartbeat_at")) or now
        window = max((end - begin).total_seconds(), 1e-9) if begin else 0.0
        if not begin or window < 1.0:
            return Throughput(None, None, None, window)
        act = self.source._call("activity_between", self.run_id, begin.isoformat(timespec="milliseconds"),
                                end.isoformat(timespec="milliseconds"))
        return Throughput(act["samples"] * 60 / window, act["evaluations"] * 60 / window, act["tokens"] / window,
                          window)

    def picks(self) -> dict[str, Candidate | None]:
        """The surprisal-top3 pick of each task whose evaluations changed since the last call."""
        stale = [p["task_id"] for p in self._progress if self._evaluated.get(p["task_id"]) != p["n_evaluated"]]
        if not stale:
            return {}
        top3 = self.source.top3_picks(self.run_id, stale, self._rank_by)
        self._evaluated.update({p["task_id"]: p["n_evaluated"] for p in self._progress})
        return top3

    def poll(self, with_picks: bool = True) -> FeedUpdate:
        """What is new; `with_picks=False` leaves the picks to `picks()` (the table can show first)."""
        run = self.source.run(self.run_id)
        samples = self._new_samples()
        evals = self._new_evaluations()
        lines = [FeedLine(ts=r["created_at"], kind="sampled", task_id=r["task_id"], sample_idx=r["sample_idx"],
                          surprisal=r["surprisal"], n_tokens=r["n_tokens"],
                          outcome="no_code" if r["no_code"] else None) for r in samples]
        for r in evals:
            lines.append(FeedLine(ts=r["finished_at"], kind="evaluated", task_id=r["task_id"],
                                  sample_idx=r["sample_idx"], surprisal=r["surprisal"], outcome=r["outcome"],
                                  speedup=r["speedup"], error=r["error"],
                                  flagged=r["outcome"] == "correct" and needs_review(r["flags"])))
            if r["hardware"]:
                self._hardware = r["hardware"]
        lines.sort(key=lambda line: (line.ts, line.kind != "sampled"))
        dropped = max(0, len(lines) - self.max_lines)
        if dropped:
            lines = lines[-self.max_lines:]
        key = (run["status"], run.get("heartbeat_at"), self.last_sample_id, self.last_eval_ts)
        changed = key != self._last_progress_key
        self._last_progress_key = key
        progress = self.source.task_progress(self.run_id) if changed else []
        if progress:
            self._progress = progress
        self._rank_by = run.get("rank_by") or "surprisal"
        top3 = self.picks() if with_picks else {}
        if self._hardware is None:
            self._hardware = self.source._call("latest_hardware", self.run_id)
        failure = None
        if run["start_failure"]:
            path, tail = self.source.launch_log(run)
            failure = LaunchFailure(run["start_failure"], path, tail)
        return FeedUpdate(run=run, progress=progress, lines=lines, dropped=dropped,
                          throughput=self._throughput(run), hardware=self._hardware or _provenance_hardware(run),
                          changed=changed, failure=failure, top3=top3)


def _provenance_hardware(run: dict) -> str | None:
    versions = (run.get("provenance") or {}).get("versions") or {}
    gpus = versions.get("gpus")
    if gpus:
        names = sorted(set(gpus))
        return ", ".join(f"{n} ×{gpus.count(n)}" for n in names)
    device = ((run.get("config") or {}).get("eval") or {}).get("device")
    cpu = versions.get("cpu")
    if device == "cpu" or not gpus:
        return f"CPU ({cpu}, {versions.get('cpu_count')} cores)" if cpu else None
    return None


def expert_tail_size(n_correct: int) -> int:
    return math.ceil(n_correct / 4)
