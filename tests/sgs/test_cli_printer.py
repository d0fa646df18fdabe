"""The CLI printer: generation progress while a model writes, and the strategy table's counts."""
import io
from typing import Iterator

from sgs.cli.printer import Printer, print_strategy_table
from sgs.core import events as ev
from sgs.core.backends.base import Capabilities, Progress
from sgs.core.engine import Engine, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.types import Generation


class Terminal(io.StringIO):
    def isatty(self):
        return True


class ProgressBackend:
    """Writes its samples the way a local model does: all at once, after reporting progress."""

    name = "fake"
    model = "fake"
    logprob_mode = "raw"
    capabilities = Capabilities(progress=True)

    def generate(self, prompt, k, params, progress=None) -> Iterator[Generation]:
        for tokens in (40, 80, 120):
            progress(Progress(samples_done=0, samples_total=k, tokens=tokens, elapsed_s=tokens / 40))
        progress(Progress(samples_done=k, samples_total=k, tokens=150, elapsed_s=3.0))
        for _ in range(k):
            yield Generation(text="no code", tokens=["no", " code"], logprobs=[-1.0, -1.0])

    def close(self):
        pass


def make_run(tmp_path, k=2):
    store = Store(tmp_path / "p.db")
    task = get_task("builtin/relu")
    run_id = create_run(store, RunConfig(task_ids=[task.id], k=k, backend="fake", model="fake"), [task],
                        logprob_mode="raw")
    return store, run_id


def test_the_engine_reports_generation_progress_and_the_terminal_shows_it(tmp_path):
    store, run_id = make_run(tmp_path)
    seen = []
    screen = Terminal()
    engine = Engine(store, run_id, backend=ProgressBackend(), sinks=[seen.append])
    engine.sinks.append(Printer(store, run_id, out=screen))
    assert engine.run_to_end() == "finished"
    progress = [e for e in seen if isinstance(e, ev.GenerationProgress)]
    assert [(e.samples_done, e.samples_total, e.tokens) for e in progress] == \
        [(0, 2, 40), (0, 2, 80), (0, 2, 120), (2, 2, 150)]
    assert progress[-1].tokens_per_s == 50.0
    assert "writing 0/2: 120 tokens, 40 tok/s" in screen.getvalue()
    # progress comes before the samples it announces
    first_sample = next(i for i, e in enumerate(seen) if isinstance(e, ev.SampleGenerated))
    assert seen.index(progress[-1]) < first_sample
    store.close()


def test_without_a_terminal_progress_lines_are_spaced_out(tmp_path):
    store, run_id = make_run(tmp_path)
    log = io.StringIO()
    printer = Printer(store, run_id, out=log)
    for tokens in range(10, 200, 10):
        printer(ev.GenerationProgress(run_id, "builtin/relu", 0, 2, tokens, 4.25))
    lines = [ln for ln in log.getvalue().splitlines() if "writing" in ln]
    assert lines == ["builtin/relu             writing 0/2: 10 tokens, 4.2 tok/s"]
    store.close()


def test_a_closed_output_stops_the_printer_not_the_run(tmp_path):
    store, run_id = make_run(tmp_path)

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    printer = Printer(store, run_id, out=Closed())
    printer(ev.RunStarted(run_id, ("builtin/relu",), 2))     # no exception: the run goes on
    printer(ev.RunFinished(run_id, "finished"))
    store.close()


def test_the_random_strategy_flags_an_expected_count_to_two_decimals(tmp_path):
    store, run_id = make_run(tmp_path, k=3)
    for idx, (speedup, flags) in enumerate([(12.0, ["speedup_over_10x"]), (1.5, []), (1.2, [])]):
        code = f"c{idx}"   # distinct codes: the random pick weighs each code by its samples
        sid = store.add_sample(run_id, "builtin/relu", idx, Generation(text=code, tokens=[code], logprobs=[-idx - 1.0]),
                               code=code, code_kind="torch", code_start=0, code_end=2, extraction_error=None,
                               logprob_mode="raw")
        store.finish_evaluation(sid, run_id, "builtin/relu", {"outcome": "correct", "speedup": speedup,
                                                              "flags": flags})
    out = io.StringIO()
    print_strategy_table(store, run_id, out=out)
    random_row = next(ln for ln in out.getvalue().splitlines() if ln.startswith("random"))
    assert random_row.split()[-1] == "0.33", random_row          # one pick in three is held for review
    store.close()
