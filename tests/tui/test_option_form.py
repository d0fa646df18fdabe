"""The new-run form has the options of `sgs run`: the same names, defaults, choices and ranges, checked by one table.

Each test drives the mounted form and the real `sgs run` parser side by side,
so a field added to one and not the other, or validated differently, fails.
"""
import argparse
import json
import os
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from sgs.cli import build_parser
from sgs.cli.run import build_config
from sgs.core.engine import RunConfig
from sgs.core.options import OPTIONS
from sgs.tui.option_form import LEFT_OUT, PICKER, OptionField, run_config, texts_of_run
from sgs.tui.screens.new_run import NewRunScreen
from sgs.tui.screens.runs import RunsScreen
from sgs.tui.settings import config_path
from tui_fixtures import notified, screen_text, wait_for

pytestmark = pytest.mark.anyio
KERNELBENCH = Path(os.environ.get("SGS_TEST_KERNELBENCH", Path(__file__).resolve().parents[2] / ".." / "shared"
                                  / "kernelbench"))


@pytest.fixture(autouse=True)
def _no_kernelbench_env(monkeypatch):
    monkeypatch.delenv("SGS_KERNELBENCH", raising=False)


def run_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["run"]


def table_actions(parser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.dest in OPTIONS}


def parser_verdict(action: argparse.Action, text: str):
    """What `sgs run` makes of `--flag text`: ('ok', value) or ('error', its one line)."""
    try:
        return "ok", action.type(text)
    except argparse.ArgumentTypeError as exc:
        return "error", str(exc)


def form_verdict(row: OptionField, text: str):
    from sgs.core.errors import OptionError

    row.widget.value = text
    try:
        return "ok", row.value()
    except OptionError as exc:
        return "error", str(exc)


async def open_form(app, pilot):
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen) and app.screen.tasks
                   and app.screen.fields_ready)
    return await app.screen.fields.reveal_all()   # every group opened, so that every field is mounted


def probes(option) -> list[str]:
    """Texts at and around the edges of what an option takes."""
    if option.type in (int, float):
        texts = ["", "x", "1.5", "-1", "0"]
        for edge in (option.minimum, option.maximum):
            if edge is not None:
                texts += [f"{edge:g}", f"{edge - 1:g}", f"{edge + 1:g}"]
        return texts
    return ["", "  ", "auto", "cpu", "cuda:1", "tpu", "http://127.0.0.1:8000/v1", "ftp://x", "MY_KEY", "sk-a b",
            "/tmp", "embedded"]


async def test_the_form_has_every_option_of_sgs_run_with_its_default(make_app):
    parser = run_parser()
    actions = table_actions(parser)
    defaults = vars(parser.parse_args([]))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = await open_form(app, pilot)
        # every option of `sgs run` is a field, or is given by the picker, or is left out for a stated reason
        assert set(rows) | set(PICKER) | set(LEFT_OUT) == set(actions)
        assert not set(rows) & (set(PICKER) | set(LEFT_OUT))
        assert {"device", "timeout", "compile_timeout", "atol", "rtol", "seed", "base_url", "kernelbench",
                "time_top", "audit"} <= set(rows)
        for name, row in rows.items():
            assert row.value() == defaults[name], f"{name}: the form starts at {row.value()!r}"
        # the picker's filters offer the parser's split subsets
        subset = app.screen.query_one("#subset", Select)
        assert {v for _, v in subset._options} == set(OPTIONS["subset"].choice_list())


async def test_each_field_takes_and_refuses_what_sgs_run_does_with_the_same_message(make_app):
    actions = table_actions(run_parser())
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = await open_form(app, pilot)
        for name, row in rows.items():
            action, option = actions[name], row.option
            if isinstance(row.widget, Select):
                offered = {v for _, v in row.widget._options if v is not Select.NULL}
                accepted = {c for c in offered | {"bogus"} if parser_verdict(action, c)[0] == "ok"}
                assert offered == accepted == set(option.choice_list()), name
                assert any(v is Select.NULL for _, v in row.widget._options) == option.optional, name
                continue
            for text in probes(option):
                assert form_verdict(row, text) == parser_verdict(action, text), (name, text)


@pytest.mark.parametrize("argv", [
    # an OpenAI-compatible server, its key named by an environment variable, a budget, tolerances, timeouts
    ["--model", "qwen-coder", "--backend", "openai", "--base-url", "http://127.0.0.1:8000/v1", "--api-key-env",
     "MY_SERVER_KEY", "--endpoint", "completions", "--k", "16", "--temperature", "0.7", "--max-tokens", "900",
     "--device", "cpu", "--timeout", "30", "--compile-timeout", "120", "--atol", "0.001", "--rtol", "0.002",
     "--seed", "7", "--time-top", "3", "--audit", "2", "--rank-by", "mean_nll", "--name", "served"],
    # a local model by prefix, an adapter, the full evaluation mode
    ["--model", "hf/Qwen/Qwen2.5-Coder-7B-Instruct", "--adapter", "/ckpt/step-2", "--dtype", "bf16",
     "--eval-mode", "full", "--workers", "3", "--top-p", "0.9", "--top-k", "40", "--prompt-style", "kernel",
     "--seed", "11"],
])
async def test_the_form_makes_the_run_settings_sgs_run_makes(make_app, argv, monkeypatch):
    secret = "sk-never-stored-0123456789"
    monkeypatch.setenv("MY_SERVER_KEY", secret)
    cli = build_config(run_parser().parse_args(["builtin/relu", "builtin/swish", *argv]))[0]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = await open_form(app, pilot)
        given = dict(zip(argv[::2], argv[1::2]))
        for flag, text in given.items():
            row = rows[flag[2:].replace("-", "_")]
            if isinstance(row.widget, Select):
                row.widget.value = text
            else:
                row.widget.value = text
        await pilot.pause(0.1)
        app.screen.chosen = {"builtin/relu", "builtin/swish"}
        remembered, config = app.screen.read_form()
    assert config.to_dict() == cli.to_dict()
    assert secret not in json.dumps(config.to_dict()) and secret not in json.dumps(remembered.options)


async def test_only_the_options_the_chosen_backend_takes_show(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = await open_form(app, pilot)
        shown = lambda: {n for n, r in rows.items() if r.display and r.option.group == "backend"}  # noqa: E731
        assert shown() == {"backend", "model", "adapter", "dtype"}           # hf, the default backend
        rows["backend"].widget.value = "openai"
        await pilot.pause(0.1)
        assert shown() == {"backend", "model", "base_url", "api_key_env", "endpoint"}
        assert "base URL" in screen_text(app) and "API key variable" in screen_text(app)
        rows["backend"].widget.clear()
        rows["model"].widget.value = "tinker/openai/gpt-oss-120b"          # the backend named by the model
        await pilot.pause(0.1)
        assert shown() == {"backend", "model", "api_key_env", "adapter"}
        # a hidden field's value is not a setting of the run
        rows["model"].widget.value = "embedded"
        rows["base_url"].widget.value = "http://127.0.0.1:9/v1"
        app.screen.chosen = {"builtin/relu"}
        await pilot.pause(0.1)
        _, config = app.screen.read_form()
        assert config.backend == "hf" and config.backend_options == {}


def test_a_stored_run_fills_the_form_with_every_recorded_setting():
    from sgs.core.engine import EvalOptions
    from sgs.core.types import SamplingParams

    stored = RunConfig(task_ids=["builtin/relu"], k=4, backend="openai", model="m",
                       backend_options={"base_url": "http://h:1/v1", "api_key_env": "K", "max_n": 2},
                       sampling=SamplingParams(temperature=0.5, max_tokens=64), seed=99, name="again",
                       eval=EvalOptions(device="cpu", timeout_s=12.5, compile_timeout_s=30, atol=1e-3, time_top=3,
                                        audit=1, correctness_trials=2)).to_dict()
    texts = texts_of_run(stored)
    assert texts["seed"] == "99" and texts["timeout"] == "12.5" and texts["atol"] == "0.001"
    assert texts["base_url"] == "http://h:1/v1" and texts["time_top"] == "3"
    values = {name: OPTIONS[name].parse(text) for name, text in texts.items()}
    values.update(backend="openai", model="m")
    # what the form does not show (trial counts, a backend's own options) carries over
    assert run_config(values, ["builtin/relu"], stored).to_dict() == stored


@pytest.mark.skipif(not KERNELBENCH.is_dir(), reason="needs the shared KernelBench folder (SGS_TEST_KERNELBENCH)")
async def test_the_kernelbench_field_lists_its_tasks_and_goes_into_the_run(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        rows = await open_form(app, pilot)
        assert not any(t.startswith("L1/") for t in app.screen.shown)
        rows["kernelbench"].widget.value = str(tmp_path / "nowhere")
        await wait_for(pilot, lambda: notified(app, f"KernelBench folder not found: {tmp_path / 'nowhere'}"))
        assert "✗ KernelBench folder not found" in screen_text(app)
        rows["kernelbench"].widget.value = str(KERNELBENCH)
        await wait_for(pilot, lambda: any(t.startswith("L1/") for t in app.screen.shown))
        app.screen.chosen = {"L1/19"}
        _, config = app.screen.read_form()
        assert config.kernelbench == str(KERNELBENCH) and config.task_ids == ["L1/19"]
    assert not config_path().exists()
