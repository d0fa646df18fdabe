"""The new-run form: task picker filters, form memory, validation, and runs started as detached processes."""
import json
import os
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Select, SelectionList

from sgs.core.engine import RunConfig, create_run
from sgs.core.engine import EvalOptions
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.types import SamplingParams
from sgs.tui.app import background_runs
from sgs.tui.clock import Clock
from sgs.tui.screens.live import LiveScreen
from sgs.tui.screens.new_run import NewRunScreen
from sgs.tui.screens.runs import RunsScreen
from sgs.tui.settings import config_path
from tui_fixtures import notified, screen_text, table_dicts, wait_for, write_replies

pytestmark = pytest.mark.anyio
KERNELBENCH = Path(os.environ.get("SGS_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared")) / "kernelbench"
if not KERNELBENCH.is_dir():
    KERNELBENCH = Path("/work/shared/kernelbench")


@pytest.fixture(autouse=True)
def _no_kernelbench_env(monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)


def shown(app) -> list[str]:
    return list(app.screen.shown)


async def open_form(app, pilot, *, open_all: bool = False):
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen) and app.screen.tasks
                   and app.screen.fields_ready)
    if open_all:   # the groups closed at first (evaluation, budget, backend, run) opened
        await app.screen.fields.reveal_all()


async def test_type_to_filter_toggle_and_select_all_shown(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        assert all(t.startswith("builtin/") for t in shown(app)) and len(shown(app)) >= 10
        await pilot.press(*"relu")
        await wait_for(pilot, lambda: shown(app) == ["builtin/matmul_bias_relu", "builtin/relu", "builtin/relu6"])
        task_list = app.screen.query_one("#task-list", SelectionList)
        task_list.focus()
        await pilot.press("down", "space")
        assert app.screen.chosen == {"builtin/relu"}
        assert "3 of" in screen_text(app) and "1 chosen" in screen_text(app)
        # typing while the list has focus goes on filtering
        await pilot.press("6")
        await wait_for(pilot, lambda: shown(app) == ["builtin/relu6"])
        assert app.screen.query_one("#filter", Input).value == "relu6"
        await pilot.press("ctrl+t")
        assert app.screen.chosen == {"builtin/relu", "builtin/relu6"}
        await pilot.press("ctrl+t")
        assert app.screen.chosen == {"builtin/relu"}
        # a chosen task stays chosen while filtered out of view
        app.screen.query_one("#filter", Input).value = ""
        await wait_for(pilot, lambda: len(shown(app)) >= 10)
        assert task_list.selected == ["builtin/relu"]


@pytest.mark.skipif(not KERNELBENCH.is_dir(), reason="needs the shared KernelBench folder")
async def test_filter_by_source_level_and_split_subset(make_app):
    app = make_app(kernelbench=str(KERNELBENCH))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        screen = app.screen
        screen.query_one("#source", Select).value = "kernelbench"
        await wait_for(pilot, lambda: shown(app) and not any(t.startswith("builtin/") for t in shown(app)))
        screen.query_one("#level", Select).value = "2"
        await wait_for(pilot, lambda: shown(app) and all(t.startswith("L2/") for t in shown(app)))
        screen.query_one("#level", Select).value = ""
        screen.query_one("#split", Select).value = "l1_seed42"
        from sgs.core.splits import split_task_ids

        eval_ids = split_task_ids("l1_seed42", "eval")
        await wait_for(pilot, lambda: shown(app) == [t for t in eval_ids if t in shown(app)] and len(shown(app)) == 20)
        screen.query_one("#subset", Select).value = "train"
        await wait_for(pilot, lambda: len(shown(app)) == 80)
        assert not set(shown(app)) & set(eval_ids)


async def test_bad_values_are_refused_and_nothing_starts(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_form(app, pilot, open_all=True)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "no tasks chosen"))
        app.screen.chosen = {"builtin/relu"}
        app.screen.query_one("#k", Input).value = "0"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "--k must be a whole number from 1 to 100000, got 0"))
        app.screen.query_one("#k", Input).value = "4"
        app.screen.query_one("#temperature", Input).value = "hot"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "--temperature must be a number from 0 to 10, got hot"))
        assert app.focused is app.screen.query_one("#temperature", Input)   # the field to fix
        app.screen.query_one("#temperature", Input).value = "0.7"
        app.screen.query_one("#audit", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "--audit needs --time-top (it samples what the budget left out)"))
        assert app.launched == [] and not config_path().exists()


async def wait_db(predicate, timeout=120.0):
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the database"
        await asyncio.sleep(0.25)


async def test_starts_a_detached_run_that_outlives_the_app(tmp_path):
    from sgs.tui.app import SgsApp

    db = tmp_path / "runs.db"
    replies = write_replies(tmp_path / "replies.jsonl", 2)
    app = SgsApp(db, clock=Clock())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_form(app, pilot, open_all=True)
        screen = app.screen
        screen.query_one("#backend", Select).value = "scripted"
        screen.query_one("#model", Input).value = str(replies)
        screen.query_one("#k", Input).value = "2"
        screen.query_one("#max_tokens", Input).value = "64"
        screen.query_one("#name", Input).value = "from the form"
        screen.query_one("#filter", Input).value = "relu"
        await wait_for(pilot, lambda: "builtin/relu" in shown(app))
        screen.chosen = {"builtin/relu"}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=90)
        run_id = app.screen.run_id
        assert app.launched == [run_id]
    # the app is closed; the run goes on in its own session
    run = Store(db).get_run(run_id)
    assert run["name"] == "from the form" and run["backend"] == "scripted" and run["k"] == 2
    assert run["config"]["sampling"]["max_tokens"] == 64
    await wait_db(lambda: Store(db).get_run(run_id)["pid"] is not None)
    pid = Store(db).get_run(run_id)["pid"]
    if Store(db).get_run(run_id)["status"] == "running":
        assert os.getsid(pid) != os.getsid(0)
        assert [r["id"] for r in background_runs(db)] == [run_id]
    await wait_db(lambda: Store(db).get_run(run_id)["status"] == "finished")
    assert len(Store(db).candidates(run_id)) == 2
    # the form remembers its values for next time
    saved = json.loads(config_path().read_text())["new_run"]
    assert saved["options"]["backend"] == "scripted" and saved["options"]["k"] == "2"
    assert saved["tasks"] == ["builtin/relu"] and saved["options"]["model"] == str(replies)
    assert "name" not in saved["options"]   # a name belongs to one run
    app = SgsApp(db, clock=Clock())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        screen = app.screen
        assert screen.query_one("#k", Input).value == "2"
        assert screen.chosen == {"builtin/relu"}
        # the backend's group is closed, its remembered value held; opened, its field has it
        assert screen.fields.row("backend") is None and screen.fields.text("backend") == "scripted"
        await screen.fields.reveal("backend")
        assert screen.query_one("#backend", Select).value == "scripted"


async def test_resumes_an_interrupted_run_in_the_background(tmp_path):
    from sgs.tui.app import SgsApp

    db = tmp_path / "resume.db"
    replies = write_replies(tmp_path / "replies.jsonl", 2)
    store = Store(db)
    config = RunConfig(task_ids=["builtin/relu"], k=2, backend="scripted", model=str(replies),
                       sampling=SamplingParams(max_tokens=64), eval=EvalOptions(device="cpu"), name="cut")
    run_id = create_run(store, config, [get_task("builtin/relu")], logprob_mode="raw")
    # a run whose process died: 'running' with a dead pid and an old heartbeat
    store.db.execute("UPDATE runs SET status = 'running', pid = 999999999, host = ?, heartbeat_at = ? WHERE id = ?",
                     [os.uname().nodename, "2020-01-01T00:00:00.000+00:00", run_id])
    app = SgsApp(db, clock=Clock())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs)
        assert "interrupted" in table_dicts(app.screen.query_one("#runs-table"))[0]["status"]
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=90)
        assert app.launched == [run_id] and app.screen.run_id == run_id
    await wait_db(lambda: Store(db).get_run(run_id)["status"] == "finished")
    assert len(Store(db).candidates(run_id)) == 2


@pytest.mark.slow
async def test_starts_a_run_with_the_embedded_model(tmp_path):
    from sgs.tui.app import SgsApp

    db = tmp_path / "embedded.db"
    app = SgsApp(db, clock=Clock())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, open_all=True)
        screen = app.screen
        screen.query_one("#backend", Select).value = "hf"
        screen.query_one("#model", Input).value = "embedded"
        screen.query_one("#k", Input).value = "1"
        screen.query_one("#max_tokens", Input).value = "24"
        screen.chosen = {"builtin/relu"}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=120)
        run_id = app.screen.run_id
        await wait_for(pilot, lambda: table_dicts(app.screen.query_one("#tasks"))[0]["evaluated"].startswith("1/1"),
                       timeout=400)
    await wait_db(lambda: Store(db).get_run(run_id)["status"] == "finished", timeout=120)


async def test_focus_is_visible_down_enters_the_list_and_errors_fit_one_line(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, open_all=True)
        screen = app.screen
        # Down from the filter goes into the list it filters
        screen.query_one("#filter", Input).focus()
        await pilot.press(*"relu", "down")
        assert app.focused is screen.query_one("#task-list", SelectionList)
        # the focused field's label is reversed: where the keys go shows without colour
        screen.query_one("#k", Input).focus()
        await pilot.pause(0.1)
        k_label = screen.query_one("#row-k Label")
        other = screen.query_one("#row-model Label")
        assert k_label.styles.text_style.reverse and not other.styles.text_style.reverse
        # the line under the form says what the focused field is and what it takes
        assert "--k: samples per task (default 8); a whole number from 1 to 100000" in screen_text(app)
        # a bad value: one line under the form as it is typed, the table's own message
        screen.query_one("#k", Input).value = "8.5"
        await pilot.pause(0.1)
        message = str(screen.query_one("#form-message").render())
        assert message.strip() == "✗ --k must be a whole number from 1 to 100000, got 8.5" and "\n" not in message
        assert screen.query_one("#row-k").has_class("-invalid")
        screen.chosen = {"builtin/relu"}
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert app.launched == []


async def test_an_api_key_in_the_environment_never_reaches_the_runs_settings(tmp_path, monkeypatch):
    from sgs.tui.app import SgsApp

    secret = "sk-this-must-not-be-stored-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    db = tmp_path / "k.db"
    app = SgsApp(db, clock=Clock(), colour_mode="full")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot, open_all=True)
        screen = app.screen
        screen.query_one("#backend", Select).value = "openai"
        screen.query_one("#model", Input).value = "some-model"
        screen.chosen = {"builtin/relu"}
        values, config = screen.read_form()
    assert secret not in json.dumps(config.to_dict()) and secret not in json.dumps(values.__dict__)


async def test_closed_groups_open_from_the_keyboard_and_their_values_count_unopened(make_app, tmp_path):
    import json as json_

    from sgs.tui.option_form import GroupTitle

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(json_.dumps({"new_run": {"options": {"timeout": "12.5", "name": "x"},
                                                      "tasks": ["builtin/relu"]}}))
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_form(app, pilot)
        screen, fields = app.screen, app.screen.fields
        # tasks and sampling are open; the other groups are one title line each, their fields not mounted
        text = screen_text(app)
        assert "▼ sampling" in text and "▶ evaluation" in text and "▶ model backend" in text
        assert fields.row("k") is not None and fields.row("timeout") is None and fields.row("backend") is None
        # a remembered value of a closed group goes into the run without the group being opened
        _, config = screen.read_form()
        assert config.eval.timeout_s == 12.5 and fields.row("timeout") is None
        # Tab reaches a group's title (reversed, and the line under the form names its fields); Enter opens it
        title = screen.query_one("#group-evaluation", GroupTitle)
        screen.query_one("#row-seed Input").focus()
        await pilot.press("tab")
        assert app.focused is title and title.styles.text_style.reverse
        assert "evaluation (enter opens or closes): device, evaluation mode, timeout (s)" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: fields.row("timeout") is not None and fields.row("timeout").display)
        assert screen.query_one("#timeout", Input).value == "12.5"
        await pilot.press("tab")
        assert app.focused is screen.query_one("#device", Input)
        # Enter again closes it, and its fields keep what they hold
        title.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not fields.row("timeout").display)
        assert "▶ evaluation" in screen_text(app) and fields.text("timeout") == "12.5"
        # a bad value in a closed group: starting opens the group and puts the focus on the field to fix
        fields.texts["audit"] = "-1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "--audit must be a whole number from 0 to 100000, got -1"))
        assert app.focused is screen.query_one("#audit", Input) and fields.row("audit").display
        assert app.launched == []
