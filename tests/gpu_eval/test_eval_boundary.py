"""gpu_eval is a process boundary: it runs on its own and imports no engine code."""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import CORRECT, REFERENCE  # noqa: E402


def test_imports_neither_core_nor_tui():
    code = ("import sys, sgs.gpu_eval, sgs.gpu_eval.supervisor, sgs.gpu_eval.harness\n"
            "bad = [m for m in sys.modules if m.startswith(('sgs.core', 'sgs.tui', 'textual'))]\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_runs_as_its_own_process(tmp_path):
    req = {"reference_src": REFERENCE, "candidate_src": CORRECT, "device": "cpu", "seed": 3, "num_threads": 1}
    path = tmp_path / "req.json"
    path.write_text(json.dumps(req))
    out = subprocess.run([sys.executable, "-m", "sgs.gpu_eval", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["outcome"] == "correct"
    assert result["speedup"] > 0


def test_bad_request_is_one_line_error(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(json.dumps({"reference_src": REFERENCE, "candidate_src": CORRECT, "kind": "fortran"}))
    out = subprocess.run([sys.executable, "-m", "sgs.gpu_eval", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: unknown kind 'fortran': expected one of torch, cuda, triton"
