"""A small, fully deterministic database for the app's tests and snapshots.

Built through the real Store API, then every timestamp is pinned so that the
screens render the same text on every machine (with the FrozenClock below).
"""
from __future__ import annotations

import json
from pathlib import Path

from sgs.core.store import Store
from sgs.core.types import Generation, Task
from sgs.tui.clock import FrozenClock

NOW = "2025-03-02T12:41:10.000+00:00"
STARTED = "2025-03-02T12:30:00.000+00:00"


def clock() -> FrozenClock:
    return FrozenClock(NOW)


REF_RELU = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(16, 1024)]


def get_init_inputs():
    return []
'''

REF_SOFTMAX = REF_RELU.replace("torch.relu(x)", "torch.softmax(x, dim=-1)")


def candidate(body: str, extra: str = "") -> str:
    return f'''import torch
import torch.nn as nn
{extra}

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
{body}
'''


RELU_BODIES = [
    # (body, outcome, speedup, flags, error)
    ("        return torch.relu(x)", "correct", 1.02, ["reference_equivalent"], None),
    ("        return x.clamp_min(0)", "correct", 1.31, [], None),
    ("        return torch.where(x > 0, x, torch.zeros_like(x))", "correct", 0.84, [], None),
    ("        return x * (x > 0)", "correct", 1.12, [], None),
    ("        return torch.relu_(x)", "correct", 12.5, ["speedup_over_10x"], None),
    ("        return x.abs()", "incorrect", None, [], "max |diff| 3.1e-01 exceeds atol 1e-04"),
    ("        return relu_cuda(x)", "compile_error", None, [], "error: identifier \"blockDim\" is undefined"),
    ("        return (x + x.abs()) / 2", "correct", 0.97, [], None),
]

SOFTMAX_BODIES = [
    ("        return torch.softmax(x, dim=-1)", "correct", 1.0, ["reference_equivalent"], None),
    ("        e = (x - x.amax(-1, keepdim=True)).exp()\n        return e / e.sum(-1, keepdim=True)", "correct",
     1.45, [], None),
    ("        return x.exp() / x.exp().sum(-1, keepdim=True)", "incorrect", None, [], "nan in output"),
    ("        return torch.nn.functional.softmax(x, -1)", "correct", 1.03, [], None),
]

SURPRISALS = [97.2, 612.4, 188.0, 530.1, 401.7, 250.3, 330.0, 144.9]


def _generation(text: str, surprisal: float, n_tokens: int) -> Generation:
    tokens = [f"t{i}" for i in range(n_tokens)]
    return Generation(text=text, tokens=tokens, logprobs=[-surprisal / n_tokens] * n_tokens,
                      offsets=list(range(n_tokens)), finish_reason="stop", latency_s=1.5, prompt_tokens=300)


def build_fixture_db(path: str | Path) -> Path:
    path = Path(path)
    store = Store(path)
    relu = Task("builtin/relu", "builtin", None, None, "relu", REF_RELU)
    softmax = Task("builtin/softmax", "builtin", None, None, "softmax", REF_SOFTMAX)
    config = {"task_ids": [relu.id, softmax.id], "k": 8, "backend": "scripted", "model": "replies.jsonl",
              "eval": {"mode": "fast", "device": "cpu"}, "sampling": {"temperature": 1.0, "max_tokens": 512}}
    prov = {"versions": {"cpu": "x86_64", "cpu_count": 2}}
    finished = store.create_run(name="fixture search", kind="search", backend="scripted", model="replies.jsonl", k=8,
                                prompt_style="body", rank_by="surprisal", logprob_mode="raw", config=config,
                                provenance=prov, tasks=[relu, softmax])
    for task, bodies in ((relu, RELU_BODIES), (softmax, SOFTMAX_BODIES)):
        for idx, (body, outcome, speedup, flags, error) in enumerate(bodies):
            code = candidate(body)
            text = f"Here is the kernel:\n```python\n{code}```\n"
            sid = store.add_sample(finished, task.id, idx, _generation(text, SURPRISALS[idx], 400 + 20 * idx),
                                   code=code, code_kind="torch", code_start=text.index("```python") + 10,
                                   code_end=text.index("```python") + 10 + len(code), extraction_error=None,
                                   logprob_mode="raw")
            result = {"outcome": outcome, "speedup": speedup, "error": error, "flags": flags,
                      "hardware": "CPU x86_64 ×2 threads", "max_abs_diff": 0.0 if outcome == "correct" else 0.31}
            if speedup is not None:
                result["candidate_ms"] = {"median": 0.8 / speedup, "iqr": 0.01}
                result["reference_ms"] = {"median": 0.8}
                result["speedup_ci"] = [speedup * 0.95, speedup * 1.05]
            store.finish_evaluation(sid, finished, task.id, result)
    store.set_run_status(finished, "running")
    store.set_run_status(finished, "finished")
    # a second run cut off halfway: interrupted (dead pid, stale heartbeat)
    cut = store.create_run(name="cut off", kind="search", backend="hf", model="embedded", k=4, prompt_style="body",
                           rank_by="surprisal", logprob_mode="raw", config={**config, "k": 4}, provenance=prov,
                           tasks=[relu])
    for idx in range(2):
        code = candidate(RELU_BODIES[idx + 1][0])
        sid = store.add_sample(cut, relu.id, idx, _generation(code, SURPRISALS[idx], 300), code=code,
                               code_kind="torch", code_start=0, code_end=len(code), extraction_error=None,
                               logprob_mode="raw")
        store.finish_evaluation(sid, cut, relu.id, {"outcome": "correct", "speedup": 1.1 + idx, "flags": []})
    store.set_run_status(cut, "running")
    _pin_times(store, finished, cut)
    store.close()
    return path


def _pin_times(store: Store, finished: int, cut: int) -> None:
    db = store.db
    db.execute("UPDATE runs SET created_at = ?, started_at = ?, finished_at = ?, heartbeat_at = ?, pid = 1, host = 'h' "
               "WHERE id = ?", [STARTED, STARTED, "2025-03-02T12:39:30.000+00:00", "2025-03-02T12:39:30.000+00:00",
                                finished])
    db.execute("UPDATE runs SET created_at = ?, started_at = ?, heartbeat_at = ?, pid = 999999999, host = 'gone' "
               "WHERE id = ?", ["2025-03-01T09:00:00.000+00:00", "2025-03-01T09:00:00.000+00:00",
                                "2025-03-01T09:05:00.000+00:00", cut])
    rows = db.execute("SELECT id, run_id FROM samples ORDER BY id").fetchall()
    for n, (sid, run_id) in enumerate(rows):
        base = STARTED if run_id == finished else "2025-03-01T09:00:00.000+00:00"
        minute, second = divmod(10 + n * 20, 60)
        hh, mm = base[11:13], int(base[14:16]) + minute
        created = f"{base[:11]}{hh}:{mm:02d}:{second:02d}.000+00:00"
        db.execute("UPDATE samples SET created_at = ? WHERE id = ?", [created, sid])
        done = f"{base[:11]}{hh}:{mm:02d}:{second + 5:02d}.000+00:00"
        db.execute("UPDATE evaluations SET started_at = ?, finished_at = ? WHERE sample_id = ?", [created, done, sid])
    db.execute("UPDATE sample_scores SET created_at = ?", [STARTED])


def write_replies(path: str | Path, n: int = 3) -> Path:
    """Replies for the scripted backend: correct rewrites of builtin/relu in the body style."""
    path = Path(path)
    bodies = ["return x.clamp_min(0)", "return torch.where(x > 0, x, torch.zeros_like(x))", "return x * (x > 0)"]
    with path.open("w") as f:
        for body in bodies[:n]:
            f.write(json.dumps({"text": f"```python\n{body}\n```"}) + "\n")
    return path


def screen_text(app) -> str:
    """What a person would read on the app's screen right now (no colour)."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens,
                                                       simplify=True))
    return console.export_text()


def table_rows(table) -> list[list[str]]:
    return [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


def table_dicts(table) -> list[dict[str, str]]:
    """Rows as {column key: text shown}, for the columns the table shows at its width."""
    keys = [c.key.value for c in table.columns.values()]
    return [dict(zip(keys, row)) for row in table_rows(table)]


async def wait_for(pilot, predicate, timeout: float = 10.0, step: float = 0.05) -> None:
    """Let the app run until `predicate()` holds (thread workers report back asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a widget not mounted yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(step)


def notified(app, text: str) -> bool:
    """Whether a notification (toast) holding `text` was shown."""
    return any(text in n.message for n in app._notifications)


# -- a run built to stress 80 columns: a long task name, long lines, long errors, a flagged 41x pick --
WIDE_TASK = "L1/12"
WIDE_NAME = "Diag_matmul_of_a_name_too_long_for_eighty_columns"
LONG_LINE = ("        return torch.diag(A).unsqueeze(1) * B if A.dim() == 1 else A.diagonal().unsqueeze(1) * B"
             "  # no matmul")
LONG_ERROR = "RuntimeError: " + "shape mismatch in the fused kernel's second stage; " * 4


def add_wide_run(path: str | Path) -> int:
    """Run 3: one task whose samples exercise widths; tokens carry real offsets (the scripted tokenizer)."""
    from sgs.core.backends.scripted import tokenize

    store = Store(path)
    task = Task(WIDE_TASK, "kernelbench", 1, 12, WIDE_NAME, REF_RELU)
    config = {"task_ids": [task.id], "k": 4, "backend": "scripted", "model": "replies.jsonl",
              "eval": {"mode": "fast", "device": "cpu"}, "sampling": {"temperature": 1.0, "max_tokens": 512}}
    run = store.create_run(name="wide", kind="search", backend="scripted", model="replies.jsonl", k=4,
                           prompt_style="body", rank_by="surprisal", logprob_mode="raw", config=config,
                           provenance={"versions": {"cpu": "x86_64", "cpu_count": 2}}, tasks=[task])
    comments = "".join(f"        # step {n}: nothing to see\n" for n in range(60))
    bodies = [
        ("        return A.unsqueeze(1) * B", "correct", 3.1, [], None),
        (comments + LONG_LINE, "correct", 41.2, ["speedup_over_10x"], None),
        ("        return torch.diag(A) @ B.t()", "runtime_error", None, [], LONG_ERROR),
        ("        return torch.diag(A) @ B", "correct", 0.93, [], None),
    ]
    for idx, (body, outcome, speedup, flags, error) in enumerate(bodies):
        code = candidate(body)
        text = f"Here:\n```python\n{code}```\n"
        tokens, offsets = tokenize(text)
        # one token the model was very unsure of: 'diagonal' in the long line
        logprobs = [-9.0 if "diagonal" in tok else -0.2 - (n % 7) * 0.3 for n, tok in enumerate(tokens)]
        gen = Generation(text=text, tokens=tokens, logprobs=logprobs, offsets=offsets, finish_reason="stop")
        start = text.index("```python") + 10
        sid = store.add_sample(run, task.id, idx, gen, code=code, code_kind="torch", code_start=start,
                               code_end=start + len(code), extraction_error=None, logprob_mode="raw")
        result = {"outcome": outcome, "speedup": speedup, "error": error, "flags": flags, "hardware": "CPU x86_64"}
        if speedup is not None:
            result["candidate_ms"] = {"median": 0.8 / speedup, "iqr": 0.01}
            result["reference_ms"] = {"median": 0.8}
        store.finish_evaluation(sid, run, task.id, result)
    store.set_run_status(run, "running")
    store.set_run_status(run, "finished")
    db = store.db
    db.execute("UPDATE runs SET created_at = ?, started_at = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?",
               [STARTED, STARTED, "2025-03-02T12:35:00.000+00:00", "2025-03-02T12:35:00.000+00:00", run])
    db.execute("UPDATE samples SET created_at = ? WHERE run_id = ?", ["2025-03-02T12:31:00.000+00:00", run])
    db.execute("UPDATE evaluations SET started_at = ?, finished_at = ? WHERE run_id = ?",
               ["2025-03-02T12:31:00.000+00:00", "2025-03-02T12:31:05.000+00:00", run])
    store.close()
    return run


def wide_sample_id(path: str | Path, idx: int) -> int:
    with Store(path) as store:
        return next(c.sample_id for c in store.candidates(3, WIDE_TASK) if c.sample_idx == idx)


def visible_cells(app) -> list[tuple[str, "object", "object"]]:
    """(text, foreground, background) of every run of same-styled cells on the screen, as drawn."""
    import io

    from rich.console import Console
    from rich.segment import Segment

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    out = []
    for seg in console.render(update):
        if isinstance(seg, Segment) and seg.text.strip() and seg.style is not None:
            out.append((seg.text, seg.style.color, seg.style.bgcolor))
    return out


def contrast(fg, bg) -> float:
    """WCAG contrast ratio of two rich colours (truecolor)."""
    def lum(color):
        r, g, b = (c / 255 for c in color.get_truecolor())
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# -- a training run (batch TTT) with known per-step results --------------------
TRAINING_TASKS = ["builtin/relu", "builtin/relu6"]
_F, _S, _X = (True, 2.0), (True, 0.5), (False, None)    # fast, slow, wrong (correct, speedup)
# sample-level fast_1 per step: 2/8, 5/8, 3/8, 5/8 -> best-of-adaptation is step 1 (the earliest of the best)
TRAINING_PLAN = [
    {"builtin/relu": [_F, _S, _X, _X], "builtin/relu6": [_F, _X, _X, _X]},
    {"builtin/relu": [_F, _F, _F, _S], "builtin/relu6": [_F, _F, _X, _X]},
    {"builtin/relu": [_F, _F, _X, _X], "builtin/relu6": [_F, _S, _S, _S]},
    {"builtin/relu": [_F, _F, _F, _F], "builtin/relu6": [_F, _X, _X, _X]},
]


def add_training_step(store, training_id: int, step: int) -> int:
    """One step as the training loop records it: its run of samples, evaluated, rewarded, probed, updated."""
    from sgs.core.engine import RunConfig, create_run
    from sgs.core.tasks import get_task

    tasks = [get_task(t) for t in TRAINING_TASKS]
    run_id = create_run(store, RunConfig(task_ids=TRAINING_TASKS, k=4, backend="scripted", model="m",
                                         name=f"ttt {training_id} step {step}"), tasks, logprob_mode="raw")
    store.start_training_step(training_id, step, f"/ckpt/step-{step}")
    store.set_training_step_run(training_id, step, run_id)
    rows = []
    for task in TRAINING_TASKS:
        for idx, (correct, speedup) in enumerate(TRAINING_PLAN[step][task]):
            code = f"code {task} {step} {idx}"
            sid = store.add_sample(run_id, task, idx, Generation(text=code, tokens=[code], logprobs=[-1.0 - idx]),
                                   code=code, code_kind="torch", code_start=0, code_end=len(code),
                                   extraction_error=None, logprob_mode="raw")
            store.finish_evaluation(sid, run_id, task, {"outcome": "correct" if correct else "incorrect",
                                                         "speedup": speedup,
                                                         "speedup_ci": [speedup and speedup * 0.9, None]})
            store.add_training_sample(sid, training_id, step, [1])
            rows.append({"sample_id": sid, "correct": correct, "speedup": speedup, "reward": float(correct),
                         "advantage": 0.0})
    store.record_step_rewards(training_id, step, rows, {"window": 32, "correct_bonus": 0.0, "history": {}})
    store.merge_step_metrics(training_id, step, {
        "probe": {"rho": -0.2 - 0.01 * step, "rho_bottom_quartile": -0.24 - 0.05 * step},
        "diversity": {"distinct_codes": 8 - step, "distinct_share": (8 - step) / 8, "mean_edit_distance": 40.0},
        "sample_s": 12.0})
    if step < len(TRAINING_PLAN) - 1:
        store.merge_step_metrics(training_id, step, {"update": {"loss": -0.1 * (step + 1), "seconds": 3.0}})
        store.record_step_update(training_id, step, f"/ckpt/step-{step + 1}")
    return run_id


def add_training_run(path, n_steps: int = len(TRAINING_PLAN), status: str = "finished", *, pin: bool = False):
    """Training run (batch TTT, 3 update steps) with `n_steps` steps recorded; (store, id).

    Left "running" it belongs to this process (alive). `pin`: its times fixed for snapshots.
    """
    from sgs.core.tasks import get_task
    from sgs.core.training import TrainingConfig, create_training

    store = Store(path)
    config = TrainingConfig(task_ids=TRAINING_TASKS, k=4, steps=3, backend="hf", model="m", name="ttt check")
    tid = create_training(store, config, [get_task(t) for t in TRAINING_TASKS])
    store.set_training_status(tid, "running")
    for step in range(n_steps):
        add_training_step(store, tid, step)
    if status != "running":
        store.set_training_status(tid, status)
    if pin:
        store.db.execute("UPDATE training_runs SET created_at = ?, started_at = ?, finished_at = ?, heartbeat_at = ?, "
                         "pid = 1, host = 'h' WHERE id = ?", [STARTED, STARTED, "2025-03-02T12:39:30.000+00:00",
                                                              "2025-03-02T12:39:30.000+00:00", tid])
    return store, tid
