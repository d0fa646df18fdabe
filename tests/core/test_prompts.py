"""Prompt construction for the `body` and `kernel` styles."""
import ast
import hashlib
import re

import pytest

from sgs.core.backends.base import Prompt
from sgs.core.prompts import (
    PROMPT_STYLES, TEMPLATE_VERSION, PromptError, build_prompt, extract, templates,
)
from sgs.core.tasks import get_task

# TEMPLATE_VERSION is recorded with every run, so results from different
# prompt texts are never pooled. This pin fails when a template changes
# without a version bump: bump TEMPLATE_VERSION, then update both values.
PINNED = ("1", "288d4c70cb4671dd")


def test_template_change_requires_a_version_bump():
    digest = hashlib.sha256(repr(sorted(templates.ALL.items())).encode()).hexdigest()[:16]
    assert (TEMPLATE_VERSION, digest) == PINNED


def test_registry_has_both_styles():
    assert PROMPT_STYLES.names() == ["body", "kernel"]


def test_body_prompt_shows_reference_signature_and_asks_for_the_body():
    task = get_task("builtin/mse_loss")
    prompt = build_prompt(task)
    assert isinstance(prompt, Prompt)
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    user = prompt.messages[1]["content"]
    assert task.reference_src.strip() in user
    assert ("def forward(self, predictions: torch.Tensor, targets: torch.Tensor)"
            " -> torch.Tensor:") in user
    assert "return only the body of forward" in user.lower()
    assert "ModelNew(Model)" in user
    assert "{" not in user.replace(task.reference_src.strip(), "")  # no unfilled fields


def test_kernel_prompt_has_reference_and_a_working_example():
    task = get_task("builtin/softmax")
    user = build_prompt(task, "kernel").messages[1]["content"]
    assert task.reference_src.strip() in user
    assert "ModelNew" in user and "load_inline" in user and "Triton" in user
    # The example module in the prompt is valid Python that defines ModelNew.
    example = re.findall(r"```python\n(.*?)```", user, re.S)[1]
    tree = ast.parse(example)
    assert any(getattr(n, "name", None) == "ModelNew" for n in tree.body)
    assert "{{" not in user and "}}" not in user


def test_prompt_text_is_deterministic():
    task = get_task("builtin/relu")
    assert build_prompt(task) == build_prompt(task)


def test_unknown_style_is_a_one_line_error():
    task = get_task("builtin/relu")
    with pytest.raises(PromptError, match="unknown prompt style 'cuda'; known: body, kernel"):
        build_prompt(task, "cuda")
    with pytest.raises(PromptError):
        extract("return x", task, "cuda")
