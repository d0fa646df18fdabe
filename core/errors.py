"""The errors sgs raises for things a user can act on, and the exit codes they map to.

Every error here carries a one-line message; the CLI prints it as
``sgs: error: MESSAGE`` and exits with the class's `exit_code`. `gpu_eval`
keeps its own `RequestError` (it never imports `core`); the CLI maps it.

Exit codes (the README's table is written from this list):

====  =====================================================================
0     success
1     the work ran but did not succeed: a run ended failed or interrupted
      (it can be resumed), or `sgs eval`'s candidate is not correct
2     bad usage or input: an option value, an unknown task or run, an
      unusable file or database; nothing was written
3     a model backend failed: a server that cannot be reached, a refused
      key, a model that cannot be loaded
4     an unexpected internal error (``--debug`` shows the traceback)
130   interrupted (Ctrl-C) before a run was under way
141   the output pipe was closed by its reader (``sgs show | head``)
====  =====================================================================
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_NOT_SUCCEEDED = 1
EXIT_USAGE = 2
EXIT_BACKEND = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141


class SgsError(Exception):
    """Base of every error the user can act on; the message is one line."""

    exit_code = EXIT_USAGE


class InputError(SgsError, ValueError):
    """Bad options, input files or names (one-line message)."""


class OptionError(InputError):
    """An option value outside its valid range; the message names the range."""


class TaskError(InputError):
    """A task that cannot be used or found; the message names the file and the fault."""


class DatabaseError(SgsError):
    """A --db that cannot be used: missing, not an sgs database, damaged, read-only, locked."""


class BackendError(SgsError, RuntimeError):
    """A backend failure a user can act on (one line: dead server, bad key, unknown model)."""

    exit_code = EXIT_BACKEND


class LaunchError(InputError):
    """A run that cannot be started or resumed from a front end (one line)."""


def one_line(message: object, limit: int = 400) -> str:
    """A message folded onto one line (the CLI never prints a multi-line error)."""
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "SgsError", "InputError", "OptionError", "TaskError", "DatabaseError", "BackendError", "LaunchError",
    "one_line", "EXIT_OK", "EXIT_NOT_SUCCEEDED", "EXIT_USAGE", "EXIT_BACKEND", "EXIT_INTERNAL",
    "EXIT_INTERRUPTED", "EXIT_PIPE_CLOSED",
]
