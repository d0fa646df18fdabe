"""Shared reference and candidate sources for the gpu_eval tests."""

REFERENCE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 32)

    def forward(self, x):
        return torch.relu(self.lin(x))

def get_inputs():
    return [torch.rand(16, 64)]

def get_init_inputs():
    return []
'''


def candidate(forward_body: str, header: str = "") -> str:
    """A ModelNew with the reference's layer and a custom forward."""
    body = "\n".join("        " + ln for ln in forward_body.strip().splitlines())
    return f'''
import torch
import torch.nn as nn
{header}
class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 32)

    def forward(self, x):
{body}
'''


CORRECT = candidate("y = self.lin(x)\nreturn y.clamp_min(0)")
SEGFAULT = candidate("import ctypes\nctypes.string_at(0)\nreturn x")
HANG = candidate("while True:\n    pass")
RAISES = candidate("raise ValueError('boom in forward')")
WRONG_SHAPE = candidate("return torch.relu(self.lin(x))[:, :-1]")
ZERO_INPUTS = candidate("x.zero_()\nreturn torch.zeros(x.shape[0], 32)")
IMPORT_FAILS = "import torch\nraise ImportError('no such extension')\n"
SYNTAX_ERROR = "import torch\nclass ModelNew(:\n    pass\n"


# At import, tries to add a table to each database it is pointed at and to
# write a file into each folder: a candidate testing the write barrier. The
# databases are the test's own decoys (a run's, one in /tmp, one in
# ~/.cache/sgs), so a broken barrier changes nothing but them.
WRITER = """
import os, sqlite3
for _db in {dbs!r}:
    try:
        _c = sqlite3.connect(_db)
        _c.execute("CREATE TABLE pwned (x)")
        _c.commit()
    except Exception:
        pass
for _root in {roots!r}:
    try:
        open(os.path.join(_root, {mark!r}), "w").write("pwned")
    except OSError:
        pass
"""


class WriteTargets:
    """What a candidate must not change: a run's folder with its database,
    /tmp and ~/.cache/sgs (each with a decoy database of the test's own),
    and any extra folders."""

    def __init__(self, tmp_path, extra=()):
        import hashlib
        import shutil
        import sqlite3
        import tempfile
        from pathlib import Path

        self._sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        cache = Path.home() / ".cache" / "sgs"
        cache.mkdir(parents=True, exist_ok=True)
        self._tmp_decoy = Path(tempfile.mkdtemp(prefix="sgs-decoy-", dir="/tmp"))
        self._cleanup = [lambda: shutil.rmtree(self._tmp_decoy, ignore_errors=True)]
        self.dbs = [run_dir / "sgs.db", self._tmp_decoy / "decoy.db", cache / f"decoy-{tmp_path.name}.db"]
        self._cleanup.append(lambda: self.dbs[2].unlink(missing_ok=True))
        for db in self.dbs:
            con = sqlite3.connect(db)
            con.execute("CREATE TABLE samples (x)")
            con.commit()
            con.close()
        self.roots = [run_dir, Path("/tmp"), cache, *map(Path, extra)]
        self.mark = f"sgs-pwned-{tmp_path.name}"
        self.before = [self._sha(db) for db in self.dbs]

    def source(self, body: str) -> str:
        return WRITER.format(dbs=[str(d) for d in self.dbs], roots=[str(r) for r in self.roots],
                             mark=self.mark) + body

    def assert_untouched(self) -> None:
        assert [self._sha(db) for db in self.dbs] == self.before
        for root in self.roots:
            assert not (root / self.mark).exists(), root

    def clean(self) -> None:
        for root in self.roots:
            (root / self.mark).unlink(missing_ok=True)
        for step in self._cleanup:
            step()
