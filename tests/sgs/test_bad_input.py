"""Bad input through the real CLI: one line on stderr, no traceback, the documented exit code, nothing lost.

Every case runs `python -m sgs ...` in a subprocess, in a folder of its own
holding copies of the files it needs (a finished run's database, broken
databases, candidate files, replay files, a task folder with a broken file).
For every case:

- stderr is exactly one line (`sgs: error: ...`, or `sgs: warning: ...` for a
  command that goes on), none for a command that succeeds or whose output
  pipe was closed (`| head`), and never a traceback;
- the exit code is the one documented in the README (sgs.core.errors);
- every file that was in the case's folder before is byte for byte the same
  after: no stored sample is lost and no file that is not an sgs database is
  written into (the same holds after the successful read commands);
- a command that fails before it has work to do has not imported torch
  (read from `python -X importtime`, which is why that flag is on).

The cases run in parallel (the suite's cost is interpreter start-ups); the
last test checks the count and the terminal summary reports it with the
wall time.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sgs.core.engine import RunConfig, create_run
from sgs.core.errors import EXIT_BACKEND, EXIT_NOT_SUCCEEDED, EXIT_OK, EXIT_PIPE_CLOSED, EXIT_USAGE
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.types import Generation

RELU = ("import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
        "    def forward(self, x):\n        return torch.relu(x)\n")
REFERENCE = ("import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
             "    def forward(self, x):\n        return torch.relu(x)\n\n\n"
             "def get_inputs():\n    return [torch.randn(8)]\n\n\ndef get_init_inputs():\n    return []\n")
SECRET = "sk-live-0123456789abcdef"
MIN_CASES = 40


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: str = ""                # text the stderr line must contain ("" for a success)
    readonly: tuple[str, ...] = ()  # fixture names made read-only (files and their folder)
    torch: bool = False           # the command may import torch (it got as far as real work)
    pipe: bool = False            # stdout is closed before the command writes (`| head`)
    never_says: str = ""          # text stderr must not contain (a secret)
    kind: str = "options"         # files, options, databases, servers, candidates, pipes
    env: tuple[tuple[str, str], ...] = ()
    prints: str = ""              # text stdout must contain


def case(id, *args, code=EXIT_USAGE, says="", **kw) -> Case:
    return Case(id, tuple(args), code, says, **kw)


RUN = ("run", "builtin/relu", "--backend", "scripted", "--model", "{replies}")

CASES = [
    # -- databases ---------------------------------------------------------------------
    case("show-db-random-bytes", "show", "--db", "{random_db}", says="not an SQLite file", kind="databases"),
    case("show-db-text-file", "show", "--db", "{text_db}", says="not an SQLite file", kind="databases"),
    case("export-db-truncated", "export", "--db", "{truncated_db}", says="is damaged", kind="databases"),
    case("show-db-header-only", "show", "--db", "{header_db}", says="is damaged", kind="databases"),
    case("show-db-damaged-pages", "show", "--db", "{damaged_db}", says="malformed", kind="databases"),
    case("export-db-damaged-pages", "export", "--db", "{damaged_db}", says="malformed", kind="databases"),
    case("run-db-text-file", *RUN, "--db", "{text_db}", says="not an SQLite file", kind="databases"),
    case("tui-db-random-bytes", "tui", "--db", "{random_db}", says="not an SQLite file", kind="databases"),
    case("show-db-empty-file", "show", "--db", "{empty_db}", says="empty file", kind="databases"),
    case("run-db-empty-file", *RUN, "--db", "{empty_db}", says="empty file", kind="databases"),
    case("import-db-empty-file", "import", "{replay}", "--db", "{empty_db}", says="empty file", kind="databases"),
    case("tui-db-empty-file", "tui", "--db", "{empty_db}", says="empty file", kind="databases"),
    case("show-db-missing", "show", "--db", "{dir}/none.db", says="no database at", kind="databases"),
    case("run-db-missing-folder", *RUN, "--db", "{dir}/typo/sgs.db", says="does not exist", kind="databases"),
    case("import-db-missing-folder", "import", "{replay}", "--db", "{dir}/typo/sgs.db", says="does not exist",
         kind="databases"),
    case("show-db-is-a-folder", "show", "--db", "{dir}", says="is a folder", kind="databases"),
    case("run-db-foreign-sqlite", *RUN, "--db", "{foreign_db}", says="not an sgs one", kind="databases"),
    case("show-db-newer-schema", "show", "--db", "{newer_db}", says="upgrade sgs", kind="databases"),
    case("score-db-truncated", "score", "--db", "{truncated_db}", says="is damaged", kind="databases"),
    case("run-db-read-only-folder", *RUN, "--db", "{ro_dir}/new.db", says="not writable", readonly=("ro_dir",),
         kind="databases"),
    case("run-db-read-only-file", *RUN, "--db", "{ro_db}", says="read-only", readonly=("ro_db",),
         kind="databases"),
    case("import-db-read-only-file", "import", "{replay}", "--db", "{ro_db}", says="read-only",
         readonly=("ro_db",), kind="databases"),
    case("show-db-read-only-media-wal-commits", "show", "--db", "{wal_db}", says="still holds commits",
         readonly=("wal_db",), kind="databases"),
    case("show-db-read-only-media", "show", "--db", "{ro_db}", code=EXIT_OK, readonly=("ro_db",),
         kind="databases"),
    case("export-db-read-only-media", "export", "--db", "{ro_db}", code=EXIT_OK, readonly=("ro_db",),
         kind="databases"),
    # successful reads of an existing database change nothing in it
    case("show", "show", "--db", "{db}", code=EXIT_OK, kind="databases"),
    case("show-json", "show", "--json", "--db", "{db}", code=EXIT_OK, kind="databases"),
    case("export-jsonl", "export", "--db", "{db}", code=EXIT_OK, kind="databases"),
    case("export-csv", "export", "--format", "csv", "--db", "{db}", code=EXIT_OK, kind="databases"),
    # -- options (against the finished run's database: it must stay as it was) ---------
    case("run-max-tokens-0", *RUN, "--max-tokens", "0", "--db", "{db}", says="--max-tokens must be"),
    case("run-timeout-negative", *RUN, "--timeout", "-1", "--db", "{db}", says="--timeout must be a number > 0"),
    case("run-timeout-infinite", *RUN, "--timeout", "inf", "--db", "{db}", says="--timeout must be"),
    case("run-compile-timeout-0", *RUN, "--compile-timeout", "0", "--db", "{db}", says="--compile-timeout must"),
    case("run-temperature-negative", *RUN, "--temperature", "-1", "--db", "{db}", says="from 0 to 10"),
    case("run-device-tpu", *RUN, "--device", "tpu", "--db", "{db}", says="auto, cpu, cuda or cuda:N"),
    case("run-k-0", *RUN, "--k", "0", "--db", "{db}", says="--k must be a whole number"),
    case("run-k-not-a-number", *RUN, "--k", "many", "--db", "{db}", says="--k must be a whole number"),
    case("run-top-p-0", *RUN, "--top-p", "0", "--db", "{db}", says="--top-p must be a number > 0"),
    case("run-atol-negative", *RUN, "--atol", "-1e-3", "--db", "{db}", says="--atol must be"),
    case("run-rtol-nan", *RUN, "--rtol", "nan", "--db", "{db}", says="--rtol must be"),
    case("run-workers-0", *RUN, "--workers", "0", "--db", "{db}", says="--workers must be"),
    case("run-seed-negative", *RUN, "--seed", "-5", "--db", "{db}", says="--seed must be"),
    case("run-eval-mode-unknown", *RUN, "--eval-mode", "thorough", "--db", "{db}", says="one of fast, full"),
    case("run-prompt-style-unknown", *RUN, "--prompt-style", "poem", "--db", "{db}", says="one of body, kernel"),
    case("run-backend-unknown", "run", "builtin/relu", "--backend", "llama", "--db", "{db}",
         says="--backend must be one of"),
    case("run-base-url-without-scheme", "run", "builtin/relu", "--backend", "openai", "--base-url",
         "localhost:8000/v1", "--db", "{db}", says="http:// or https://"),
    case("run-api-key-given-for-its-name", "run", "builtin/relu", "--backend", "openai", "--api-key-env", SECRET,
         "--db", "{db}", says="environment variable name", never_says=SECRET),
    case("run-no-tasks", "run", "--db", "{db}", says="no tasks"),
    case("run-unknown-task", "run", "builtin/nope", "--db", "{db}", says="unknown task 'builtin/nope'"),
    case("run-unknown-split", "run", "--split", "l9_seed1", "--db", "{db}", says="unknown split"),
    case("run-resume-unknown-run", "run", "--resume", "99", "--db", "{db}", says="no run 99"),
    case("run-resume-with-new-settings", "run", "--resume", "1", "--k", "3", "--db", "{db}", says="drop --k"),
    case("import-evaluate-timeout-negative", "import", "{replay}", "--evaluate", "--timeout", "-1", "--db", "{db}",
         says="--timeout must be"),
    case("import-level-0", "import", "{replay}", "--level", "0", "--db", "{db}", says="--level must be"),
    case("run-time-top-0", *RUN, "--time-top", "0", "--db", "{db}", says="--time-top must be a whole number"),
    case("run-audit-without-a-budget", *RUN, "--audit", "2", "--db", "{db}", says="--audit needs --time-top"),
    case("demo-k-0", "demo", "--k", "0", "--db", "{db}", says="--k must be a whole number"),
    case("demo-max-tokens-0", "demo", "--max-tokens", "0", "--db", "{db}", says="--max-tokens must be"),
    case("show-top-negative", "show", "--top", "-1", "--db", "{db}", says="--top must be"),
    case("show-unknown-run", "show", "99", "--db", "{db}", says="no run 99"),
    case("show-unknown-task", "show", "--task", "builtin/nope", "--db", "{db}", says="has no task"),
    case("score-unknown-run", "score", "99", "--db", "{db}", says="no run 99"),
    case("tasks-level-0", "tasks", "--level", "0", says="--level must be"),
    case("split-level-0", "split", "make", "--level", "0", "--seed", "1", "--out", "{dir}", says="--level must be"),
    case("log-level-unknown", "show", "--db", "{db}", "--log-level", "loud", says="invalid choice"),
    case("log-level-unknown-in-the-environment", "show", "--db", "{db}", says="$SGS_LOG_LEVEL must be one of",
         env=(("SGS_LOG_LEVEL", "loud"),)),
    case("unknown-command", "shwo", says="invalid choice"),
    case("export-over-the-database", "export", "-o", "{db}", "--db", "{db}", says="the database itself"),
    case("export-into-a-missing-folder", "export", "-o", "{dir}/nope/out.jsonl", "--db", "{db}",
         says="No such file or directory", kind="files"),
    # -- candidates --------------------------------------------------------------------
    case("eval-not-utf8", "eval", "{latin1_candidate}", "--task", "builtin/relu", says="not UTF-8",
         kind="candidates"),
    case("eval-dev-null", "eval", "/dev/null", "--task", "builtin/relu", says="is empty", kind="candidates"),
    case("eval-missing-file", "eval", "{dir}/nope.py", "--task", "builtin/relu", says="no such file",
         kind="candidates"),
    case("eval-a-folder", "eval", "{dir}", "--task", "builtin/relu", says="is a folder", kind="candidates"),
    case("eval-no-code", "eval", "{prose}", "--task", "builtin/relu", says="no code", kind="candidates"),
    case("eval-unknown-task", "eval", "{candidate}", "--task", "builtin/nope", says="unknown task",
         kind="candidates"),
    case("eval-device-tpu", "eval", "{candidate}", "--task", "builtin/relu", "--device", "tpu",
         says="--device must be", kind="candidates"),
    case("eval-timeout-0", "eval", "{candidate}", "--task", "builtin/relu", "--timeout", "0",
         says="--timeout must be", kind="candidates"),
    # -- task files and replay files ---------------------------------------------------
    case("tasks-broken-file-is-a-warning", "tasks", "--kernelbench", "{kb}", "--source", "kernelbench",
         code=EXIT_OK, says="sgs: warning: ", kind="files"),
    case("tasks-broken-file-filtered-out", "tasks", "--kernelbench", "{kb}", "--filter", "good", code=EXIT_OK,
         kind="files"),
    case("run-broken-task", "run", "L1/2", "--kernelbench", "{kb}", "--db", "{db}", says="does not parse",
         kind="files"),
    case("tasks-kernelbench-missing", "tasks", "--kernelbench", "{dir}/nope", says="not found", kind="files"),
    case("tasks-dataset-file-missing", "tasks", "--dataset-file", "{dir}/rows.jsonl", says="not found",
         kind="files"),
    case("import-missing-file", "import", "{dir}/nope.jsonl", "--db", "{db}", says="not found", kind="files"),
    case("import-unrecognised-format", "import", "{bad_replay}", "--db", "{db}", says="pass --format",
         kind="files"),
    case("import-only-malformed-lines", "import", "{fieldless_replay}", "--db", "{db}", says="no usable samples",
         kind="files"),
    case("import-strict-malformed-line", "import", "{half_bad_replay}", "--strict", "--db", "{db}",
         says="nothing imported (--strict)", kind="files"),
    case("import-unknown-tasks-only", "import", "{unknown_task_replay}", "--db", "{db}", says="nothing to import",
         kind="files"),
    # -- servers and backends ----------------------------------------------------------
    case("run-server-refuses-the-key", "run", "builtin/relu", "--backend", "openai", "--base-url", "{server}",
         "--model", "m", "--db", "{dir}/new.db", code=EXIT_NOT_SUCCEEDED, says="run 1 failed", torch=True,
         kind="servers", prints="continue it with: sgs run --resume 1"),
    case("score-server-refuses-the-key", "score", "--backend", "openai", "--base-url", "{server}", "--model", "m",
         "--db", "{unscored_db}", code=EXIT_BACKEND, says="refused the API key", kind="servers"),
    case("run-scripted-replies-missing", "run", "builtin/relu", "--backend", "scripted", "--model",
         "{dir}/nope.jsonl", "--db", "{db}", code=EXIT_BACKEND, says="is not a file", kind="servers"),
    case("run-tinker-not-installed", "run", "builtin/relu", "--backend", "tinker", "--model", "m", "--db", "{db}",
         code=EXIT_BACKEND, says="tinker", kind="servers"),
    # -- pipes: `sgs ... | head` ends silently ----------------------------------------
    case("pipe-show", "show", "--db", "{db}", code=EXIT_PIPE_CLOSED, pipe=True, kind="pipes"),
    case("pipe-tasks-json", "tasks", "--json", code=EXIT_PIPE_CLOSED, pipe=True, kind="pipes"),
    case("pipe-export", "export", "--db", "{db}", code=EXIT_PIPE_CLOSED, pipe=True, kind="pipes"),
]


# -- fixture files ------------------------------------------------------------------------

def _finished_db(path: Path) -> None:
    store = Store(path)
    task = get_task("builtin/relu")
    run_id = create_run(store, RunConfig(task_ids=[task.id], k=3, backend="scripted", model="m"), [task],
                        logprob_mode="raw")
    for idx, (code, lps, outcome, speedup) in enumerate([("fast", [-5.0, -5.0], "correct", 2.0),
                                                         ("slow", [-1.0], "correct", 0.5),
                                                         ("bad", [-2.0], "incorrect", None)]):
        sid = store.add_sample(run_id, task.id, idx, Generation(text=code, tokens=[code] * len(lps), logprobs=lps),
                               code=code, code_kind="torch", code_start=0, code_end=len(code), extraction_error=None,
                               logprob_mode="raw")
        store.finish_evaluation(sid, run_id, task.id, {"outcome": outcome, "speedup": speedup})
    store.set_run_status(run_id, "finished")
    store.close()


def _unscored_db(path: Path) -> None:
    store = Store(path)
    task = get_task("builtin/relu")
    run_id = create_run(store, RunConfig(task_ids=[task.id], k=1, backend="replay", model="jsonl"), [task],
                        kind="replay")
    store.add_sample(run_id, task.id, 0, Generation(text=RELU), code=RELU, code_kind="torch", code_start=0,
                     code_end=len(RELU), extraction_error=None, logprob_mode=None)
    store.close()


def _wal_db(template: Path, folder: Path) -> Path:
    """A copy of the finished database whose last commit is still in its -wal file (no -shm)."""
    path = folder / "wal.db"
    shutil.copy(template, path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE runs SET name = 'archived'")
    conn.commit()
    copy = folder / "copy"
    copy.mkdir()
    for name in ("wal.db", "wal.db-wal"):
        shutil.copy(folder / name, copy / name)
    conn.close()
    for name in ("wal.db", "wal.db-wal", "wal.db-shm"):
        (folder / name).unlink(missing_ok=True)
    for name in ("wal.db", "wal.db-wal"):
        shutil.move(copy / name, folder / name)
    copy.rmdir()
    assert (folder / "wal.db-wal").stat().st_size > 0
    return path


def _lines(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad-input-templates")
    good = root / "good.db"
    _finished_db(good)
    data = good.read_bytes()
    unscored = root / "unscored.db"
    _unscored_db(unscored)
    newer = root / "newer.db"
    shutil.copy(good, newer)
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    conn.commit()
    conn.close()
    foreign = root / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    kb = root / "kb" / "level1"
    kb.mkdir(parents=True)
    (kb / "1_Good.py").write_text(REFERENCE)
    (kb / "2_Broken.py").write_text("import torch\nclass Model(:\n")
    files = {
        "db": good, "ro_db": good, "unscored_db": unscored, "newer_db": newer, "foreign_db": foreign,
        "random_db": root / "random.db", "text_db": root / "text.db", "empty_db": root / "empty.db",
        "truncated_db": root / "truncated.db", "header_db": root / "header.db",
        "replies": _lines(root / "replies.jsonl", [{"text": "```python\nreturn torch.relu(x)\n```"}]),
        "replay": _lines(root / "replay.jsonl", [{"task": "builtin/relu", "code": RELU, "logprobs": [-1.0]}]),
        "bad_replay": _lines(root / "bad.jsonl", ["{broken", "[1, 2]"]),
        "fieldless_replay": _lines(root / "fieldless.jsonl", [{"task": "builtin/relu"}, {"task": "builtin/relu",
                                                                                           "note": "no code"}]),
        "half_bad_replay": _lines(root / "half.jsonl", [{"task": "builtin/relu", "code": RELU}, "{broken"]),
        "unknown_task_replay": _lines(root / "unknown.jsonl", [{"task": "builtin/nope", "code": RELU}]),
        "candidate": root / "candidate.py", "latin1_candidate": root / "latin1.py", "prose": root / "prose.txt",
        "kb": root / "kb",
    }
    files["random_db"].write_bytes(hashlib.sha256(b"seed").digest() * 200)
    files["text_db"].write_text("these are my notes, not a database\n" * 20)
    files["empty_db"].write_bytes(b"")
    files["truncated_db"].write_bytes(data[: len(data) // 2])
    files["header_db"].write_bytes(data[:60])
    files["damaged_db"] = root / "damaged.db"
    page = int.from_bytes(data[16:18], "big")
    # every page after the first overwritten: the header is intact, the tables are not
    files["damaged_db"].write_bytes(data[:page] + bytes([0xA5]) * (len(data) - page))
    files["candidate"].write_text(RELU)
    files["latin1_candidate"].write_bytes(("# café au lait\n" + RELU).encode("latin-1"))
    files["prose"].write_text("I am sorry, I cannot write that kernel.\n")
    files["wal_db"] = _wal_db(good, root)
    return files


class _RefusesKeys(BaseHTTPRequestHandler):
    def _refuse(self):
        body = json.dumps({"error": {"message": "invalid api key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RefusesKeys)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


# -- running the cases ----------------------------------------------------------------------

def _can_drop_write_access() -> list[str] | None:
    """The prefix that makes chmod'ed files read-only for the command: none needed for a normal
    user; for root, a user namespace (root's permission override does not apply inside it)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("unshare"):
        return None
    probe = subprocess.run(["unshare", "-U", "true"], capture_output=True)
    return ["unshare", "-U"] if probe.returncode == 0 else None


@dataclass
class Outcome:
    case: Case
    code: int | None = None
    stderr: str = ""
    stdout: str = ""
    imports: list[str] = field(default_factory=list)
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str = ""


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(("-shm", "-wal")) and "sgs-logs" not in path.parts:
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    # a database's -wal holds commits too: a changed or emptied one counts as a change
    for path in sorted(folder.rglob("*-wal")):
        if path.stat().st_size:
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _prepare(case: Case, folder: Path, templates: dict[str, Path], server: str) -> dict[str, str]:
    values = {"dir": str(folder), "server": server}
    for name in re.findall(r"\{(\w+)\}", " ".join(case.args)):
        if name in values:
            continue
        if name == "ro_dir":
            (folder / "ro").mkdir()
            values[name] = str(folder / "ro")
            continue
        source = templates[name]
        target = folder / source.name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
            if name == "wal_db":
                shutil.copy(f"{source}-wal", f"{target}-wal")
        values[name] = str(target)
    return values


def _make_read_only(case: Case, values: dict[str, str]) -> list[Path]:
    changed = []
    for name in case.readonly:
        path = Path(values[name])
        for item in ([path] if path.is_dir() else [path, Path(f"{path}-wal")]):
            if item.exists() and item.is_file():
                item.chmod(0o444)
                changed.append(item)
        folder = path if path.is_dir() else path.parent
        folder.chmod(0o555)
        changed.append(folder)
    return changed


def _run(case: Case, folder: Path, templates, server, drop_prefix) -> Outcome:
    outcome = Outcome(case)
    if case.readonly and drop_prefix is None:
        outcome.skipped = "cannot make files read-only for this user"
        return outcome
    folder.mkdir()
    values = _prepare(case, folder, templates, server)
    args = [a.format(**values) for a in case.args]
    outcome.before = _snapshot(folder)
    changed = _make_read_only(case, values)
    cmd = (drop_prefix if case.readonly else []) + [sys.executable, "-X", "importtime", "-m", "sgs", *args]
    env = {**os.environ, "SGS_KERNELBENCH": "", "SGS_DB": str(folder / "default.db"), **dict(case.env)}
    started = time.monotonic()
    try:
        if case.pipe:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                    cwd=folder)
            proc.stdout.close()          # the reader is gone before the first line is written
            stderr = proc.stderr.read()
            proc.stderr.close()
            code = proc.wait(timeout=240)
        else:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=folder,
                                  stdin=subprocess.DEVNULL)
            stderr, code, outcome.stdout = done.stderr, done.returncode, done.stdout
    finally:
        for path in reversed(changed):
            path.chmod(0o755 if path.is_dir() else 0o644)
    outcome.seconds = time.monotonic() - started
    outcome.code = code
    lines = stderr.splitlines()
    outcome.imports = [ln.rsplit("|", 1)[-1].strip() for ln in lines if ln.startswith("import time:")]
    outcome.stderr = "\n".join(ln for ln in lines if not ln.startswith("import time:"))
    outcome.after = _snapshot(folder)
    return outcome


RESULTS: dict[str, Outcome] = {}
TIMING: dict[str, float] = {}


@pytest.fixture(scope="module")
def outcomes(templates, server, tmp_path_factory, request) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("bad-input-cases")
    drop_prefix = _can_drop_write_access()
    started = time.monotonic()
    # interpreter start-ups are the cost: keep both cores busy, plus one waiting on I/O
    with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) + 1)) as pool:
        futures = {c.id: pool.submit(_run, c, root / c.id, templates, server, drop_prefix) for c in CASES}
        RESULTS.update({name: f.result() for name, f in futures.items()})
    TIMING["wall_s"] = time.monotonic() - started
    TIMING["cases"] = len(CASES)
    TIMING["slowest"] = max(RESULTS.values(), key=lambda o: o.seconds).case.id
    TIMING["slowest_s"] = max(o.seconds for o in RESULTS.values())
    request.config.sgs_bad_input = TIMING   # reported by tests/sgs/conftest.py in the terminal summary
    return RESULTS


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, outcomes):
    out = outcomes[case.id]
    if out.skipped:
        pytest.skip(out.skipped)
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.splitlines()
    if case.says:
        assert len(lines) == 1, f"expected one line on stderr, got:\n{out.stderr}"
        assert case.says in lines[0], lines[0]
        prefix = "sgs: warning: " if case.code == EXIT_OK else "sgs: error: "
        assert lines[0].startswith(prefix), lines[0]
    else:
        assert lines == [], out.stderr
    assert out.code == case.code, f"exit {out.code}, expected {case.code}: {out.stderr}"
    if case.never_says:
        assert case.never_says not in out.stderr
    if case.prints:
        assert case.prints in out.stdout, out.stdout
    changed = {name for name, digest in out.before.items() if out.after.get(name) != digest}
    assert not changed, f"files changed or lost: {sorted(changed)}"
    if not case.torch:
        assert "torch" not in out.imports, "a command that fails early must not import torch"


def test_the_suite_covers_every_kind_of_bad_input():
    kinds = {c.kind for c in CASES}
    assert kinds == {"files", "options", "databases", "servers", "candidates", "pipes"}
    assert len({c.id for c in CASES}) == len(CASES) >= MIN_CASES
