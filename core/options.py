"""The options of a run, declared once: name, type, default, range, group, help.

`sgs run` builds its command-line options from this table, `sgs import
--evaluate` and `sgs eval` take its evaluation group, and the terminal app's
new-run form is generated from it. Every front end validates a value the same
way: `Option.parse(text)` for typed-in text, `Option.check(value)` for a value
already typed; both raise `OptionError` with the valid range in one line.

This module imports only the standard library (choices that come from a
registry are looked up when first asked for), so a form or a parser can be
built without loading torch, transformers or textual.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from .errors import OptionError

# The order in which forms and `--help` show the groups.
GROUPS = ("tasks", "sampling", "evaluation", "budget", "backend", "run")

GROUP_TITLES = {
    "tasks": "tasks",
    "sampling": "sampling",
    "evaluation": "evaluation (also for sgs import --evaluate and sgs eval)",
    "budget": "evaluation budget (also for sgs import)",
    "backend": "model backend",
    "run": "run",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One option of a run.

    `type` is int, float, str or bool. `choices` is a tuple of allowed texts
    or a callable that returns them (a registry's names, looked up lazily).
    `minimum`/`maximum` bound numbers (`exclusive_minimum`: the minimum itself
    is not allowed, as for a timeout). `optional`: None is a valid value, meaning
    "not given" (e.g. tolerances chosen by precision). `config` is where the
    value is recorded in the run's stored configuration (`sampling.max_tokens`,
    `eval.timeout_s`); None: the option steers this invocation only and is
    never stored with a run.
    """

    name: str
    type: type
    default: Any
    help: str
    group: str
    label: str = ""
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    optional: bool = False
    config: str | None = None
    check_text: Callable[[str], bool] | None = None   # extra rule for str options
    expected: str = ""                                 # what check_text accepts, for the message
    metavar: str | None = None
    echo: bool = True        # False: a bad value is not repeated in the message (it may be a secret)

    # -- naming -------------------------------------------------------------
    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        """A short label for a form field."""
        return self.label or self.name.replace("_", " ")

    @property
    def stored(self) -> bool:
        """Whether the value is recorded with a run (and so shown with it, and reused on resume)."""
        return self.config is not None

    def choice_list(self) -> tuple[str, ...] | None:
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    # -- validation ---------------------------------------------------------
    def describe(self) -> str:
        """The valid values, as the end of 'FLAG must be ...'."""
        choices = self.choice_list()
        if choices is not None:
            return "one of " + ", ".join(choices)
        if self.type is bool:
            return "true or false"
        if self.type in (int, float):
            noun = "a whole number" if self.type is int else "a number"
            low, high = self.minimum, self.maximum
            if low is not None and high is not None and not self.exclusive_minimum:
                return f"{noun} from {_num(low)} to {_num(high)}"
            parts = []
            if low is not None:
                parts.append(f"{'>' if self.exclusive_minimum else '>='} {_num(low)}")
            if high is not None:
                parts.append(f"<= {_num(high)}")
            return noun + (" " + " and ".join(parts) if parts else "")
        return self.expected or "a non-empty text"

    def _fail(self, got: Any) -> OptionError:
        # numbers as typed (got -1); texts quoted (got 'tpu'), so an empty one still shows
        plain = isinstance(got, str) and got.strip() and self.type in (int, float, bool)
        shown = (got if plain else repr(got)) if self.echo else "another value (not shown: it may be a secret)"
        return OptionError(f"{self.flag} must be {self.describe()}, got {shown}")

    def parse(self, text: str) -> Any:
        """A typed-in text as a valid value; OptionError (one line, with the range) otherwise."""
        raw = text.strip() if isinstance(text, str) else text
        if not isinstance(raw, str):
            return self.check(raw)
        if raw == "" and self.optional:
            return None
        if self.type is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise self._fail(text)
        if self.type is int:
            try:
                value: Any = int(raw)
            except ValueError:
                raise self._fail(text) from None
        elif self.type is float:
            try:
                value = float(raw)
            except ValueError:
                raise self._fail(text) from None
            if not math.isfinite(value):
                raise self._fail(text)
        else:
            value = raw
        try:
            return self.check(value)
        except OptionError:
            raise self._fail(text) from None

    def check(self, value: Any) -> Any:
        """`value` if it is valid for this option; OptionError (one line, with the range) otherwise."""
        if value is None:
            if self.optional:
                return None
            raise self._fail(value)
        if self.type is bool:
            if not isinstance(value, bool):
                raise self._fail(value)
            return value
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._fail(value)
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._fail(value)
            value = float(value)
        elif not isinstance(value, str) or not value.strip():
            raise self._fail(value)
        if self.type in (int, float):
            if self.minimum is not None and (value < self.minimum or (self.exclusive_minimum and value == self.minimum)):
                raise self._fail(value)
            if self.maximum is not None and value > self.maximum:
                raise self._fail(value)
        choices = self.choice_list()
        if choices is not None and value not in choices:
            raise self._fail(value)
        if self.check_text is not None and not self.check_text(value):
            raise self._fail(value)
        return value

    def argv(self, value: Any) -> list[str]:
        """The command-line words that give this option `value` (none for a default or an unset flag)."""
        if value is None or (self.type is bool and not value):
            return []
        if self.type is bool:
            return [self.flag]
        return [self.flag, repr(float(value)) if self.type is float else str(value)]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _device(text: str) -> bool:
    return text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text) is not None


def _url(text: str) -> bool:
    return re.match(r"https?://[^\s/]+", text) is not None


def _env_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None


def _backends() -> list[str]:
    from .backends import BACKENDS

    return BACKENDS.names()


def _prompt_styles() -> list[str]:
    from .prompts import PROMPT_STYLES

    return PROMPT_STYLES.names()


def _rank_keys() -> tuple[str, ...]:
    from .surprisal import RANK_KEYS

    return RANK_KEYS


_TABLE = [
    # -- tasks --------------------------------------------------------------
    Option("kernelbench", str, None, "a KernelBench checkout (levelN/ID_Name.py); default $SGS_KERNELBENCH",
           "tasks", label="KernelBench folder", optional=True, config="kernelbench", metavar="PATH"),
    Option("dataset_file", str, None, "rows of the KernelBench dataset as JSON lines (code, level, name, problem_id)",
           "tasks", label="dataset file", optional=True, config="dataset_file", metavar="FILE"),
    Option("split", str, None, "tasks of a split: a shipped name (l1_seed42) or a file", "tasks",
           optional=True, metavar="SPLIT"),
    Option("subset", str, "eval", "split subset (default eval)", "tasks", choices=("train", "eval", "all")),
    # -- sampling -----------------------------------------------------------
    Option("k", int, 8, "samples per task (default 8)", "sampling", label="K (samples per task)",
           minimum=1, maximum=100_000, config="k"),
    Option("temperature", float, 1.0, "sampling temperature (default 1.0; 0 = greedy)", "sampling",
           minimum=0.0, maximum=10.0, config="sampling.temperature"),
    Option("top_p", float, 1.0, "nucleus sampling mass (default 1.0 = off)", "sampling", label="top-p",
           minimum=0.0, maximum=1.0, exclusive_minimum=True, config="sampling.top_p"),
    Option("top_k", int, 0, "sample from the K most likely tokens (default 0 = off)", "sampling", label="top-k",
           minimum=0, maximum=1_000_000, config="sampling.top_k"),
    Option("max_tokens", int, 512, "tokens per sample at most (default 512)", "sampling", label="max tokens",
           minimum=1, maximum=1_000_000, config="sampling.max_tokens"),
    Option("prompt_style", str, "body", "body: the model writes ModelNew.forward's body; kernel: a whole ModelNew "
           "(default body)", "sampling", label="prompt style", choices=_prompt_styles, config="prompt_style"),
    Option("seed", int, None, "run seed for sampling and correctness inputs (default random; recorded)", "sampling",
           minimum=0, maximum=2**31 - 1, optional=True, config="seed"),
    # -- evaluation (shared by sgs run, sgs import --evaluate, sgs eval) ----
    Option("device", str, "auto", "evaluation device: auto, cpu, cuda, cuda:N (default auto)", "evaluation",
           check_text=_device, expected="auto, cpu, cuda or cuda:N", config="eval.device"),
    Option("eval_mode", str, "fast", "fast: 1 correctness / 5 timing trials; full: 5 / 50 (default fast)",
           "evaluation", label="evaluation mode", choices=("fast", "full"), config="eval.mode"),
    Option("timeout", float, 60.0, "seconds one candidate may run (default 60)", "evaluation",
           label="timeout (s)", minimum=0.0, exclusive_minimum=True, maximum=86_400.0, config="eval.timeout_s"),
    Option("compile_timeout", float, 300.0, "seconds one candidate's build may take (default 300)", "evaluation",
           label="compile timeout (s)", minimum=0.0, exclusive_minimum=True, maximum=86_400.0,
           config="eval.compile_timeout_s"),
    Option("atol", float, None, "absolute tolerance of the correctness check (default by precision: fp32 1e-4, "
           "fp16/bf16 1e-2)", "evaluation", minimum=0.0, exclusive_minimum=True, optional=True,
           config="eval.atol"),
    Option("rtol", float, None, "relative tolerance of the correctness check (default by precision)", "evaluation",
           minimum=0.0, exclusive_minimum=True, optional=True, config="eval.rtol"),
    Option("workers", int, None, "evaluation worker processes (default: by the machine)", "evaluation",
           minimum=1, maximum=1024, optional=True, config="eval.workers"),
    # -- evaluation budget (shared by sgs run and sgs import) ----------------
    Option("time_top", int, None, "evaluate under a surprisal budget: check down the ranking, time only the top N "
           "correct and the most confident one", "budget", label="time top N", minimum=1, maximum=100_000,
           optional=True, config="eval.time_top", metavar="N"),
    Option("audit", int, 0, "with --time-top: also evaluate M random samples the budget left out, per task",
           "budget", label="audit M", minimum=0, maximum=100_000, config="eval.audit", metavar="M"),
    # -- backend ------------------------------------------------------------
    Option("backend", str, None, "backend name (hf, openai, tinker, scripted); default hf, or the prefix of --model",
           "backend", choices=_backends, optional=True, config="backend"),
    Option("model", str, None, "model: 'embedded' (default), a HF id, a folder, a .gguf file, or backend/model",
           "backend", optional=True, config="model"),
    Option("base_url", str, None, "openai: server base URL, e.g. http://127.0.0.1:8000/v1", "backend",
           label="base URL", check_text=_url, expected="an http:// or https:// URL", optional=True,
           config="backend_options.base_url", metavar="URL"),
    Option("api_key_env", str, None, "openai/tinker: NAME of the environment variable holding the key "
           "(the key itself is never stored)", "backend", label="API key variable", check_text=_env_name,
           expected="an environment variable name", optional=True, config="backend_options.api_key_env",
           metavar="NAME", echo=False),
    Option("endpoint", str, None, "openai endpoint: chat or completions", "backend", choices=("chat", "completions"),
           optional=True, config="backend_options.endpoint"),
    Option("adapter", str, None, "hf: a peft LoRA adapter folder", "backend", optional=True,
           config="backend_options.adapter", metavar="DIR"),
    Option("dtype", str, None, "hf: auto (bf16 on GPUs and bf16-capable CPUs), bf16, fp16, fp32", "backend",
           choices=("auto", "bf16", "fp16", "fp32"), optional=True, config="backend_options.dtype"),
    # -- run ----------------------------------------------------------------
    Option("rank_by", str, "surprisal", "rank key: surprisal or mean_nll (default surprisal)", "run",
           label="rank by", choices=_rank_keys, config="rank_by"),
    Option("name", str, None, "a name for the run", "run", optional=True, config="name"),
    Option("resume", int, None, "continue an interrupted run", "run", minimum=1, optional=True, metavar="RUN_ID"),
    Option("detach", bool, False, "keep running after the terminal closes (log to a file); follow with sgs show "
           "or sgs tui", "run"),
    Option("quiet", bool, False, "no per-sample lines", "run"),
]

OPTIONS: dict[str, Option] = {o.name: o for o in _TABLE}

# Which options each command takes, in the order its --help lists them.
EVALUATION = tuple(o.name for o in _TABLE if o.group == "evaluation")
BUDGET = tuple(o.name for o in _TABLE if o.group == "budget")
COMMANDS: dict[str, tuple[str, ...]] = {
    "run": tuple(o.name for g in GROUPS for o in _TABLE if o.group == g),
    "import": EVALUATION + BUDGET,
    # one file, one evaluation: there are no workers to size
    "eval": tuple(n for n in EVALUATION if n != "workers"),
}


def get(name: str) -> Option:
    """The option called `name` (its attribute name, e.g. 'max_tokens')."""
    return OPTIONS[name]


def options(command: str = "run", group: str | None = None) -> list[Option]:
    """The options of a command ('run', 'import', 'eval'), optionally of one group, in display order."""
    chosen = [OPTIONS[n] for n in COMMANDS[command]]
    return [o for o in chosen if group is None or o.group == group]


def with_default(name: str, default: Any, help: str | None = None) -> Option:
    """The option with another default (e.g. the demo's shorter timeout), validated like the original."""
    option = OPTIONS[name]
    return replace(option, default=option.check(default) if default is not None else None,
                   help=help or option.help)


def parse(name: str, text: str) -> Any:
    """Validate a typed-in text for option `name`; OptionError (one line) if it is out of range."""
    return OPTIONS[name].parse(text)


def validate(name: str, value: Any) -> Any:
    """Validate a typed value for option `name`; OptionError (one line) if it is out of range."""
    return OPTIONS[name].check(value)


def defaults(command: str = "run") -> dict[str, Any]:
    return {o.name: o.default for o in options(command)}


__all__ = ["GROUPS", "GROUP_TITLES", "OPTIONS", "COMMANDS", "EVALUATION", "BUDGET", "Option", "OptionError", "get",
           "options", "with_default", "parse", "validate", "defaults"]
