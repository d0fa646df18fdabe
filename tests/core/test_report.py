"""Reports from the store: tables as Markdown/JSON/CSV, figures as PNG/SVG, several runs pooled."""
import csv
import json
import random

import pytest

from sgs.cli import main
from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.report import build_report, load_run, run_summary, write_report
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.types import Generation

TASKS = ["builtin/relu", "builtin/swish", "builtin/softmax", "builtin/cumsum", "builtin/gelu_tanh"]


def add_run(store, seed, k=6, time_top=None, unscored=0):
    tasks = [get_task(t) for t in TASKS]
    config = RunConfig(task_ids=TASKS, k=k, backend="scripted", model="m", seed=seed,
                       eval=EvalOptions(device="cpu", time_top=time_top))
    run_id = create_run(store, config, tasks, logprob_mode="raw")
    rng = random.Random(seed)
    for task in tasks:
        for idx in range(k):
            n = rng.randint(5, 40)
            lps = None if idx < unscored else [-rng.uniform(0.05, 1.5) for _ in range(n)]
            gen = Generation(text=f"code {idx}", tokens=["t"] * n, logprobs=lps)
            sid = store.add_sample(run_id, task.id, idx, gen, code=f"# {task.id} {idx}\n", code_kind="torch",
                                   code_start=0, code_end=6, extraction_error=None, logprob_mode="raw")
            outcome = rng.choice(["correct", "correct", "incorrect"])
            result = {"outcome": outcome, "device": "cpu",
                      "phases": {"compile_s": 0.5, "correctness_s": 0.25, "timing_s": 1.0 if outcome == "correct" else None}}
            if outcome == "correct":
                s = rng.lognormvariate(0, 0.6)
                result.update(speedup=s, speedup_ci=[s * 0.9, s * 1.1], candidate_ms={"median": 1 / s},
                              reference_ms={"median": 1.0})
            store.finish_evaluation(sid, run_id, task.id, result)
    store.set_run_status(run_id, "running")
    store.set_run_status(run_id, "finished")
    return run_id


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "r.db")


def test_report_writes_every_table_in_three_formats(store, tmp_path):
    r1, r2 = add_run(store, 1), add_run(store, 2, unscored=1)
    report = build_report(store, [r1, r2], n_boot=200)
    written = write_report(report, tmp_path / "out")
    names = {p.name for p in written}
    assert {"report.md", "report.json", "strategies.csv", "tests.csv", "correlation.csv", "best_of_k.csv",
            "cost.csv"} <= names
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    scopes = {r["scope"] for r in data["tables"]["strategies"]}
    assert scopes == {f"run {r1}", f"run {r2}", f"pooled {r1}+{r2}"}
    pooled = [r for r in data["tables"]["strategies"] if r["scope"].startswith("pooled")]
    assert pooled[0]["n_tasks"] == 10                      # 5 tasks x 2 seeds
    assert {"fast_1", "fast_1_by_mean_nll", "equivalent_k", "fast_1_lo"} <= set(pooled[0])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## tests" in md and "surprisal-top3" in md
    assert f"run {r2}: 5 unscored samples (" in md
    rows = list(csv.DictReader(open(tmp_path / "out" / "tests.csv")))
    assert {"cohens_h", "wilcoxon_p", "sign_p"} <= set(rows[0])


def test_pooled_fast_1_is_the_mean_over_task_seed_units(store):
    r1, r2 = add_run(store, 3), add_run(store, 4)
    one = run_summary(load_run(store, r1))["rows"][0].fast_1
    two = run_summary(load_run(store, r2))["rows"][0].fast_1
    report = build_report(store, [r1, r2], n_boot=0)
    pooled = next(r for r in report.tables["strategies"] if r["scope"].startswith("pooled") and r["strategy"] == "oracle")
    assert pooled["fast_1"] == pytest.approx((one + two) / 2, abs=1e-4)


def test_cost_table_sums_phases(store):
    r1 = add_run(store, 5)
    report = build_report(store, [r1], n_boot=0)
    total = next(r for r in report.tables["cost"] if r["role"] == "all")
    n_correct = sum(c.correct for c in store.candidates(r1))
    assert total["evaluations"] == 30 and total["compile_s"] == pytest.approx(15.0)
    assert total["device_s"] == pytest.approx(30 * 0.25 + n_correct * 1.0)
    assert total["wall_s"] is not None


def test_a_budgeted_run_marks_what_it_cannot_compute(store):
    r1 = add_run(store, 6, time_top=3)
    summary = run_summary(load_run(store, r1))
    rows = {r.strategy: r for r in summary["rows"]}
    assert not rows["oracle"].computable and rows["oracle"].fast_1 is None
    assert rows["surprisal-top3"].computable
    assert summary["curve"] == [] and summary["sample_fast_1"] is None
    report = build_report(store, [r1], n_boot=0)
    assert report.tables["best_of_k"] == []
    assert any("--time-top 3" in n for n in report.notes)


def test_sgs_report_writes_figures(store, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    r1 = add_run(store, 7)
    out = tmp_path / "rep"
    assert main(["report", str(r1), "--db", str(store.path), "-o", str(out), "--n-boot", "100"]) == 0
    for name in ("best_of_k", "strategies", "nll_speedup"):
        for ext in ("png", "svg"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000
    assert "wrote" in capsys.readouterr().out


def test_sgs_report_without_matplotlib_writes_tables_and_says_so(store, tmp_path, capsys, monkeypatch):
    import sgs.core.figures as figures

    monkeypatch.setattr(figures, "have_matplotlib", lambda: False)
    r1 = add_run(store, 8)
    out = tmp_path / "rep"
    assert main(["report", str(r1), "--db", str(store.path), "-o", str(out), "--n-boot", "0"]) == 0
    printed = capsys.readouterr().out
    assert "matplotlib is not installed (pip install 'sgs[report]')" in printed
    assert (out / "strategies.csv").exists() and not (out / "strategies.png").exists()


def test_sgs_show_says_what_was_left_out_and_what_a_budget_cannot_compute(store, capsys):
    r1 = add_run(store, 9, time_top=3, unscored=2)
    assert main(["show", str(r1), "--db", str(store.path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    oracle = next(line for line in out.splitlines() if line.startswith("oracle"))
    assert oracle.split()[1:3] == ["n/a", "n/a"]
    top3 = next(line for line in out.splitlines() if line.startswith("surprisal-top3"))
    assert "n/a" not in top3
    assert "10 unscored samples (" in out and "left out of the strategies that rank by surprisal" in out
    assert "sample fast_1 n/a" in out and "--time-top 3" in out


def test_a_run_without_samples_still_reports(store, tmp_path):
    r1 = add_run(store, 10, k=0)
    r2 = add_run(store, 11, k=0)
    written = write_report(build_report(store, [r1, r2], n_boot=50), tmp_path / "empty")
    assert (tmp_path / "empty" / "report.md").exists() and len(written) >= 7
