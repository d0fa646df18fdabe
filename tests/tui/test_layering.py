"""core/ and gpu_eval/ never import the app or textual: the headless engine must run without them."""
import ast
import re
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Optional extras (pyproject's optional-dependencies, or GPU toolkits): a module
# may fail to import only because one of these is not installed.
OPTIONAL_DEPENDENCIES = {"tinker", "datasets", "triton", "llama_cpp"}


def test_core_and_gpu_eval_import_without_textual():
    """Every module of sgs.core and sgs.gpu_eval imports, and none pulls in textual or the app."""
    script = r"""
import importlib, json, pkgutil, sys
import sgs.core, sgs.gpu_eval
failed, walked = [], []
for pkg in (sgs.core, sgs.gpu_eval):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".", onerror=lambda name: None):
        if info.name.endswith("__main__"):
            continue
        walked.append(info.name)
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append({"module": info.name, "missing": getattr(exc, "name", None),
                           "error": f"{type(exc).__name__}: {exc}"})
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.") or m.startswith("sgs.tui"))
print(json.dumps({"bad": bad, "walked": walked, "failed": failed}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    walked = set(result["walked"])
    assert {"sgs.core.engine", "sgs.core.prompts.reply"} <= walked
    assert any(name.startswith("sgs.gpu_eval.") for name in walked)
    broken = [f"{f['module']}: {f['error']}" for f in result["failed"]
              if (f["missing"] or "").split(".")[0] not in OPTIONAL_DEPENDENCIES]
    assert broken == [], "modules that do not import:\n" + "\n".join(broken)
    assert result["bad"] == []


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.append("." * node.level + module)
            names += ["." * node.level + (module + "." if module else "") + a.name for a in node.names]
    return names


def test_no_source_file_of_core_or_gpu_eval_imports_the_app():
    offenders = []
    for folder in ("core", "gpu_eval"):
        files = list((ROOT / folder).rglob("*.py"))
        assert files, f"no python files under {folder}/"
        for path in files:
            for name in _imports(path):
                bare = name.lstrip(".")
                if bare.split(".")[0] in ("textual", "tui") or bare.startswith("sgs.tui") or \
                        (name.startswith("..") and bare.split(".")[0] == "tui"):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_the_scan_catches_an_offending_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from textual.app import App\nimport sgs.tui.app\nfrom ..tui import data\n")
    assert [n for n in _imports(bad) if "textual" in n or "tui" in n]


SQL = re.compile(r"\bSELECT\b[^;]{0,400}?\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
                 r"|\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX)\b|\.execute(many)?\(|\bimport\s+sqlite3\b")


def sql_in(path: Path) -> list[str]:
    """SQL statements (the project writes SQL keywords in capitals) or direct database calls in a file."""
    return [m.group(0)[:60] for m in SQL.finditer(path.read_text(encoding="utf-8"))]


def test_the_app_holds_no_sql():
    """Reads go through the store's query methods: tui/ never speaks SQL."""
    offenders = {str(p.relative_to(ROOT)): sql_in(p) for p in (ROOT / "tui").rglob("*.py") if sql_in(p)}
    assert offenders == {}


def test_the_sql_scan_finds_sql(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('rows = db.execute("""SELECT id\n FROM runs WHERE x = ?""", [1])\n'
                   'q = "DELETE FROM samples"\n')
    assert len(sql_in(bad)) >= 2
    good = tmp_path / "good.py"
    good.write_text('"""Select a run from the list and press enter."""\nlabel = "update every second"\n')
    assert sql_in(good) == []
