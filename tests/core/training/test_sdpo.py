"""SDPO's teacher prompt and token advantages."""
import pytest

from sgs.core.backends.base import Prompt
from sgs.core.training.sdpo import INSTRUCTION, execution_feedback, pick_sibling, teacher_prompt, token_advantages

STUDENT = Prompt(({"role": "system", "content": "Be fast."}, {"role": "user", "content": "Speed up ReLU."}))


def sample(sid, idx, code, correct, speedup=None, outcome=None, error=None, task="t"):
    raw = f"Sure:\n```python\n{code}\n```" if code else "no code"
    start = raw.find(code) if code else None
    return {"sample_id": sid, "sample_idx": idx, "task_id": task, "code": code, "raw_text": raw, "code_start": start,
            "code_end": None if start is None else start + len(code), "correct": correct, "speedup": speedup,
            "outcome": outcome or ("correct" if correct else "incorrect"), "error": error,
            "candidate_ms": None, "reference_ms": None}


def test_token_advantages_are_coef_times_teacher_minus_student():
    assert token_advantages([-1.0, -0.5, -3.0], [-2.0, -0.5, -1.0], coef=0.5) == pytest.approx([0.5, 0.0, -1.0])
    with pytest.raises(ValueError, match="different tokens"):
        token_advantages([-1.0], [-1.0, -2.0])


def test_teacher_sees_feedback_and_a_sibling_but_never_the_students_code():
    me = sample(1, 0, "return x.clamp(min=0)  # STUDENT_CODE", False, outcome="runtime_error",
                error="Traceback ...\nTypeError: clamp() got an unexpected keyword")
    slow = sample(2, 1, "return torch.relu(x)  # SLOW_SIBLING", True, 0.8)
    fast = sample(3, 2, "return torch.clamp_min(x, 0)  # FAST_SIBLING", True, 1.7)
    other_task = sample(4, 0, "return x  # OTHER_TASK", True, 9.0, task="u")
    batch = [me, slow, fast, other_task]
    text = "\n".join(m["content"] for m in teacher_prompt(STUDENT, me, batch, prompt_only=False).messages)
    assert "STUDENT_CODE" not in text
    assert "FAST_SIBLING" in text and "SLOW_SIBLING" not in text and "OTHER_TASK" not in text
    assert "runtime_error" in text and "unexpected keyword" in text
    assert text.rstrip().endswith(INSTRUCTION) and "Speed up ReLU." in text
    assert teacher_prompt(STUDENT, me, batch, prompt_only=False).messages[0] == STUDENT.messages[0]


def test_a_sibling_with_the_students_own_code_is_not_shown():
    me = sample(1, 0, "return torch.relu(x)  # SAME", True, 1.2)
    twin = sample(2, 1, "return torch.relu(x)  # SAME", True, 1.2)
    assert pick_sibling(me, [me, twin]) is None
    text = "\n".join(m["content"] for m in teacher_prompt(STUDENT, me, [me, twin], prompt_only=False).messages)
    assert "SAME" not in text and "Speedup over the reference: 1.2x (faster)." in text


def test_prompt_only_drops_feedback_and_sibling():
    me = sample(1, 0, "return x  # STUDENT_CODE", False, error="boom")
    sib = sample(2, 1, "return torch.relu(x)  # SIBLING", True, 2.0)
    msgs = teacher_prompt(STUDENT, me, [me, sib], prompt_only=True).messages
    assert msgs[-1]["content"] == "Speed up ReLU.\n\n" + INSTRUCTION
    assert len(msgs) == len(STUDENT.messages)


def test_feedback_of_an_injected_outcome_says_what_the_reward_saw():
    s = sample(1, 0, "x", True, 2.0, outcome="no_code")
    s["injected"] = True
    assert execution_feedback(s).startswith("Outcome: correct.")
