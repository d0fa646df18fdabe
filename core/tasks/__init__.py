"""Task sources and task lookup.

Sources (registered in TASK_SOURCES): ``builtin`` (files shipped in
``sgs.core.tasks.builtin``), ``kernelbench`` (a KernelBench checkout folder,
``--kernelbench PATH`` or ``$SGS_KERNELBENCH``) and ``hf-dataset`` (rows of
ScalingIntelligence/KernelBench, from a local JSON-lines file or the Hub).

Task files are parsed with `ast` only, never imported. `scan_tasks` is the
lenient listing (`sgs tasks` uses it): it skips broken files and returns
``(tasks, errors)``, each error one line naming the file and the fault.
`list_tasks` is the strict form: it raises the first `TaskError`. A broken
file fails `resolve_tasks` only when a spec asks for that task.

Ids: ``builtin/<name>`` and ``L<level>/<problem_id>``. When both a KernelBench
folder and dataset rows provide the same id, the folder's task is used.
Order: built-in tasks first (by name), then by level and problem id.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from ..registry import Registry, UnknownName
from ..types import Task, TaskError
from .parse import BrokenTask, forward_argument_names, forward_signature


def _builtin():
    from .builtin_source import BuiltinSource

    return lambda *, kernelbench, dataset_file, requested: BuiltinSource()


def _kernelbench():
    from .kernelbench_source import KernelBenchSource, kernelbench_root

    def open_source(*, kernelbench, dataset_file, requested):
        root = kernelbench_root(kernelbench)
        if root is None:
            if requested:
                raise TaskError(
                    "no KernelBench folder: pass --kernelbench PATH or set SGS_KERNELBENCH")
            return None
        return KernelBenchSource(root)

    return open_source


def _hf_dataset():
    from .hf_dataset_source import HFDatasetSource

    def open_source(*, kernelbench, dataset_file, requested):
        # Without a local file the rows come from the Hub: only when asked for.
        if dataset_file is None and not requested:
            return None
        return HFDatasetSource(dataset_file)

    return open_source


# Each entry loads an opener: (kernelbench=, dataset_file=, requested=) ->
# a TaskSource, or None when the source is not configured.
TASK_SOURCES: Registry = Registry("task source")
TASK_SOURCES.register("builtin", _builtin)
TASK_SOURCES.register("kernelbench", _kernelbench)
TASK_SOURCES.register("hf-dataset", _hf_dataset)


def _sort_key(task: Task) -> tuple:
    builtin = task.source == "builtin"
    return (0 if builtin else 1, task.level or 0, task.problem_id or 0, task.name, task.id)


def _open_sources(kernelbench, dataset_file, source):
    if source is not None and source not in TASK_SOURCES:
        raise TaskError(f"unknown task source {source!r}; known: {', '.join(TASK_SOURCES.names())}")
    names = [source] if source else TASK_SOURCES.names()
    opened = []
    for name in names:
        try:
            opener = TASK_SOURCES.get(name)
        except UnknownName as e:  # pragma: no cover - names come from the registry
            raise TaskError(str(e)) from None
        src = opener(kernelbench=kernelbench, dataset_file=dataset_file, requested=name == source)
        if src is not None:
            opened.append(src)
    # The KernelBench folder wins over dataset rows for the same id.
    priority = {"builtin": 0, "kernelbench": 1, "hf-dataset": 2}
    opened.sort(key=lambda s: priority.get(s.name, 3))
    return opened


def scan_tasks(kernelbench: str | None = None, dataset_file: str | None = None,
               source: str | None = None, level: int | None = None,
               name_filter: str | None = None) -> tuple[list[Task], list[TaskError]]:
    """Lenient listing: usable tasks plus one TaskError per broken file.

    Raises TaskError only when a source as a whole is unusable (missing
    folder, unknown source name, unreadable dataset file).
    """
    seen: set[str] = set()
    tasks: list[Task] = []
    errors: list[TaskError] = []
    for src in _open_sources(kernelbench, dataset_file, source):
        found, broken = src.scan()
        errors += broken
        for task in found:
            if task.id not in seen:
                seen.add(task.id)
                tasks.append(task)
    if level is not None:
        # A level filter selects KernelBench levels; built-in tasks have none.
        tasks = [t for t in tasks if t.level == level]
        errors = [e for e in errors if _error_level(e) in (None, level)]
    if name_filter:
        needle = name_filter.lower()
        tasks = [t for t in tasks if needle in t.name.lower() or needle in t.id.lower()]
        # a broken file the filter would not have listed concerns nobody here
        errors = [e for e in errors if _error_matches(e, needle)]
    tasks.sort(key=_sort_key)
    return tasks, errors


def _error_matches(error: TaskError, needle: str) -> bool:
    task_id = getattr(error, "task_id", None) or ""
    path = getattr(error, "path", None)
    if not task_id and not path:
        return True  # not tied to one file: always worth reporting
    name = path.replace("\\", "/").rsplit("/", 1)[-1] if path else ""
    return needle in task_id.lower() or needle in name.lower()


def _error_level(error: TaskError) -> int | None:
    task_id = getattr(error, "task_id", None)
    if task_id and task_id.startswith("L") and "/" in task_id:
        try:
            return int(task_id[1:task_id.index("/")])
        except ValueError:
            return None
    return None


def list_tasks(kernelbench: str | None = None, dataset_file: str | None = None,
               source: str | None = None, level: int | None = None,
               name_filter: str | None = None) -> list[Task]:
    """All tasks of the configured sources, sorted; raises TaskError on a broken file."""
    tasks, errors = scan_tasks(kernelbench, dataset_file, source, level, name_filter)
    if errors:
        raise errors[0]
    return tasks


def _unknown(task_id: str, kernelbench: str | None) -> TaskError:
    from .kernelbench_source import kernelbench_root

    if task_id.startswith("L") and kernelbench_root(kernelbench) is None:
        hint = "no KernelBench folder given (pass --kernelbench PATH or set SGS_KERNELBENCH)"
    else:
        hint = "ids look like builtin/relu or L1/19"
    return TaskError(f"unknown task {task_id!r}; {hint}")


def get_task(task_id: str, kernelbench: str | None = None,
             dataset_file: str | None = None) -> Task:
    """The task with this id; TaskError (one line) if unknown or its file is broken."""
    return resolve_tasks([task_id], kernelbench, dataset_file)[0]


def resolve_tasks(specs: list[str], kernelbench: str | None = None,
                  dataset_file: str | None = None) -> list[Task]:
    """Tasks for ids and globs ('builtin/*', 'L1/*', 'L2/1?'), in spec order, without repeats.

    A spec that matches nothing, or matches a broken file, raises TaskError.
    """
    tasks, errors = scan_tasks(kernelbench, dataset_file)
    by_id = {t.id: t for t in tasks}
    broken = {e.task_id: e for e in errors if isinstance(e, BrokenTask) and e.task_id}
    chosen: list[Task] = []
    seen: set[str] = set()
    for spec in specs:
        spec = spec.strip()
        if any(c in spec for c in "*?["):
            for task_id, error in broken.items():
                if fnmatchcase(task_id, spec):
                    raise error
            matched = [t for t in tasks if fnmatchcase(t.id, spec)]
            if not matched:
                raise TaskError(f"no task matches {spec!r}")
        elif spec in by_id:
            matched = [by_id[spec]]
        elif spec in broken:
            raise broken[spec]
        else:
            raise _unknown(spec, kernelbench)
        for task in matched:
            if task.id not in seen:
                seen.add(task.id)
                chosen.append(task)
    return chosen


__all__ = [
    "TASK_SOURCES", "Task", "TaskError", "BrokenTask", "list_tasks", "scan_tasks",
    "get_task", "resolve_tasks", "forward_signature", "forward_argument_names",
]
