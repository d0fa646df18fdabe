"""sgs report --training: the files it writes, the figure, the line it prints, and bad training ids."""
import json
import sys
from pathlib import Path

import pytest

from sgs.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from report_training_db import build  # noqa: E402


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "t.db"
    store, bon, ttt, sdpo = build(path)
    store.close()
    return str(path), bon, ttt, sdpo


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_puts_trainings_beside_best_of_n_and_draws_the_figure(db, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path, bon, ttt, sdpo = db
    out = tmp_path / "rep"
    code, printed, _ = run_cli(capsys, "report", str(bon), "--training", str(ttt), "--training", str(sdpo),
                               "--db", path, "-o", str(out), "--n-boot", "0")
    assert code == 0
    for name in ("training_steps.csv", "training_vs_best_of_n.csv", "strategies.csv", "report.md", "report.json"):
        assert (out / name).is_file(), name
    for ext in ("png", "svg"):
        assert (out / f"training_vs_best_of_n.{ext}").stat().st_size > 5000
        assert (out / f"best_of_k.{ext}").is_file()
    svg = (out / "training_vs_best_of_n.svg").read_text()
    assert "best-of-adaptation" in svg and "equivalent K" in svg
    assert f"training {ttt} (ttt): best-of-adaptation step 1, fast_1 0.750 (noise-aware 0.500) after 6 samples " \
           f"per task; equivalent K 2.4 on the best-of-K curve of run {bon} (sample fast_1 0.375)" in printed
    assert f"training {sdpo} (sdpo-prompt-only): best-of-adaptation step 0" in printed


def test_a_training_run_alone_gives_its_step_table(db, tmp_path, capsys):
    path, _, ttt, _ = db
    out = tmp_path / "rep"
    code, printed, _ = run_cli(capsys, "report", "--training", str(ttt), "--db", path, "-o", str(out),
                               "--no-figures")
    assert code == 0
    data = json.loads((out / "report.json").read_text())
    assert data["runs"] == [] and data["training_runs"] == [ttt]
    assert [r["step"] for r in data["tables"]["training_steps"]] == [0, 1, 2]
    assert "best-of-N is the training's own step 0" in printed
    assert not (out / "strategies.csv").exists()


def test_default_folder_names_runs_and_trainings(db, tmp_path, capsys, monkeypatch):
    path, bon, ttt, _ = db
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "report", str(bon), "--training", str(ttt), "--db", path, "--no-figures",
                   "--n-boot", "0")[0] == 0
    assert (tmp_path / f"sgs-report-{bon}-t{ttt}" / "training_vs_best_of_n.csv").is_file()


def test_without_matplotlib_the_tables_are_written_and_one_line_says_so(db, tmp_path, capsys, monkeypatch):
    import sgs.core.figures as figures

    monkeypatch.setattr(figures, "have_matplotlib", lambda: False)
    path, bon, ttt, _ = db
    out = tmp_path / "rep"
    code, printed, _ = run_cli(capsys, "report", str(bon), "--training", str(ttt), "--db", path, "-o", str(out),
                               "--n-boot", "0")
    assert code == 0
    assert [line for line in printed.splitlines() if "matplotlib is not" in line] == \
        ["figures skipped: matplotlib is not installed (pip install 'sgs[report]')"]
    assert (out / "training_vs_best_of_n.csv").is_file() and not (out / "training_vs_best_of_n.png").exists()


@pytest.mark.parametrize("ref, message", [("99", "no training run 99 in"), ("nope", "no training run 'nope' in")])
def test_an_unknown_training_run_is_a_one_line_error_that_writes_nothing(db, tmp_path, capsys, ref, message):
    path, bon, _, _ = db
    out = tmp_path / "rep"
    code, _, err = run_cli(capsys, "report", str(bon), "--training", ref, "--db", path, "-o", str(out))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_best_of_n_on_other_tasks_is_a_one_line_error(tmp_path, capsys):
    from report_training_db import add_bon_run

    store, _, ttt, _ = build(tmp_path / "t.db")
    other = add_bon_run(store, {"builtin/relu": [(True, 2.0, 1.5)]}, tasks=["builtin/relu"])
    store.close()
    out = tmp_path / "rep"
    code, _, err = run_cli(capsys, "report", str(other), "--training", str(ttt), "--db", str(tmp_path / "t.db"),
                           "-o", str(out))
    assert code == 2 and "has no samples of builtin/relu6" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
