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


# At import, tries to add a table to every *.db below its roots and to write a
# file into each root: a candidate testing the write barrier.
WRITER = """
import glob, os, sqlite3
_ROOTS = {roots!r}
_MARK = {mark!r}
for _root in _ROOTS:
    for _db in glob.glob(os.path.join(_root, "**", "*.db"), recursive=True):
        try:
            _c = sqlite3.connect(_db)
            _c.execute("CREATE TABLE pwned (x)")
            _c.commit()
        except Exception:
            pass
    try:
        open(os.path.join(_root, _MARK), "w").write("pwned")
    except OSError:
        pass
"""


class WriteTargets:
    """A run's folder with a database, /tmp and ~/.cache/sgs (plus any
    extra roots): what a candidate must not change."""

    def __init__(self, tmp_path, extra=()):
        import hashlib
        import sqlite3
        from pathlib import Path

        self._sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        self.db = run_dir / "sgs.db"
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE samples (x)")
        con.commit()
        con.close()
        cache = Path.home() / ".cache" / "sgs"
        cache.mkdir(parents=True, exist_ok=True)
        self.roots = [run_dir, Path("/tmp"), cache, *map(Path, extra)]
        self.mark = f"sgs-pwned-{tmp_path.name}"
        self.before = self._sha(self.db)

    def source(self, body: str) -> str:
        return WRITER.format(roots=[str(r) for r in self.roots], mark=self.mark) + body

    def assert_untouched(self) -> None:
        assert self._sha(self.db) == self.before
        for root in self.roots:
            assert not (root / self.mark).exists(), root

    def clean(self) -> None:
        for root in self.roots:
            (root / self.mark).unlink(missing_ok=True)
