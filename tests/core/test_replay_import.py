"""Imports keep what the source evaluated: a record's program is the sample's program, verbatim.

The paper's `best_of_n.py` logs one line per sample to `actions.jsonl`:
`{problem_id, sample_idx, raw_action, assembled_code}`, where `raw_action` is
the forward body it extracted from the reply and `assembled_code` the whole
program it evaluated (the reference, then `class ModelNew(Model)` with the
reference's forward arguments and that body). The fixture below writes such a
log for level-1 tasks 19, 23 and 25, assembled the way that script assembles
it, from the shared KernelBench checkout ($SGS_SHARED/kernelbench, default
../shared) or, without it, from built-in references filed under those ids.
"""
import ast
import json
import os
import textwrap
from pathlib import Path

import pytest

from sgs.cli import main
from sgs.core.importer import import_replay
from sgs.core.replay import read_replay
from sgs.core.store import Store
from sgs.core.tasks import get_task

SHARED = Path(os.environ.get("SGS_SHARED") or Path(__file__).resolve().parents[2] / ".." / "shared")
TASKS = {19: "relu", 23: "softmax", 25: "swish"}  # KernelBench level-1 id -> built-in stand-in

# (problem_id, sample_idx, raw_action): forward bodies as the paper's extraction leaves them.
ACTIONS = [
    (19, 0, "return torch.relu(x)"),
    (19, 1, "def forward(self, x):\n    return x.clamp_min(0.0)"),   # a whole def: the body is re-printed
    (19, 2, ""),                                                      # no code: the paper still ran `pass`
    (23, 0, "m = x.amax(dim=1, keepdim=True)\ne = (x - m).exp()\nreturn e / e.sum(dim=1, keepdim=True)"),
    (23, 1, "return F.softmax(x, dim=1)"),                            # F needs an import the reference lacks
    (25, 0, "return x * torch.sigmoid(x)"),
    (25, 1, "return F.silu(x)"),
]


def paper_assembled_code(raw_action: str, reference: str) -> str:
    """The program the paper's best_of_n.py evaluates for `raw_action`."""
    body = raw_action.strip() or "pass"
    try:
        tree = ast.parse(body)
    except SyntaxError:
        tree = None
    for node in tree.body if tree else []:
        if isinstance(node, ast.FunctionDef) and node.name == "forward":
            body = "\n".join(ast.unparse(stmt) for stmt in node.body) or "pass"
            break
    args = "self, *args, **kwargs"
    for node in ast.parse(reference).body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            args = next(ast.unparse(f.args) for f in node.body
                        if isinstance(f, ast.FunctionDef) and f.name == "forward")
    imports = []
    if "import torch" not in reference:
        imports.append("import torch")
    if "import torch.nn" not in reference:
        imports.append("import torch.nn as nn")
    if "F." in body and "import torch.nn.functional as F" not in reference:
        imports.append("import torch.nn.functional as F")
    prefix = "\n".join(imports) + "\n\n" if imports else ""
    model_new = f"class ModelNew(Model):\n    def forward({args}):\n{textwrap.indent(body.rstrip(), ' ' * 8)}\n"
    return f"{prefix}{reference.strip()}\n\n{model_new}"


@pytest.fixture
def kernelbench(tmp_path) -> Path:
    shared = SHARED / "kernelbench"
    if all(list((shared / "level1").glob(f"{pid}_*.py")) for pid in TASKS):
        return shared
    level1 = tmp_path / "kernelbench" / "level1"
    level1.mkdir(parents=True)
    for pid, name in TASKS.items():
        (level1 / f"{pid}_{name}.py").write_text(get_task(f"builtin/{name}").reference_src)
    return level1.parent


@pytest.fixture
def paper_log(tmp_path, kernelbench) -> tuple[Path, dict]:
    """An actions.jsonl as the paper writes it, and the program it logged per (task, sample)."""
    programs = {}
    lines = []
    for pid, idx, raw in ACTIONS:
        reference = get_task(f"L1/{pid}", kernelbench=str(kernelbench)).reference_src
        code = paper_assembled_code(raw, reference)
        compile(code, "<assembled>", "exec")
        programs[(f"L1/{pid}", idx)] = (raw, code)
        lines.append(json.dumps({"problem_id": pid, "sample_idx": idx, "raw_action": raw, "assembled_code": code}))
    path = tmp_path / "actions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, programs


def _stored(db: str) -> tuple[dict, dict]:
    with Store(db) as store:
        (run,) = store.list_runs()
        samples = {(s["task_id"], s["sample_idx"]): store.get_sample(s["id"]) for s in store.samples(run["id"])}
        return store.get_run(run["id"]), samples


@pytest.mark.parametrize("options, style", [([], "body"), (["--prompt-style", "body"], "body"),
                                            (["--prompt-style", "kernel"], "kernel")],
                         ids=["default", "body", "kernel"])
def test_paper_actions_log_imports_every_assembled_program_verbatim(paper_log, kernelbench, tmp_path, capsys,
                                                                    options, style):
    path, programs = paper_log
    db = str(tmp_path / "sgs.db")
    assert main(["import", str(path), "--kernelbench", str(kernelbench), "--db", db, *options]) == 0
    assert f"imported {len(ACTIONS)} samples for 3 tasks" in capsys.readouterr().out
    run, samples = _stored(db)
    # The paper's prompt asked for a forward body: scoring and display read raw_action as one.
    assert run["prompt_style"] == style
    assert set(samples) == set(programs)
    for key, (raw, code) in programs.items():
        sample = samples[key]
        assert sample["code"] == code, f"{key}: stored program differs from the logged assembled_code"
        assert sample["raw_text"] == raw and sample["extraction_error"] is None
        assert sample["code_kind"] == "torch"
    # Where the reply reads as a forward body, its span is the whole body.
    first = samples[("L1/19", 0)]
    if style == "body":
        assert (first["code_start"], first["code_end"]) == (0, len("return torch.relu(x)"))


def test_the_actions_format_implies_the_body_style(paper_log, kernelbench, tmp_path):
    path, programs = paper_log
    replay = read_replay(str(path))
    assert (replay.format, replay.prompt_style) == ("actions", "body")
    with Store(str(tmp_path / "sgs.db")) as store:
        report = import_replay(store, replay, kernelbench=str(kernelbench))
        assert store.get_run(report.run_id)["prompt_style"] == "body"
        stored = {(s["task_id"], s["sample_idx"]): s["code"] for s in store.samples(report.run_id)}
    assert stored == {key: code for key, (_, code) in programs.items()}


def test_jsonl_code_is_stored_verbatim_beside_its_reply(tmp_path):
    reply = ("Use the built-in:\n```python\nclass ModelNew(Model):\n    def forward(self, x):\n"
             "        return torch.relu(x)\n```")
    # The program the source ran: not what extracting the reply would assemble.
    program = ("import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n"
               "    def forward(self, x):\n        return torch.relu(x)  # as evaluated\n")
    bare = "class ModelNew(Model):\n    def forward(self, x):\n        return x.clamp_min(0.0)\n"
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"task": "builtin/relu", "sample_idx": 0, "text": reply, "code": program},
        {"task": "builtin/relu", "sample_idx": 1, "code": bare},
        {"task": "builtin/relu", "sample_idx": 2, "text": reply},
    ]) + "\n")
    for style in ("kernel", "body"):
        with Store(str(tmp_path / f"{style}.db")) as store:
            report = import_replay(store, read_replay(str(path)), style=style)
            a, b, c = (store.get_sample(s["id"]) for s in store.samples(report.run_id))
            assert (a["code"], a["raw_text"]) == (program, reply)
            assert reply[a["code_start"]:a["code_end"]].startswith("class ModelNew(Model):")
            assert b["code"] == bare and "```python\n" + bare.rstrip() in b["raw_text"]
            # No program in the record: the reply is read in the run's style, as before.
            task = get_task("builtin/relu")
            assert c["code"].startswith(task.reference_src.rstrip()) and c["code"].rstrip().endswith("torch.relu(x)")
