"""The benchmark's figures from the database, the candidates' labels, the
driver's segments and the KernelBench baseline: a JSON-able dict and a
Markdown rendering of it."""
from __future__ import annotations

import json
import sqlite3
import statistics
from pathlib import Path

from .templates import EXPECTED_OUTCOME, LABELS

OUTCOMES = ("correct", "incorrect", "runtime_error", "compile_error", "crashed", "timeout")
PHASES = ("compile_s", "correctness_s", "timing_s", "build_slot_wait_s", "total_s")
TARGETS = {"wall_s": 20 * 60, "per_min": 64.0, "ratio": 10.0}


def load_labels(path: Path) -> dict[tuple[str, int], dict]:
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            row.pop("code", None)
            out[(row["task"], int(row["sample_idx"]))] = row
    return out


def load_results(db: Path, run_id: int) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cur = conn.execute(
            """SELECT s.task_id, s.sample_idx, e.state, e.outcome, e.error, e.flags_json, e.result_json
               FROM samples s LEFT JOIN evaluations e ON e.sample_id = s.id WHERE s.run_id = ?
               ORDER BY s.task_id, s.sample_idx""", [run_id])
        rows = []
        for task, idx, state, outcome, error, flags, result in cur.fetchall():
            done = state == "done"
            rows.append({"task": task, "sample_idx": idx, "done": done, "outcome": outcome if done else None,
                         "error": error, "flags": json.loads(flags or "[]"),
                         "result": json.loads(result) if (done and result) else {}})
        return rows
    finally:
        conn.close()


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "sum": 0.0, "median": None, "p90": None, "max": None}
    s = sorted(values)
    return {"n": len(s), "sum": round(sum(s), 1), "median": round(statistics.median(s), 3),
            "p90": round(s[min(len(s) - 1, int(0.9 * len(s)))], 3), "max": round(s[-1], 3)}


def confusion(results: list[dict], labels: dict) -> dict:
    """Rows: labels; columns: the evaluator's outcomes (plus 'other' and
    'not evaluated'). A cell on the diagonal is the outcome the label expects."""
    cols = list(OUTCOMES) + ["other", "not evaluated"]
    matrix = {label: {c: 0 for c in cols} for label in LABELS}
    agree, disagreements = 0, []
    for r in results:
        lab = labels.get((r["task"], r["sample_idx"]))
        if lab is None:
            continue
        col = "not evaluated" if not r["done"] else (r["outcome"] if r["outcome"] in OUTCOMES else "other")
        matrix[lab["label"]][col] += 1
        if not r["done"]:
            continue
        if r["outcome"] == EXPECTED_OUTCOME[lab["label"]]:
            agree += 1
        else:
            disagreements.append({"task": r["task"], "sample_idx": r["sample_idx"], "label": lab["label"],
                                  "variant": lab.get("variant"), "outcome": r["outcome"],
                                  "error": (r["error"] or "")[:240]})
    return {"columns": cols, "matrix": matrix, "agree": agree, "disagreements": disagreements}


def flag_check(results: list[dict], labels: dict) -> dict:
    """reference_equivalent raised where expected, and never on a rewrite."""
    expected = missed = false_flags = 0
    by_variant: dict = {}
    for r in results:
        lab = labels.get((r["task"], r["sample_idx"]))
        if lab is None or not r["done"] or r["outcome"] != "correct":
            continue
        flagged = "reference_equivalent" in r["flags"]
        if lab.get("reference_equivalent"):
            n, f = by_variant.get(lab["variant"], (0, 0))
            by_variant[lab["variant"]] = (n + 1, f + flagged)
        if "reference_equivalent" in (lab.get("expect_flags") or []):
            expected += 1
            missed += not flagged
        elif lab.get("variant") == "rewrite" and flagged:
            false_flags += 1
    return {"expected": expected, "missed": missed, "flagged_rewrites": false_flags,
            "reference_equivalent_by_variant": {k: f"{f}/{n} flagged" for k, (n, f) in sorted(by_variant.items())}}


def reference_failures(results: list[dict]) -> list[dict]:
    out = []
    for r in results:
        if r["done"] and ("reference_failed" in r["flags"] or (r["error"] or "").startswith("reference")):
            out.append({"task": r["task"], "sample_idx": r["sample_idx"], "error": (r["error"] or "")[:240]})
    return out


def phases(results: list[dict]) -> dict:
    """Each phase the results name (the evaluator's own keys; the usual ones
    first), over the evaluations that have it."""
    keys = list(PHASES) + sorted({k for r in results if r["done"] for k in (r["result"].get("phases") or {})}
                                 - set(PHASES))
    out = {}
    for key in keys:
        values = []
        for r in results:
            v = (r["result"].get("phases") or {}).get(key) if r["done"] else None
            if isinstance(v, (int, float)):
                values.append(float(v))
        out[key] = _stats(values)
    return out


def baseline_summary(records: list[dict], k: int = 64) -> dict | None:
    """KernelBench's time per candidate, per task (wall of its subprocess, and
    the time inside eval_kernel_against_ref), and Σ K x mean."""
    if not records:
        return None
    per_task: dict[str, dict] = {}
    for rec in records:
        t = per_task.setdefault(rec["task"], {"wall_s": [], "eval_s": [], "verdicts": []})
        t["wall_s"].append(float(rec["wall_s"]))
        if rec.get("eval_s") is not None:
            t["eval_s"].append(float(rec["eval_s"]))
        t["verdicts"].append(f"{rec.get('label')}->{rec.get('verdict')}")
    total_wall = sum(k * statistics.fmean(t["wall_s"]) for t in per_task.values())
    total_eval = sum(k * statistics.fmean(t["eval_s"]) for t in per_task.values() if t["eval_s"])
    return {"tasks": len(per_task), "candidates": len(records), "k": k,
            "projected_wall_s": round(total_wall, 1), "projected_eval_s": round(total_eval, 1),
            "per_task": {task: {"mean_wall_s": round(statistics.fmean(t["wall_s"]), 2),
                                "mean_eval_s": round(statistics.fmean(t["eval_s"]), 2) if t["eval_s"] else None,
                                "verdicts": t["verdicts"]} for task, t in sorted(per_task.items())}}


def set_report(name: str, run_id: int | None, db: Path, labels: dict, segments: list[dict],
               baseline: dict | None, tasks_expected: int) -> dict:
    results = load_results(db, run_id) if run_id is not None and db.exists() else []
    done = sum(r["done"] for r in results)
    wall = sum(s["active_s"] for s in segments)
    gpu_peaks = [max(s["memory"]["gpu_peak_mib"]) for s in segments if (s.get("memory") or {}).get("gpu_peak_mib")]
    gpu_total = next((max(s["memory"]["gpu_total_mib"]) for s in segments
                      if (s.get("memory") or {}).get("gpu_total_mib")), None)
    host_peaks = [s["memory"]["host_peak_gib"] for s in segments if (s.get("memory") or {}).get("host_peak_gib")]
    out = {"set": name, "run_id": run_id, "candidates": len(labels), "evaluated": done,
           "finished": bool(results) and done == len(results) == len(labels),
           "segments": len(segments), "wall_s": round(wall, 1),
           "segment_list": [{k: seg.get(k) for k in ("segment", "started", "active_s", "ended", "done_before",
                                                      "done_after", "waited_for_stale_run_s")} for seg in segments],
           "per_min": round(60 * done / wall, 2) if wall else None,
           "peak_gpu_mib": max(gpu_peaks) if gpu_peaks else None, "gpu_total_mib": gpu_total,
           "peak_host_gib": max(host_peaks) if host_peaks else None,
           "phases": phases(results), "confusion": confusion(results, labels), "flags": flag_check(results, labels),
           "reference_failures": reference_failures(results)}
    if baseline is not None:
        out["baseline"] = baseline
        complete = baseline["tasks"] >= tasks_expected and out["finished"]
        out["ratio"] = round(baseline["projected_wall_s"] / wall, 2) if complete and wall else None
        out["ratio_in_call"] = round(baseline["projected_eval_s"] / wall, 2) if complete and wall else None
    return out


def _fmt(v, spec=".1f", none="-"):
    return none if v is None else format(v, spec)


def markdown(report: dict) -> str:
    lines = ["# Real workload through sgs import --evaluate", ""]
    for s in report["sets"]:
        c = s["confusion"]
        off = len(c["disagreements"])
        lines += [f"## Set `{s['set']}` (run {s['run_id']})", "",
                  "| metric | value | target |", "|---|---|---|",
                  f"| candidates evaluated | {s['evaluated']}/{s['candidates']}"
                  f"{'' if s['finished'] else ' (not finished)'} | all |",
                  f"| wall time (sum of {s['segments']} segment(s)) | {_fmt(s['wall_s'])} s | "
                  f"<= {TARGETS['wall_s']} s |",
                  f"| candidates per minute | {_fmt(s['per_min'], '.2f')} | >= {TARGETS['per_min']:g} |",
                  f"| verdicts as labelled | {c['agree']}/{s['evaluated']} ({off} off the diagonal) | all |",
                  f"| reference failures | {len(s['reference_failures'])} | 0 |",
                  f"| peak GPU memory | {_fmt(s['peak_gpu_mib'], '.0f')} MiB of {_fmt(s['gpu_total_mib'], '.0f')} | |",
                  f"| peak host memory | {_fmt(s['peak_host_gib'], '.1f')} GiB | |",
                  f"| reference_equivalent flags | {s['flags']['expected'] - s['flags']['missed']}/"
                  f"{s['flags']['expected']} expected raised, {s['flags']['flagged_rewrites']} on rewrites | |"]
        if "baseline" in s:
            b = s["baseline"]
            lines += [f"| KernelBench, projected (64 x mean per task, {b['tasks']} tasks, {b['candidates']} runs) | "
                      f"{_fmt(b['projected_wall_s'])} s wall, {_fmt(b['projected_eval_s'])} s in eval_kernel_against_ref | |",
                      f"| ratio (KernelBench / sgs) | {_fmt(s.get('ratio'), '.2f')} "
                      f"(in-call: {_fmt(s.get('ratio_in_call'), '.2f')}) | >= {TARGETS['ratio']:g} |"]
        if s["segment_list"]:
            lines += ["", "| segment | started (UTC) | active s | ended | evaluated before -> after |",
                      "|---|---|---|---|---|"]
            for seg in s["segment_list"]:
                lines.append(f"| {seg['segment']} | {seg['started']} | {_fmt(seg['active_s'])} | {seg['ended']} | "
                             f"{seg['done_before']} -> {seg['done_after']} |")
        lines += ["", "Confusion matrix (rows: label; columns: the evaluator's outcome; "
                  "`oom` expects `runtime_error`):", "",
                  "| label | " + " | ".join(c["columns"]) + " |", "|---|" + "---|" * len(c["columns"])]
        for label, row in c["matrix"].items():
            if any(row.values()):
                lines.append(f"| {label} | " + " | ".join(str(row[col]) for col in c["columns"]) + " |")
        lines += ["", "Time per phase, over evaluations (s):", "", "| phase | n | sum | median | p90 | max |",
                  "|---|---|---|---|---|---|"]
        for key, st in s["phases"].items():
            lines.append(f"| {key} | {st['n']} | {_fmt(st['sum'])} | {_fmt(st['median'], '.3f')} | "
                         f"{_fmt(st['p90'], '.3f')} | {_fmt(st['max'], '.3f')} |")
        if s["flags"]["reference_equivalent_by_variant"]:
            lines += ["", "reference_equivalent by variant: " + ", ".join(
                f"{k} {v}" for k, v in s["flags"]["reference_equivalent_by_variant"].items())]
        if c["disagreements"]:
            lines += ["", f"Off the diagonal ({off}):", ""]
            for d in c["disagreements"][:60]:
                lines.append(f"- {d['task']} #{d['sample_idx']} {d['label']} ({d['variant']}) -> {d['outcome']}: "
                             f"{d['error'].splitlines()[0] if d['error'] else ''}")
        for f in s["reference_failures"][:20]:
            lines.append(f"- reference failure {f['task']} #{f['sample_idx']}: {f['error']}")
        lines.append("")
    return "\n".join(lines)
