"""The app's pure logic: candidate table rows, diff alignment, formatting, form memory, the live feed."""
import json
import math

import pytest

from sgs.core.store import Candidate, Store
from sgs.core.types import Generation
from sgs.tui import fmt
from sgs.tui.data import DataSource, LiveFeed, candidate_rows, summarise
from sgs.tui.diffing import align, hunk_starts
from sgs.tui.settings import FormValues, load_form, save_form
from tui_fixtures import clock


def cand(idx, surprisal, outcome="correct", speedup=1.0, flags=(), code=None):
    return Candidate(sample_id=100 + idx, sample_idx=idx, task_id="t", code=code or f"v{idx}", surprisal=surprisal,
                     mean_nll=None if surprisal is None else surprisal / 100, n_tokens=100, outcome=outcome, speedup=speedup, flags=list(flags))


CANDS = [cand(0, 10.0, speedup=1.5), cand(1, 50.0, speedup=0.9), cand(2, 30.0, outcome="incorrect", speedup=None),
         cand(3, 40.0, speedup=20.0, flags=["speedup_over_10x"]), cand(4, 20.0, speedup=1.1),
         cand(5, None, outcome=None, speedup=None)]


def test_rows_rank_by_surprisal_descending_with_unscored_last():
    rows = candidate_rows(CANDS, sort_key="surprisal")
    assert [r.cand.sample_idx for r in rows] == [1, 3, 2, 4, 0, 5]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6]


def test_rows_sort_by_index_ascending_and_speedup_descending():
    assert [r.cand.sample_idx for r in candidate_rows(CANDS, sort_key="index")] == [0, 1, 2, 3, 4, 5]
    assert [r.cand.sample_idx for r in candidate_rows(CANDS, sort_key="speedup")] == [3, 0, 4, 1, 2, 5]
    assert [r.cand.sample_idx for r in candidate_rows(CANDS, sort_key="speedup", descending=False)][:4] == [1, 4, 0, 3]
    with pytest.raises(ValueError, match="unknown sort key"):
        candidate_rows(CANDS, sort_key="speed")


def test_correct_only_and_expert_tail():
    rows = candidate_rows(CANDS, correct_only=True)
    assert {r.cand.sample_idx for r in rows} == {0, 1, 3, 4}
    # 4 correct samples: the tail is the top quarter rounded up = 1 sample, the highest surprisal
    assert [r.cand.sample_idx for r in rows if r.tail] == [1]
    five = CANDS + [cand(6, 45.0, speedup=1.2)]
    tail = {r.cand.sample_idx for r in candidate_rows(five) if r.tail}
    assert tail == {1, 6}  # ceil(5 / 4) = 2


def test_picks_flags_and_the_table_without_flagged():
    rows = {r.cand.sample_idx: r for r in candidate_rows(CANDS)}
    assert rows[3].flagged and "oracle" in rows[3].picked_by
    assert rows[1].picked_by == ["surprisal"]
    assert rows[0].picked_by == ["most-confident"]
    summary = summarise(CANDS)
    assert summary.flagged_picks == ["oracle", "surprisal-top3"]
    assert summary.picks_unflagged["oracle"] == 0
    hidden = {r.cand.sample_idx: r for r in candidate_rows(CANDS, hide_flagged=True)}
    assert 3 not in hidden
    assert "oracle" in hidden[0].picked_by


def test_align_pads_changed_blocks_so_lines_stay_side_by_side():
    left = ["a", "b", "c", "d"]
    right = ["a", "B", "B2", "c", "e"]
    rows = align(left, right)
    assert [(r.left, r.right, r.tag) for r in rows] == [
        (0, 0, "equal"), (1, 1, "replace"), (None, 2, "insert"), (2, 3, "equal"), (3, 4, "replace")]
    assert hunk_starts(rows) == [1, 4]
    # every line of both sides appears exactly once, in order
    assert [r.left for r in rows if r.left is not None] == list(range(len(left)))
    assert [r.right for r in rows if r.right is not None] == list(range(len(right)))
    assert align(left, left) == [r for r in align(left, left) if r.tag == "equal"]


def test_formatting():
    assert fmt.bar(0, 8, 8) == "░" * 8
    assert fmt.bar(8, 8, 8) == "█" * 8
    assert fmt.bar(1, 16, 8) == "▌" + "░" * 7
    assert fmt.duration(5) == "5s" and fmt.duration(245) == "4m05s" and fmt.duration(7620) == "2h07m"
    assert fmt.speedup(None) == "-" and fmt.speedup(2.314) == "2.31×"
    assert fmt.ms(0.0123) == "12 µs" and fmt.ms(12.3) == "12.30 ms" and fmt.ms(1234) == "1.23 s"


def test_form_memory_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "sgs" / "tui.json"
    assert load_form(path) == FormValues()
    values = FormValues(options={"backend": "scripted", "model": "r.jsonl", "k": "16", "temperature": "0.7",
                                 "base_url": "http://127.0.0.1:8000/v1", "name": "one run only"},
                        tasks=["builtin/relu"])
    save_form(values, path)
    loaded = load_form(path)
    assert loaded.options == {k: v for k, v in values.options.items() if k != "name"}   # a name is per run
    assert loaded.tasks == ["builtin/relu"]
    data = json.loads(path.read_text())
    data["new_run"]["options"].update(k=["many"], api_key="sk-secret", temperature=True)
    path.write_text(json.dumps(data))
    loaded = load_form(path)
    assert "k" not in loaded.options and "temperature" not in loaded.options and loaded.options["model"] == "r.jsonl"
    assert "api_key" not in loaded.options and "sk-secret" not in repr(loaded)
    # the file as the form wrote it before its fields came from the option table
    path.write_text(json.dumps({"new_run": {"backend": "openai", "k": 4, "temperature": 0.5, "tasks": ["x"]}}))
    assert load_form(path) == FormValues(options={"backend": "openai", "k": "4", "temperature": "0.5"}, tasks=["x"])
    path.write_text("{not json")
    assert load_form(path) == FormValues()


def _add(store, run_id, task, idx, *, finish=None):
    gen = Generation(text="x", tokens=["a", "b"], logprobs=[-1.0, -2.0], offsets=[0, 1])
    sid = store.add_sample(run_id, task, idx, gen, code=f"code {idx}", code_kind="torch", code_start=0,
                           code_end=1, extraction_error=None, logprob_mode="raw")
    if finish:
        store.finish_evaluation(sid, run_id, task, finish)
    return sid


def test_live_feed_reports_each_event_once(fixture_db):
    source = DataSource(fixture_db, clock())
    feed = LiveFeed(source, 1, backlog=5)
    first = feed.poll()
    # the backlog: the latest 5 samples and 5 evaluations
    assert len([l for l in first.lines if l.kind == "sampled"]) == 5
    assert len([l for l in first.lines if l.kind == "evaluated"]) == 5
    assert first.changed and first.progress
    again = feed.poll()
    assert again.lines == [] and not again.changed

    store = Store(fixture_db)
    sid = _add(store, 1, "builtin/softmax", 4)
    s2 = _add(store, 1, "builtin/softmax", 5)
    # two evaluations finishing in the same millisecond are both reported, once
    for s in (sid, s2):
        store.finish_evaluation(s, 1, "builtin/softmax", {"outcome": "correct", "speedup": 2.0, "flags": []})
    store.db.execute("UPDATE evaluations SET finished_at = '2025-03-02T12:40:00.000+00:00' WHERE sample_id IN (?, ?)",
                     [sid, s2])
    update = feed.poll()
    assert sorted((l.kind, l.sample_idx) for l in update.lines) == [
        ("evaluated", 4), ("evaluated", 5), ("sampled", 4), ("sampled", 5)]
    assert update.changed
    assert {p["task_id"]: p["n_samples"] for p in update.progress}["builtin/softmax"] == 6
    s3 = _add(store, 1, "builtin/softmax", 6)
    store.finish_evaluation(s3, 1, "builtin/softmax", {"outcome": "incorrect", "error": "bad\nmore", "flags": []})
    store.db.execute("UPDATE evaluations SET finished_at = '2025-03-02T12:40:00.000+00:00' WHERE sample_id = ?", [s3])
    later = feed.poll()
    assert sorted((l.kind, l.sample_idx) for l in later.lines) == [("evaluated", 6), ("sampled", 6)]
    assert feed.poll().lines == []
    store.close()
    source.close()


def test_live_feed_caps_a_burst(fixture_db):
    source = DataSource(fixture_db, clock())
    feed = LiveFeed(source, 1, max_lines=3)
    feed.poll()
    store = Store(fixture_db)
    for idx in range(4, 8):
        _add(store, 1, "builtin/softmax", idx)
    update = feed.poll()
    assert len(update.lines) == 3 and update.dropped == 1
    assert [l.sample_idx for l in update.lines] == [5, 6, 7]
    store.close()
    source.close()


def test_runs_summary(fixture_db):
    source = DataSource(fixture_db, clock())
    runs = {r["id"]: r for r in source.runs()}
    assert runs[1]["effective_status"] == "finished" and runs[2]["effective_status"] == "interrupted"
    assert runs[1]["n_expected"] == 16 and runs[1]["n_evaluated"] == 12
    assert math.isclose(runs[1]["oracle_fast_1"], 1.0)
    with pytest.raises(LookupError):
        source.run(99)
    source.close()
