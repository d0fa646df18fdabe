"""The option table: one declaration per run option, validated the same way by every front end."""
import math
import subprocess
import sys
from dataclasses import asdict

import pytest

from sgs.core import options as opts
from sgs.core.engine import RunConfig
from sgs.core.errors import OptionError


def test_every_default_is_valid_and_every_group_known():
    for option in opts.OPTIONS.values():
        assert option.group in opts.GROUPS, option.name
        assert option.check(option.default) == option.default, option.name


def test_out_of_range_values_are_refused_with_the_range_in_one_line():
    cases = {
        ("max_tokens", "0"): "--max-tokens must be a whole number from 1 to",
        ("k", "2.5"): "--k must be a whole number",
        ("timeout", "-1"): "--timeout must be a number > 0",
        ("timeout", "inf"): "--timeout must be a number > 0",
        ("compile_timeout", "nan"): "--compile-timeout must be a number > 0",
        ("temperature", "-1"): "--temperature must be a number from 0 to 10",
        ("top_p", "0"): "--top-p must be a number > 0 and <= 1",
        ("atol", "0"): "--atol must be a number > 0",
        ("device", "tpu"): "--device must be auto, cpu, cuda or cuda:N, got 'tpu'",
        ("eval_mode", "slow"): "--eval-mode must be one of fast, full",
        ("base_url", "localhost:8000"): "--base-url must be an http:// or https:// URL",
    }
    for (name, text), message in cases.items():
        with pytest.raises(OptionError) as exc:
            opts.parse(name, text)
        assert message in str(exc.value) and "\n" not in str(exc.value)


def test_valid_values_are_typed():
    assert opts.parse("max_tokens", " 64 ") == 64
    assert opts.parse("timeout", "2.5") == 2.5
    assert opts.parse("device", "cuda:3") == "cuda:3"
    assert opts.parse("atol", "") is None             # optional: empty means "by precision"
    assert opts.parse("detach", "yes") is True
    assert opts.validate("timeout", 5) == 5.0
    with pytest.raises(OptionError):
        opts.validate("k", True)                       # a bool is not a count
    with pytest.raises(OptionError):
        opts.validate("timeout", math.inf)


def test_a_key_given_for_its_variable_name_is_not_repeated():
    with pytest.raises(OptionError) as exc:
        opts.parse("api_key_env", "sk-live-abcdef0123")
    assert "sk-live" not in str(exc.value) and "environment variable name" in str(exc.value)


def test_registry_choices_follow_the_registries():
    from sgs.core.backends import BACKENDS
    from sgs.core.prompts import PROMPT_STYLES
    from sgs.core.surprisal import RANK_KEYS

    assert opts.get("backend").choice_list() == tuple(BACKENDS.names())
    assert opts.get("prompt_style").choice_list() == tuple(PROMPT_STYLES.names())
    assert opts.get("rank_by").choice_list() == RANK_KEYS


def test_stored_options_name_a_field_of_the_run_config():
    stored = asdict(RunConfig(task_ids=["builtin/relu"]))
    for option in opts.options("run"):
        if not option.stored:
            continue
        head, _, tail = option.config.partition(".")
        assert head in stored, option.name
        if tail and head != "backend_options":
            assert tail in stored[head], option.name


def test_the_evaluation_group_is_shared():
    evaluation = {"device", "eval_mode", "timeout", "compile_timeout", "atol", "rtol", "workers"}
    assert set(opts.EVALUATION) == evaluation
    budget = {"time_top", "audit"}
    assert set(opts.BUDGET) == budget
    assert set(opts.COMMANDS["import"]) == evaluation | budget
    assert set(opts.COMMANDS["eval"]) == evaluation - {"workers"}
    assert evaluation | budget <= set(opts.COMMANDS["run"])


def test_sgs_run_is_built_from_the_table_and_argv_round_trips():
    from sgs.cli import build_parser

    parser = build_parser()
    values = {"k": 4, "temperature": 0.7, "max_tokens": 128, "device": "cpu", "timeout": 9.0,
              "compile_timeout": 40.0, "atol": 1e-3, "eval_mode": "full", "detach": True}
    argv = ["run", "builtin/relu"] + [w for name, v in values.items() for w in opts.get(name).argv(v)]
    args = parser.parse_args(argv)
    for name, value in values.items():
        assert getattr(args, name) == value
    for option in opts.options("run"):
        assert getattr(parser.parse_args(["run"]), option.name) == option.default


def test_a_demo_default_is_checked_like_the_original():
    assert opts.with_default("timeout", 5.0).default == 5.0
    with pytest.raises(OptionError):
        opts.with_default("k", 0)


def test_importing_the_table_loads_no_heavy_package():
    code = ("import sys, sgs.core.options as o; o.options('run'); o.parse('k', '3'); "
            "print(sorted(m for m in ('torch', 'transformers', 'textual', 'numpy', 'sqlite_utils') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
