"""The training step's backend wrapper passes on what its inner backend's capabilities promise."""
from sgs.core.backends.base import Capabilities, Progress, generate
from sgs.core.backends.scripted import ScriptedBackend
from sgs.core.prompts import build_prompt
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.training.loop import _TokenRecorder
from sgs.core.types import SamplingParams


class ReportingBackend(ScriptedBackend):
    """A backend that reports progress while it writes (as the local hf backend does)."""

    capabilities = Capabilities(logprobs=True, scoring=True, n=True, progress=True)

    def generate(self, prompt, k, params, progress=None):
        for i, g in enumerate(super().generate(prompt, k, params)):
            if progress is not None:
                progress(Progress(samples_done=i + 1, samples_total=k, tokens=g.n_tokens, elapsed_s=0.0))
            yield g


def test_progress_reaches_a_backend_that_reports_it(tmp_path):
    store = Store(tmp_path / "t.db")
    recorder = _TokenRecorder(ReportingBackend(replies=["a b", "c d"]), store, 1, 0)
    seen = []
    prompt = build_prompt(get_task("builtin/relu"), "body")
    out = list(generate(recorder, prompt, 2, SamplingParams(), seen.append))
    assert [g.text for g in out] == ["a b", "c d"] and len(recorder.pending) == 2
    assert [p.samples_done for p in seen] == [1, 2]
    store.close()
