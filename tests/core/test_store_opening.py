"""Opening the database: viewers never write, writers refuse what is not theirs, archives stay readable."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sgs.core.errors import DatabaseError
from sgs.core.store import Store


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_viewers_change_neither_the_journal_mode_nor_the_file(tmp_path):
    path = tmp_path / "archive.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=delete")      # e.g. a copy made by a backup tool
    conn.close()
    before = digest(path)
    for access in ("read", "edit"):
        store = Store(path, access=access)
        assert store.list_runs() == []
        store.close()
        assert journal_mode(path) == "delete" and digest(path) == before, access
    Store(path).close()                             # a writer switches it to WAL
    assert journal_mode(path) == "wal"


def test_nothing_is_written_into_a_file_that_is_not_an_sgs_database(tmp_path):
    files = {"empty.db": b"", "notes.db": b"my notes\n" * 50}
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for name in [*files, "other.db"]:
        before = digest(tmp_path / name)
        for access in ("write", "edit", "read"):
            with pytest.raises(DatabaseError):
                Store(tmp_path / name, access=access)
        assert digest(tmp_path / name) == before
        assert not Path(f"{tmp_path / name}-wal").exists()


def test_a_new_database_appears_whole(tmp_path):
    Store(tmp_path / "new.db").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]   # no temporary file left behind
    with pytest.raises(DatabaseError, match="does not exist"):
        Store(tmp_path / "typo" / "new.db")
    with pytest.raises(DatabaseError, match="no database at"):
        Store(tmp_path / "missing.db", readonly=True)


def test_a_truncated_database_is_named_damaged(tmp_path):
    path = tmp_path / "big.db"
    store = Store(path)
    store.db.execute("CREATE TABLE filler (x)")
    for _ in range(200):
        store.db.execute("INSERT INTO filler VALUES (?)", ["x" * 1000])
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for access in ("read", "write"):
        with pytest.raises(DatabaseError, match="is damaged .*malformed"):
            Store(path, access=access)
    assert len(path.read_bytes()) == len(data) // 2


def test_a_finished_run_leaves_an_empty_wal(tmp_path):
    path = tmp_path / "w.db"
    store = Store(path)
    store.db.execute("CREATE TABLE filler (x)")
    store.db.execute("INSERT INTO filler VALUES (1)")
    assert Path(f"{path}-wal").stat().st_size > 0
    store.checkpoint()
    assert Path(f"{path}-wal").stat().st_size == 0
    reader = sqlite3.connect(path)                  # the file alone holds every commit
    assert reader.execute("SELECT count(*) FROM filler").fetchone()[0] == 1
    reader.close()
    store.close()


def _read_only_prefix():
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") and subprocess.run(["unshare", "-U", "true"]).returncode == 0:
        return ["unshare", "-U"]     # root's permission override does not apply in a user namespace
    return None


@pytest.mark.parametrize("access", ["read", "edit"])
def test_an_archived_database_on_read_only_storage_can_be_viewed(tmp_path, access):
    prefix = _read_only_prefix()
    if prefix is None:
        pytest.skip("cannot make a file read-only for this user")
    folder = tmp_path / "archive"
    folder.mkdir()
    path = folder / "sgs.db"
    store = Store(path)                          # in WAL mode, as every sgs database
    store.db.execute("UPDATE schema_version SET applied_at = applied_at")
    store.close()
    assert journal_mode(path) == "wal" and not Path(f"{path}-shm").exists()
    before = digest(path)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        code = (f"from sgs.core.store import Store; s = Store({str(path)!r}, access={access!r}); "
                "print(s.access, len(s.list_runs()))")
        out = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["read", "0"]
    assert digest(path) == before and sorted(p.name for p in folder.iterdir()) == ["sgs.db"]


def test_opening_again_keeps_the_locks_of_a_connection_this_process_holds(tmp_path):
    """The terminal app keeps a connection open and opens the database again (a second Store).
    Had that second open read the file with plain file calls, closing it would drop this
    process's SQLite locks, and another process closing its own connection would take itself
    for the last one and delete the WAL under the first: 'database disk image is malformed'."""
    path = tmp_path / "app.db"
    held = Store(path, access="write")
    held.db.execute("CREATE TABLE notes (x)")
    held.db.execute("INSERT INTO notes VALUES (1)")
    for access in ("read", "edit", "write"):
        Store(path, access=access).close()
    other = subprocess.run([sys.executable, "-c", f"from sgs.core.store import Store; Store({str(path)!r}).close()"],
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert Path(f"{path}-wal").exists()            # the other process knew it was not the last one
    held.db.execute("INSERT INTO notes VALUES (2)")
    assert Store(path, access="read").db.execute("SELECT count(*) FROM notes").fetchone()[0] == 2
    held.close()
