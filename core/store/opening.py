"""Opening the database file: checked before anything is written, one clear line per fault.

Three kinds of access:

- ``write`` (runs, imports, scoring): creates a new database when the file
  does not exist, switches it to WAL and brings its schema up to date;
- ``edit`` (the terminal app): an existing sgs database, rows may change
  (deleting a run), the schema and the journal mode are left as they are;
- ``read`` (`sgs show`, `sgs export`): never writes, so an archived file on
  read-only storage can be viewed.

Nothing is ever written into a file that is not already an sgs database (an
empty file included): it is refused with a message instead.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from ..errors import DatabaseError

log = logging.getLogger(__name__)

ACCESS = ("write", "edit", "read")
BUSY_TIMEOUT_S = 30


def connect(path: Path, access: str) -> tuple[sqlite3.Connection, str]:
    """A checked connection to the sgs database at `path` (not yet migrated), and the access it
    has: "edit" becomes "read" on a file that cannot be written, so the app still shows it.

    The file is only ever read through SQLite: opening and closing it with
    plain file calls would drop the POSIX locks SQLite holds on it for other
    connections of this process (the terminal app keeps one open), and another
    process could then delete the WAL under them."""
    if access not in ACCESS:
        raise ValueError(f"unknown access {access!r}")
    if path.exists():
        check_file(path)
    elif access == "write":
        create(path)
    else:
        raise DatabaseError(f"no database at {path} (run `sgs demo` or `sgs run` first, or pass --db)")
    conn = _open(path, access)
    try:
        _check_readable(conn, path)
    except sqlite3.OperationalError as exc:
        conn.close()
        if access == "edit":
            return connect(path, "read")
        if access != "read" or not _may_read_immutable(path):
            raise database_error(path, exc, access) from None
        # Storage where the -shm index cannot be created (read-only media).
        # There is no -wal file with commits in it, no -shm (a writer keeps one
        # open) and no rollback journal, so the file alone is the whole database
        # and nobody is writing it: reading it as immutable misses nothing.
        log.info("%s: read-only storage; reading the database file as it stands", path)
        conn = _sqlite(f"{_uri(path)}?mode=ro&immutable=1", path)
        try:
            _check_readable(conn, path)
        except sqlite3.DatabaseError as exc2:
            conn.close()
            raise database_error(path, exc2, access) from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise database_error(path, exc, access) from None
    except BaseException:
        conn.close()
        raise
    return conn, access


def precheck(path: Path, access: str = "write") -> None:
    """The checks `connect` makes before it opens anything, for a command that does slow work
    (loading a model) before it opens the database: a bad --db is refused first."""
    if path.exists():
        check_file(path)
    elif access != "write":
        raise DatabaseError(f"no database at {path} (run `sgs demo` or `sgs run` first, or pass --db)")
    elif not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise DatabaseError(f"cannot create {path}: folder {path.parent} {what}")


def check_file(path: Path) -> None:
    """Refuse an existing path that cannot be an sgs database, from its metadata alone."""
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DatabaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        # SQLite would take it for a new database and write a schema into it
        raise DatabaseError(f"{path} is an empty file, not an sgs database; sgs writes only into its own "
                            "databases (remove the file or choose another --db)")
    if not os.access(path, os.R_OK):
        raise DatabaseError(f"cannot read {path}: permission denied")


def create(path: Path) -> None:
    """A new, empty sgs database at `path`, made beside it and moved into place whole.

    A crash while the schema is written leaves a stray temporary file, never
    a half-made database that later commands would refuse.
    """
    from .schema import DDL, SCHEMA_VERSION

    parent = path.parent
    precheck(path)
    tmp = parent / f".{path.name}.new-{os.getpid()}"
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("BEGIN")
            for stmt in DDL:
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION, _now()])
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)            # fails if another process created it meanwhile: keep theirs
        except FileExistsError:
            pass
        except OSError:                   # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if isinstance(exc, PermissionError) or "unable to open" in reason or "readonly" in reason:
            reason = f"folder {parent} is not writable"
        raise DatabaseError(f"cannot create {path}: {reason}") from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            try:
                leftover.unlink()
            except OSError:
                pass


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def _sqlite(target: str, path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise database_error(path, exc, "read") from None
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    return conn


def _open(path: Path, access: str) -> sqlite3.Connection:
    # mode=rw never creates a file (the checks above decided that); it falls
    # back to reading when the operating system protects the file.
    mode = {"write": "rw", "edit": "rw", "read": "ro"}[access]
    conn = _sqlite(f"{_uri(path)}?mode={mode}", path)
    if access != "read":
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """Read the schema: raises sqlite3 errors for damaged or unopenable files, DatabaseError for foreign ones."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables or "runs" not in tables:
        raise DatabaseError(f"{path} is an SQLite database but not an sgs one"
                            + (f" (its tables: {', '.join(sorted(tables)[:5])})" if tables else " (it has no tables)")
                            + "; sgs writes only into its own databases")


def _wal_has_commits(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def _may_read_immutable(path: Path) -> bool:
    return (not _wal_has_commits(path) and not Path(f"{path}-shm").exists()
            and not Path(f"{path}-journal").exists())


def probe_write(conn: sqlite3.Connection, path: Path) -> None:
    """Take and release the write lock, so a read-only file or folder is found before a run starts."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise database_error(path, exc, "write") from None


def database_error(path: Path, exc: BaseException, access: str = "read") -> DatabaseError:
    """One line for an sqlite3 error met while opening or using the database at `path`."""
    if isinstance(exc, DatabaseError):
        return exc
    message = str(exc)
    lowered = message.lower()
    folder = path.parent
    if "file is not a database" in lowered:
        return DatabaseError(f"{path} is not an sgs database (not an SQLite file, or damaged in its header)")
    if "malformed" in lowered or "disk i/o error" in lowered:
        # a copy that stopped short reads this way too: SQLite checks the size against the header
        return DatabaseError(f"{path} is damaged ({message}); restore it from a copy")
    if "locked" in lowered or "busy" in lowered:
        return DatabaseError(f"{path} is locked by another process ({message}); try again when it is done")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        if access == "read":
            if _wal_has_commits(path):
                return DatabaseError(f"cannot read {path} on read-only storage: its {path.name}-wal still holds "
                                     "commits; copy the database with its -wal file to a writable folder")
            return DatabaseError(f"cannot read {path}: {message}")
        if not os.access(path, os.W_OK):
            return DatabaseError(f"{path} is read-only; this command writes to it "
                                 "(sgs show, sgs export and sgs tui can still read it)")
        return DatabaseError(f"cannot write {path}: its folder {folder} is read-only "
                             f"(SQLite keeps {path.name}-wal beside the database)")
    return DatabaseError(f"{path}: {message}")


__all__ = ["ACCESS", "connect", "precheck", "check_file", "create", "database_error", "probe_write"]
