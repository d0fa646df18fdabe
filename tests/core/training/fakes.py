"""Stand-ins for the training tests: a trainer over the scripted backend, and an evaluator that judges by rule."""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
from pathlib import Path

from sgs.core.backends.scripted import ScriptedBackend, fixed_logprobs, tokenize
from sgs.core.training.losses import importance_sampling_loss_value, ratio_stats
from sgs.core.training.trainer import UpdateStats
from sgs.core.types import Generation


def token_id(piece: str) -> int:
    return int.from_bytes(hashlib.sha256(piece.encode()).digest()[:3], "little")


class TokenScriptedBackend(ScriptedBackend):
    """The scripted backend, with each generation's token ids (as a real backend gives them)."""

    def generate(self, prompt, k, params):
        for g in super().generate(prompt, k, params):
            g.extra["token_ids"] = [token_id(t) for t in g.tokens]
            yield g


class FakeTrainer:
    """Samples scripted replies; the 'model' is a table of logprob offsets that train_step moves."""

    name = "scripted"

    def __init__(self, replies, checkpoint_dir):
        self._backend = TokenScriptedBackend(replies=replies)
        self.checkpoint_dir = Path(checkpoint_dir)
        self.batches: list = []
        self.saved: list[str] = []
        self.resume_path = None
        self.teacher_calls: list[tuple[list[int], list[list[int]]]] = []
        self.scored: list = []

    @property
    def backend(self):
        return self._backend

    def prompt_ids(self, prompt):
        return [ord(c) for c in prompt.text[-40:]]

    def token_logprobs(self, prompt_ids, completions):
        self.teacher_calls.append((list(prompt_ids), [list(c) for c in completions]))
        # a teacher that likes every token a little more when its prompt is longer
        return [[-1.0 + 0.001 * len(prompt_ids) - 0.01 * i for i in range(len(c))] for c in completions]

    def score_texts(self, prompt, texts):
        self.scored.append((prompt, list(texts)))
        out = []
        for i, t in enumerate(texts):
            toks, offs = tokenize(t)
            out.append(Generation(text=t, tokens=toks, logprobs=fixed_logprobs(toks, len(self.saved)), offsets=offs))
        return out

    def train_step(self, batch, optim):
        self.batches.append((batch, optim))
        new = [list(s.sampled_logprobs) for s in batch]
        return UpdateStats(loss=importance_sampling_loss_value(new, batch), n_sequences=len(batch),
                           n_tokens=sum(len(s.completion_ids) for s in batch), seconds=0.01, **ratio_stats(new, batch))

    def save_checkpoint(self, name):
        path = self.checkpoint_dir / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "weights").write_text(str(len(self.batches)))
        self.saved.append(name)
        self.resume_path = str(path)
        return str(path)

    def close(self):
        pass


class RuleEvaluator:
    """Judges a candidate by a rule on its code: {marker: (outcome, speedup)}; first match wins."""

    def __init__(self, rules: dict[str, tuple[str, float | None]]):
        self.rules = rules
        self.requests: list[dict] = []

    def submit(self, request):
        self.requests.append(request)
        fut = cf.Future()
        for marker, (outcome, speedup) in self.rules.items():
            if marker in request["candidate_src"]:
                result = {"outcome": outcome, "speedup": speedup}
                if speedup is not None:
                    result["speedup_ci"] = [speedup * 0.9, speedup * 1.1]
                if outcome != "correct":
                    result["error"] = f"{outcome}: made up for the test"
                fut.set_result(result)
                return fut
        fut.set_result({"outcome": "incorrect", "error": "output 0 mismatch"})
        return fut

    def timing_slot(self, device):
        return contextlib.nullcontext()

    def close(self, wait=True):
        pass
