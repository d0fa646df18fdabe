"""The new-run form's last values, kept in a small JSON file under the user's config folder.

Only form values live here: the text of each option field (by the option's
name in `sgs.core.options`), the task picker's filters and chosen tasks.
Never a key or token: the form has no field for one (only the *name* of the
environment variable that holds it), unknown names are dropped on load, and
a run's name is not remembered (it names one run).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

NOT_REMEMBERED = {"name"}
# the file's format before the form was generated from the option table: these keys sat at the top level
_OLD_TOP_LEVEL = ("backend", "model", "k", "temperature", "max_tokens", "prompt_style", "eval_mode")


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sgs" / "tui.json"


@dataclass
class FormValues:
    options: dict[str, str] = field(default_factory=dict)   # option name -> the text in its field
    source: str = ""           # "" = every source
    level: str = ""            # "" = every level
    split: str = ""            # "" = no split
    subset: str = "eval"
    tasks: list[str] = field(default_factory=list)


def _form_option_names() -> set[str]:
    from .option_form import form_options

    return {o.name for o in form_options()} - NOT_REMEMBERED


def _clean_options(raw) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    known = _form_option_names()
    out = {}
    for name, text in raw.items():
        if name in known and isinstance(text, (str, int, float)) and not isinstance(text, bool):
            out[name] = f"{text:g}" if isinstance(text, float) else str(text)
    return out


def load_form(path: Path | None = None) -> FormValues:
    """The remembered values, or the defaults when the file is missing or unreadable."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")).get("new_run", {})
    except (OSError, ValueError, AttributeError):
        return FormValues()
    if not isinstance(data, dict):
        return FormValues()
    options = _clean_options({k: data[k] for k in _OLD_TOP_LEVEL if k in data})
    options.update(_clean_options(data.get("options")))
    values: dict = {"options": options}
    for name in ("source", "level", "split", "subset"):
        if isinstance(data.get(name), str):
            values[name] = data[name]
    tasks = data.get("tasks")
    if isinstance(tasks, list) and all(isinstance(t, str) for t in tasks):
        values["tasks"] = tasks
    return FormValues(**values)


def save_form(values: FormValues, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(existing, dict):
            existing = {}
    except (OSError, ValueError):
        existing = {}
    data = asdict(values)
    data["options"] = {k: v for k, v in values.options.items() if k not in NOT_REMEMBERED}
    existing["new_run"] = data
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
