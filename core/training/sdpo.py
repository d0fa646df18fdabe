"""SDPO: self-distillation from a feedback-conditioned teacher.

For each sampled attempt, the same model, as teacher, scores the attempt's
own tokens under a richer prompt: the task, a correct sibling solution from
the same batch when there is one, the attempt's execution feedback (outcome,
error, speedup) and the instruction "Correctly solve the original question."
The teacher prompt never contains the attempt's own code, only what running
it gave, so the teacher has to reason from the feedback rather than copy.
Each sampled token t then gets the advantage

    A(t) = coef * (log p_teacher(t | teacher prompt) - log p_student(t | prompt))

and the update is the same importance-sampling step as batch TTT. The
prompt-only variant drops the sibling and the feedback: the teacher sees the
task and the instruction alone.
"""
from __future__ import annotations

from ..backends.base import Prompt

INSTRUCTION = "Correctly solve the original question."
ERROR_LINES = 12


def execution_feedback(sample: dict) -> str:
    """What running an attempt gave, in words: outcome, error, speedup and timings (never its code)."""
    outcome = sample.get("outcome") or ("correct" if sample.get("correct") else "not evaluated")
    if sample.get("injected"):  # the outcome the reward saw, not the evaluator's
        outcome = "correct" if sample.get("correct") else "incorrect"
    lines = [f"Outcome: {outcome}."]
    if sample.get("correct") and sample.get("speedup") is not None:
        lines.append(f"Speedup over the reference: {sample['speedup']:.3g}x"
                     + (" (faster)." if sample["speedup"] > 1 else " (not faster)."))
        if sample.get("candidate_ms") is not None and sample.get("reference_ms") is not None:
            lines.append(f"Runtime: {sample['candidate_ms']:.4g} ms against the reference's {sample['reference_ms']:.4g} ms.")
    error = (sample.get("error") or "").strip()
    if error and not sample.get("correct"):
        shown = error.splitlines()[-ERROR_LINES:]
        lines.append("Error:\n" + "\n".join(shown))
    return "\n".join(lines)


def solution_text(sample: dict) -> str | None:
    """A sibling's solution as the model wrote it: the extracted span of its reply, else its code."""
    raw, start, end = sample.get("raw_text"), sample.get("code_start"), sample.get("code_end")
    if raw is not None and start is not None and end is not None and end > start:
        return raw[start:end]
    return sample.get("code")


def pick_sibling(sample: dict, batch: list[dict]) -> dict | None:
    """The fastest correct sample of the same task and step, other than this one and not sharing its code."""
    own = sample.get("code")
    siblings = [s for s in batch if s["task_id"] == sample["task_id"] and s["sample_id"] != sample["sample_id"]
                and s.get("correct") and s.get("code") and s.get("code") != own]
    if not siblings:
        return None
    return max(siblings, key=lambda s: (s.get("speedup") or 0.0, -s["sample_idx"]))


def teacher_prompt(student: Prompt, sample: dict, batch: list[dict], *, prompt_only: bool) -> Prompt:
    """The student's prompt with a last user turn holding the sibling, the feedback and the instruction."""
    parts = []
    if not prompt_only:
        sibling = pick_sibling(sample, batch)
        if sibling is not None:
            text = solution_text(sibling)
            if text:
                parts.append(f"A correct solution:\n\n{text}")
        parts.append("Feedback from running an earlier attempt:\n\n" + execution_feedback(sample))
    parts.append(INSTRUCTION)
    messages = list(student.messages)
    last = messages[-1]
    if last.get("role") == "user":
        messages[-1] = {**last, "content": last["content"] + "\n\n" + "\n\n".join(parts)}
    else:
        messages.append({"role": "user", "content": "\n\n".join(parts)})
    return Prompt(messages=tuple(messages))


def token_advantages(teacher_logprobs: list[float], student_logprobs: list[float], coef: float = 1.0) -> list[float]:
    """coef * (teacher - student) per sampled token."""
    if len(teacher_logprobs) != len(student_logprobs):
        raise ValueError(f"teacher and student scored different tokens: {len(teacher_logprobs)} != "
                         f"{len(student_logprobs)}")
    return [coef * (t - s) for t, s in zip(teacher_logprobs, student_logprobs)]


__all__ = ["INSTRUCTION", "execution_feedback", "pick_sibling", "solution_text", "teacher_prompt", "token_advantages"]
