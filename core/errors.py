"""Exceptions that are the user's to fix; the CLI prints them as one line."""
from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    from .backends.base import BackendError
    from .registry import UnknownName
    from .types import TaskError

    return (TaskError, BackendError, UnknownName, FileNotFoundError, UserInputError)


class UserInputError(ValueError):
    """Bad options or input files (one-line message)."""
