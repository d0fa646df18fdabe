"""Labels of the real-workload candidates agree with the real evaluator's
verdicts, on the CPU, with each task's sizes shrunk: 3 candidates per task,
kinds rotating over the tasks (every candidate: check_labels.py --all)."""
from real_workload import check_labels, generate


def test_sampled_candidates_get_the_verdict_of_their_label(kernelbench):
    rows = generate.build(kernelbench)
    chosen = check_labels.sample(rows, per_task=3)
    kinds = {name for name, test in check_labels.CATEGORIES if any(test(r) for r in chosen)}
    assert kinds == {name for name, _ in check_labels.CATEGORIES}
    records = check_labels.check(chosen, kernelbench, workers=2)
    assert len(records) == len(chosen) == 60
    bad = [r for r in records if not r["agree"]]
    assert bad == []


def test_a_mislabelled_candidate_is_reported(kernelbench):
    rows = generate.build(kernelbench, ["L1/5"])
    wrong = next(r for r in rows if r["label"] == "incorrect")
    relabelled = {**wrong, "label": "correct", "expected_outcome": "correct"}
    (record,) = check_labels.check([relabelled], kernelbench, workers=1)
    assert record["outcome"] == "incorrect" and not record["agree"]
