"""scripts/report_ttt.py keeps one entry for its figure in screenshots/README.md, and
scripts/screenshots.py, which rewrites that README, keeps the entry."""
import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report_ttt():
    return load("report_ttt")


def entry(module, text: str) -> str:
    return "\n".join([module.MARK_START, text, module.MARK_END])


def test_the_entry_is_appended_once_then_replaced_in_place(report_ttt, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Screenshots\n\n## Runs\n\n![runs](runs.svg)\n", encoding="utf-8")
    report_ttt.write_entry(readme, entry(report_ttt, "first run"))
    report_ttt.write_entry(readme, entry(report_ttt, "second run"))
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Screenshots\n\n## Runs\n\n![runs](runs.svg)\n\n" + report_ttt.MARK_START)
    assert "second run" in text and "first run" not in text
    assert text.count(report_ttt.MARK_START) == 1 and text.endswith(report_ttt.MARK_END + "\n")


def test_the_entry_states_the_sizes_and_the_commands(report_ttt):
    args = type("Args", (), dict(tasks=["builtin/relu", "builtin/swish"], k=4, steps=2, temperature="0.25",
                                 max_tokens=96, model="embedded", lora_rank=16, lr="1e-4", seed=7))()
    text = report_ttt.readme_entry(args, [("sgs run builtin/relu builtin/swish --k 12", 90.0)],
                                   "training 1 (ttt): best-of-adaptation step 0, fast_1 0.000\nwrote 9 files")
    assert "2 tasks (builtin/relu, builtin/swish)" in text and "12 samples per task" in text
    assert "2 steps of K=4" in text and "not the paper's result" in text
    assert "sgs run builtin/relu builtin/swish --k 12    # 1.5 min" in text
    assert "training 1 (ttt): best-of-adaptation step 0" in text and "wrote 9 files" not in text


def test_screenshots_keeps_the_report_entry_when_it_rewrites_the_readme(report_ttt, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Screenshots\n\n## Old runs\n", encoding="utf-8")
    report_ttt.write_entry(readme, entry(report_ttt, "the figure"))
    load("screenshots").write_readme(readme, ["# Screenshots", "", "## Runs", ""])
    text = readme.read_text(encoding="utf-8")
    assert "## Old runs" not in text and "## Runs" in text
    assert entry(report_ttt, "the figure") in text
