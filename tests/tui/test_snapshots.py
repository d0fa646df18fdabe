"""Snapshots of every screen at 80x24 and at 120x40 on the fixture database, with the clock frozen.

Each screen's text (what a person reads, without colour) is compared with a
committed file under snapshots/; each test also asserts the text a user
depends on, since a new snapshot cannot fail. After a deliberate change,
look at the new screens and regenerate:

    SGS_UPDATE_SNAPSHOTS=1 python -m pytest tests/tui/test_snapshots.py -p no:cacheprovider
"""
import os
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from sgs.core.store import Store
from sgs.tui.clipboard import SaveCode
from sgs.tui.screens.candidates import CandidatesScreen
from sgs.tui.screens.confirm import Confirm
from sgs.tui.screens.diff import DiffScreen
from sgs.tui.screens.help import HelpScreen
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.new_run import NewRunScreen
from sgs.tui.screens.runs import RunsScreen
from sgs.tui.screens.sample import SampleScreen
from sgs.tui.screens.stats import StatsScreen
from sgs.tui.screens.training import TrainingRunScreen, TrainingRunsScreen
from tui_fixtures import WIDE_TASK, screen_text, wait_for, wide_sample_id

pytestmark = pytest.mark.anyio
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SGS_UPDATE_SNAPSHOTS") == "1"
SIZES = ((80, 24), (120, 40))


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with SGS_UPDATE_SNAPSHOTS=1 after checking the screen"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        import difflib

        diff = "\n".join(difflib.unified_diff(expected.splitlines(), text.splitlines(), "snapshot", "now",
                                              lineterm=""))
        pytest.fail(f"{name} differs from its snapshot:\n{diff}")


async def settle(pilot):
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


async def both_sizes(app, pilot, name: str, ready, *, everywhere=(), wide=()) -> dict[tuple, str]:
    """Snapshot the current screen at each size; `everywhere` must read at both, `wide` at 120x40 only."""
    texts = {}
    for size in SIZES:
        await pilot.resize_terminal(*size)
        await wait_for(pilot, ready)
        await settle(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == size[1] and all(len(line) <= size[0] for line in lines)
        for must in everywhere + (wide if size == SIZES[1] else ()):
            assert must in text, f"{name} at {size}: {must!r} missing"
        check(f"{name}_{size[0]}x{size[1]}", text)
        texts[size] = text
    return texts


def rows(app, table_id: str) -> int:
    return app.screen.query_one(table_id, DataTable).row_count


async def test_runs_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await both_sizes(app, pilot, "runs", lambda: rows(app, "#runs-table") == 2,
                         everywhere=("2 runs in fixture.db", "oracle fast_1", "fixture search", "‖ interrupted",
                                     "■ finished", "⏎ Open", "? Keys"),
                         wide=("tasks×K", "started", "scripted/replies.jsonl"))


async def test_live_screen(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=SIZES[0]) as pilot:
        await both_sizes(app, pilot, "live", lambda: isinstance(app.screen, LiveScreen) and app.screen.progress
                         and len(app.screen.query_one("#log").lines) > 10,
                         everywhere=("■ finished", "top3 pick", "#4 12.50×!", "12/16 sampled", "finished in 9m30s",
                                     "nan in output", "⏎ Candidates", "t Top3/oracle"),
                         wide=("fixture search", "CPU x86_64 ×2 threads"))


async def test_live_screen_of_a_run_that_failed_to_start(make_app, fixture_db, monkeypatch):
    from sgs.core.engine import EvalOptions, RunConfig, create_run
    from sgs.core.tasks import get_task

    monkeypatch.chdir(fixture_db.parent)   # the log's path, relative, reads the same on every machine
    store = Store(fixture_db)
    run_id = create_run(store, RunConfig(task_ids=["builtin/relu"], k=4, backend="scripted", model="gone.jsonl",
                                         eval=EvalOptions(device="cpu")), [get_task("builtin/relu")],
                        logprob_mode="raw")
    log = fixture_db.parent / "sgs-logs" / f"run-{run_id}.log"
    log.parent.mkdir()
    log.write_text("Traceback (most recent call last):\n  File \"engine.py\", line 204, in backend\n"
                   "BackendError: scripted backend needs replies or a JSONL file; 'gone.jsonl' is not a file\n"
                   f"run {run_id} failed to start: BackendError: scripted backend needs replies\n")
    store.set_run_status(run_id, "failed", "BackendError: scripted backend needs replies or a JSONL file; "
                                           "'gone.jsonl' is not a file")
    store.set_run_progress(run_id, phase="failed_to_start", log_path=f"sgs-logs/run-{run_id}.log")
    store.db.execute("UPDATE runs SET created_at = ?, finished_at = ? WHERE id = ?",
                     ["2025-03-02T12:40:00.000+00:00", "2025-03-02T12:40:05.000+00:00", run_id])
    app = make_app(open_run=run_id)
    async with app.run_test(size=SIZES[0]) as pilot:
        await both_sizes(app, pilot, "live_failed_to_start",
                         lambda: isinstance(app.screen, LiveScreen) and app.screen.failure is not None
                         and "e Retry" in screen_text(app),
                         everywhere=("✗ failed to start", "failed to start: BackendError", "is not a file",
                                     "last lines:", "│ Traceback", "e Retry"))


async def test_candidates_screen(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(3, WIDE_TASK))
        await both_sizes(app, pilot, "candidates", lambda: rows(app, "#cands-table") == 4,
                         everywhere=("Expert Tail", "picked by", "41.20×!", "runtime_error", "oracle top3",
                                     "⏎ Open", "space Mark", "d Diff", "t Top3/oracle"),
                         wide=("runtime", "tokens", "error / first line", "RuntimeError: shape mismatc…",
                               "return A.unsqueeze(1) * B"))


async def test_sample_screen_code_surprisal_and_evaluation(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(SampleScreen(3, wide_sample_id(wide_db, 1)))

        def ready():
            return isinstance(app.screen, SampleScreen) and app.screen.sample is not None

        await both_sizes(app, pilot, "sample", ready,
                         everywhere=("L1/12 #1 · correct · 41.20×! · ! speedup_over_10x", "Surprisal 4",
                                     "# step 0: nothing to see", "y Copy", "w Save"))
        await pilot.press("4")
        await both_sizes(app, pilot, "sample_surprisal", ready,
                         everywhere=("scored by generator", "−log p (nats):", "≥8", "# step 0"),
                         wide=("per line: left of │",))
        await pilot.press("3")
        await both_sizes(app, pilot, "sample_evaluation", ready,
                         everywhere=("outcome", "41.20×", "speedup_over_10x", "CPU x86_64"))


async def test_diff_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: rows(app, "#cands-table") == 8)
        await pilot.press("space", "down", "down", "down", "space", "d")   # two marked samples: #1 and #6
        await both_sizes(app, pilot, "diff", lambda: isinstance(app.screen, DiffScreen) and app.screen.rows,
                         everywhere=("1 changed block", "#1 S=612.4 1.31×", "#6 S=330.0 compile_error",
                                     "x.clamp_min(0)", "relu_cuda(x)", "│", "y Copy"))


async def test_stats_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(StatsScreen(1))
        await both_sizes(app, pilot, "stats", lambda: app.screen.plots is not None,
                         everywhere=("surprisal-top3", "most-confident", "Spearman", "best-of-K fast_1", "o oracle",
                                     "K (log scale)", "NLL/token vs speedup", "Expert Tail (3)", "1×"))


async def test_training_screens(make_app, training_db):
    training_db(pin=True)
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(TrainingRunsScreen())
        await both_sizes(app, pilot, "training_runs", lambda: rows(app, "#training-table") == 1,
                         everywhere=("training runs · 1 run", "ttt check", "■ finished", "4/4", "⏎ Steps"))
        app.push_screen(TrainingRunScreen(1))
        await both_sizes(app, pilot, "training_steps", lambda: rows(app, "#steps-table") == 4,
                         everywhere=("training run 1 · ttt", "★ 1", "0.625", "-0.2000", "★ best-of-adaptation: step 1",
                                     "⏎ Samples"),
                         wide=("ρ q1", "-0.390", "equivalent K 2.4"))


async def test_new_run_screen(make_app, monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(NewRunScreen())
        await wait_for(pilot, lambda: app.screen.tasks and app.screen.fields_ready)
        app.screen.query_one("#filter", Input).value = "soft"
        await wait_for(pilot, lambda: app.screen.shown == ["builtin/softmax"])
        app.screen.query_one("#k", Input).focus()
        await both_sizes(app, pilot, "new_run", lambda: app.screen.shown == ["builtin/softmax"],
                         everywhere=("builtin/softmax", "1 of 10 shown", "Start run", "^s Start",
                                     "▼ sampling", "K (samples per task) 8", "▶ evaluation", "▶ model backend",
                                     "▶ run"))


async def test_help_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: rows(app, "#cands-table") == 8)
        await pilot.press("question_mark")
        await both_sizes(app, pilot, "help", lambda: isinstance(app.screen, HelpScreen),
                         everywhere=("Keys: candidates (esc closes)", "This screen",
                                     "Mark the sample for a diff"),
                         wide=("Tables", "filter the rows by text"))


async def test_confirm_and_save_dialogs(make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and rows(app, "#runs-table") == 2)
        await pilot.press("down", "D")
        await both_sizes(app, pilot, "confirm_delete", lambda: isinstance(app.screen, Confirm),
                         everywhere=("Delete run 1 (fixture search)?", "12 samples and 12 evaluations",
                                     "Cancel (n)"))
        await pilot.press("n")
        app.push_screen(SampleScreen(1, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen) and app.screen.sample is not None)
        await pilot.press("w")
        texts = await both_sizes(app, pilot, "save_code", lambda: isinstance(app.screen, SaveCode),
                                 everywhere=("Save", "bytes of code (enter saves, esc cancels)"))
        assert re.search(r"sgs-code/run1_builtin-relu_s1\.py", texts[SIZES[1]])


async def test_readable_without_colour(make_app, monkeypatch):
    """NO_COLOR: the tail, picks and review marks are characters, not colours."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.pause()
        app.push_screen(CandidatesScreen(1, "builtin/relu"))
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 8)
        await settle(pilot)
        svg = app.export_screenshot()
        text = screen_text(app)
        assert "▌   1 #1" in text and "12.50×!" in text and "oracle top3" in text
        # monochrome: no hue in the exported picture, only greys
        # the window buttons and default text colour that every exported picture carries
        chrome = {"ff5f57", "febc2e", "28c840", "c5c8c6"}
        colours = set(re.findall(r"#([0-9a-f]{6})", svg)) - chrome
        hues = sorted(c for c in colours if not c[0:2] == c[2:4] == c[4:6])
        assert colours and not hues, hues
