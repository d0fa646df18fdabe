"""The new-run form's last values, kept in a small JSON file under the user's config folder.

Only form values live here (backend name, model, K, ...); never a key or
token: the form has no field for one, and unknown keys are dropped on load.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sgs" / "tui.json"


@dataclass
class FormValues:
    backend: str = "hf"
    model: str = "embedded"
    k: int = 8
    temperature: float = 1.0
    max_tokens: int = 512
    prompt_style: str = "body"
    eval_mode: str = "fast"
    source: str = ""           # "" = every source
    level: str = ""            # "" = every level
    split: str = ""            # "" = no split
    subset: str = "eval"
    tasks: list[str] = field(default_factory=list)


def load_form(path: Path | None = None) -> FormValues:
    """The remembered values, or the defaults when the file is missing or unreadable."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")).get("new_run", {})
    except (OSError, ValueError, AttributeError):
        return FormValues()
    defaults = FormValues()
    values = {}
    for f in fields(FormValues):
        if f.name not in data:
            continue
        value, default = data[f.name], getattr(defaults, f.name)
        # a hand-edited file with a wrong type falls back to the default for that field
        if isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default)) and not isinstance(value, bool)
        if ok:
            values[f.name] = float(value) if isinstance(default, float) else value
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
    existing["new_run"] = asdict(values)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
