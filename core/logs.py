"""Logging: one `sgs` logger, one line per record on stderr, a file per run.

Modules log through `logging.getLogger(__name__)` (all under `sgs.`). The CLI
calls `configure(level)` once: records at `level` or above go to stderr as
``sgs: warning: ...`` (tracebacks only at debug level, so a swallowed error
never floods a terminal). A run also logs, with timestamps and tracebacks,
to ``sgs-logs/run-ID.log`` beside its database, where detached runs write
their output too (`sgs.core.launch.log_path_for` names the same file).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

LOGGER = "sgs"
LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "warning"
LOG_FOLDER = "sgs-logs"

log = logging.getLogger(LOGGER)


class _OneLine(logging.Formatter):
    """``sgs: LEVEL: message`` on one line; the traceback only when `tracebacks` is on."""

    def __init__(self, tracebacks: bool):
        super().__init__("sgs: %(levelname)s: %(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.levelname = record.levelname.lower()
        if not self.tracebacks:
            record.exc_info = None
            record.exc_text = None
            record.msg = " ".join(str(record.getMessage()).split("\n"))
            record.args = None
        return super().format(record)


_stderr_handler: logging.Handler | None = None


def level_number(level: str) -> int:
    return getattr(logging, level.upper())


def configure(level: str = DEFAULT_LEVEL, stream=None) -> None:
    """Send the `sgs` logger's records at `level` and above to stderr, one line each.

    Python warnings (e.g. the network file system warning) take the same path.
    Calling it again replaces the earlier set-up.
    """
    global _stderr_handler
    number = level_number(level)
    if _stderr_handler is not None:
        log.removeHandler(_stderr_handler)
    _stderr_handler = logging.StreamHandler(stream or sys.stderr)
    _stderr_handler.setFormatter(_OneLine(tracebacks=number <= logging.DEBUG))
    _stderr_handler.setLevel(number)
    log.addHandler(_stderr_handler)
    log.setLevel(min(number, logging.INFO))

    def show(message, category, filename, lineno, file=None, line=None):
        logging.getLogger(f"{LOGGER}.warnings").warning("%s", message)

    warnings.showwarning = show


def run_log_path(db: str | os.PathLike, run_id: int, *, create: bool = True) -> Path:
    """``sgs-logs/run-ID.log`` in the database's folder."""
    folder = Path(db).resolve().parent / LOG_FOLDER
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{run_id}.log"


def _stderr_is(path: Path) -> bool:
    """Whether stderr already writes into `path` (a detached run's log)."""
    try:
        return path.exists() and os.path.samestat(os.fstat(sys.stderr.fileno()), path.stat())
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def run_log(db: str | os.PathLike, run_id: int, level: str = DEFAULT_LEVEL):
    """Log the run to its file (info and above, or debug when asked) while the block runs.

    A detached run's stderr is already that file: then the stderr handler is
    opened up to the file's level instead of adding a second writer.
    """
    file_level = min(level_number(level), logging.INFO)
    try:
        path = run_log_path(db, run_id)
    except OSError as exc:
        log.warning("no log file for run %s: %s", run_id, exc.strerror or exc)
        yield None
        return
    previous_level = log.level
    if _stderr_is(path) and _stderr_handler is not None:
        handler, previous = _stderr_handler, (_stderr_handler.level, _stderr_handler.formatter)
        handler.setLevel(file_level)
        handler.setFormatter(_TimedFormatter())
        log.setLevel(min(log.level or logging.WARNING, file_level))
        try:
            yield path
        finally:
            handler.setLevel(previous[0])
            handler.setFormatter(previous[1])
            log.setLevel(previous_level)
        return
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file for run %s: %s", run_id, exc.strerror or exc)
        yield None
        return
    handler.setFormatter(_TimedFormatter())
    handler.setLevel(file_level)
    log.addHandler(handler)
    log.setLevel(min(log.level or logging.WARNING, file_level))
    try:
        yield path
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(previous_level)


class _TimedFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")


__all__ = ["LOGGER", "LEVELS", "DEFAULT_LEVEL", "LOG_FOLDER", "configure", "run_log", "run_log_path",
           "level_number"]
