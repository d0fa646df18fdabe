"""The result of one evaluation: its blank form, the speedup with its
interval and flags, and the final outcome."""
from __future__ import annotations

from .. import measure, verdict

# Outcomes caused by the evaluation's circumstances rather than by the
# candidate alone when other evaluations shared the device: re-run alone.
RERUN_ALONE = {"timeout"}


def blank(req: dict, versions: dict) -> dict:
    return {"task_id": req["task_id"], "kind": req["kind"], "mode": req["mode"], "outcome": None,
            "error": None, "max_abs_diff": None, "correct_trials": 0, "trials": req["correctness_trials"],
            "candidate_ms": None, "reference_ms": None, "reference_cached": False, "speedup": None,
            "speedup_ci": None, "hardware": None, "device": None, "flags": [], "robust": None,
            "timing_method": None, "tf32": "on" if req.get("tf32") else "off",
            "phases": {"compile_s": None, "correctness_s": None, "timing_s": None},
            "limits": {"timeout_s": req["timeout_s"], "compile_timeout_s": req["compile_timeout_s"],
                       "atol": req.get("atol"), "rtol": req.get("rtol")},
            "versions": dict(versions), "seed": req["seed"], "sandbox": None}


def needs_rerun_alone(session) -> bool:
    """A timeout or an out-of-memory failure met while other evaluations
    shared the device may be theirs as much as the candidate's, and a
    reference that failed while checking it is the evaluator's failure until
    it happens again with the device to themselves."""
    if session.alone:
        return False
    if session.reference_lost:
        return True
    return session.shared and (session.outcome in RERUN_ALONE or bool(session.out_of_memory))


def fill(result: dict, session) -> None:
    """Everything the session learnt, into the result."""
    ref = session.ref
    result["correct_trials"] = session.correct_trials
    if ref is None:
        return
    outcome = session.outcome
    result["max_abs_diff"] = session.max_diff if session.correct_trials or outcome == "incorrect" else None
    result["robust"] = all(session.robust) if session.robust else None
    if result["robust"] is False:
        result["flags"].append("not_robust")
    if ref.info.get("mutates_inputs"):
        result["flags"].append("reference_mutates_inputs")
    if ref.info.get("tiny_output"):
        result["flags"].append("reference_output_tiny")
    if outcome == "correct" and session.cand_times is not None and (session.ref_times or ref.timing):
        speedup(result, session.cand_times, session.ref_times or ref.timing, session.device)
        result["reference_timing"] = "paired" if session.ref_times else "cached"
        if ref.timing is not None:
            result["reference_cached_ms"] = verdict.stats(ref.timing["ms"])
    result["reference_cached"] = bool(ref.timing_cached)
    if ref.drift is not None:
        result["reference_drift"] = ref.drift
    result["reference_process"] = {"pid": ref.pid, "starts": ref.starts}


def speedup(result: dict, cand: dict, ref_timing: dict, device: str) -> None:
    c_ms, r_ms = cand["ms"], ref_timing["ms"]
    result["timing_method"] = cand["method"]
    c_ev, c_host = verdict.stats(c_ms), verdict.stats(cand["host_ms"])
    if device.startswith("cuda"):
        # Work left on other streams escapes the events but not a device-wide
        # synchronize: a large gap means the event time is not the cost.
        gap = c_host["median"] - c_ev["median"]
        result["event_host_gap_ms"] = gap
        if gap > 0.05 and c_host["median"] > 1.5 * c_ev["median"]:
            result["flags"].append("event_host_gap")
            c_ms, r_ms = cand["host_ms"], ref_timing.get("host_ms") or r_ms
            result["timing_method"] += " (host time used)"
        # One side paced by the host's launches, the other by the GPU: the
        # speedup moves with the host's speed, which pairing cannot hold.
        cand_hb = verdict.host_bound(cand["ms"], cand.get("enqueue_ms") or [])
        ref_hb = verdict.host_bound(ref_timing["ms"], ref_timing.get("enqueue_ms") or [])
        if cand_hb:
            result["flags"].append("host_bound_candidate")
        if ref_hb:
            result["flags"].append("host_bound_reference")
        if cand_hb is not None and ref_hb is not None and cand_hb != ref_hb:
            result["flags"].append("speedup_host_dependent")
    result["candidate_ms"] = verdict.stats(c_ms)
    result["reference_ms"] = verdict.stats(r_ms)
    # The trial times themselves, in the order taken, with the blocks they
    # came in: a paired timing alternates blocks, so an estimator can
    # resample them as pairs.
    result["candidate_trials_ms"] = [round(x, 6) for x in c_ms]
    result["reference_trials_ms"] = [round(x, 6) for x in r_ms]
    paired = bool(cand.get("blocks")) and len(cand.get("blocks") or []) == len(ref_timing.get("blocks") or [])
    if paired:
        result["timing_blocks"] = {"candidate": cand["blocks"], "reference": ref_timing["blocks"]}
    cm, rm = result["candidate_ms"]["median"], result["reference_ms"]["median"]
    if cm > 0:
        result["speedup"] = rm / cm
        if paired:
            result["speedup_ci"] = verdict.paired_speedup_ci(
                measure.blocks_of({"ms": r_ms, "blocks": ref_timing["blocks"]}),
                measure.blocks_of({"ms": c_ms, "blocks": cand["blocks"]}), seed=len(c_ms))
            result["speedup_ci_method"] = "paired block bootstrap"
        else:
            result["speedup_ci"] = verdict.speedup_ci(r_ms, c_ms, seed=len(c_ms))
            result["speedup_ci_method"] = "independent bootstrap"
        if result["speedup"] > 10:
            result["flags"].append("speedup_over_10x")


def finish(result: dict, outcome: str, error: str | None) -> dict:
    result["outcome"] = outcome
    result["error"] = None if outcome == "correct" else (error or outcome)
    if outcome != "correct":
        result["speedup"] = None
        result["speedup_ci"] = None
    result["flags"] = sorted(set(result["flags"]))
    return result
