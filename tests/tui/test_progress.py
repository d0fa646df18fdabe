"""What a run is doing between samples (a model loading, a long sample generating) and each task's top-3 pick."""
import os
import re
import threading
import time

import pytest

from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.tui.clock import Clock
from sgs.tui.screens.live import LiveScreen
from tui_fixtures import screen_text, table_dicts, wait_for

pytestmark = pytest.mark.anyio


def created_run(db) -> int:
    store = Store(db)
    config = RunConfig(task_ids=["builtin/relu", "builtin/gelu_tanh"], k=8, backend="hf", model="embedded",
                       eval=EvalOptions(device="cpu"))
    run_id = create_run(store, config, [get_task("builtin/relu"), get_task("builtin/gelu_tanh")],
                        logprob_mode="raw")
    store.close()
    return run_id


async def test_model_loading_and_generation_show_in_the_live_view(make_app, fixture_db):
    run_id = created_run(fixture_db)
    store = Store(fixture_db)
    # this process stands in for the run's (alive); the frozen clock reads 12:41:10
    store.set_run_progress(run_id, phase="loading_model", detail="hf/embedded", pid=os.getpid(),
                           host=os.uname().nodename, phase_started_at="2025-03-02T12:39:58.000+00:00")
    app = make_app(open_run=run_id, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.run is not None)
        await wait_for(pilot, lambda: "loading model hf/embedded · 1m12s" in screen_text(app))
        assert "0/8 queued" in screen_text(app) and "· loading model" in screen_text(app).splitlines()[0]
        store.set_run_status(run_id, "running")
        store.db.execute("UPDATE runs SET heartbeat_at = ?, started_at = ? WHERE id = ?",
                         ["2025-03-02T12:41:09.000+00:00", "2025-03-02T12:40:10.000+00:00", run_id])
        store.set_run_progress(run_id, phase="generating", task_id="builtin/relu", samples_done=2, samples_total=8,
                               tokens=40, tokens_total=400, generating_s=20.0)
        await wait_for(pilot, lambda: "generating builtin/relu: 2/8 done" in screen_text(app))
        line = next(ln for ln in screen_text(app).splitlines() if "generating builtin/relu" in ln)
        assert "2/8 done, 40 tokens so far · 22.0 tok/s · 1m00s" in line


class WritingBackend:
    """A local model that writes one batch slowly: it reports tokens as it goes, then waits to be let go."""

    name, model, logprob_mode = "fake", "fake", "raw"

    def __init__(self):
        from sgs.core.backends.base import Capabilities

        self.capabilities = Capabilities(local_device="cpu", progress=True)
        self.release = threading.Event()

    def generate(self, prompt, k, params, progress=None):
        from sgs.core.backends.base import Progress

        started, tokens = time.monotonic(), 0
        while not self.release.wait(0.1):
            tokens += 7
            progress(Progress(0, k, tokens, time.monotonic() - started))
        return iter(())

    def close(self):
        pass


async def test_tokens_per_second_show_while_a_local_model_writes(make_app, fixture_db):
    """The engine hands a backend's progress to the store, where the app (in another process) reads it."""
    from sgs.core.engine import Engine

    run_id = created_run(fixture_db)
    backend = WritingBackend()
    engine = Engine(Store(fixture_db), run_id, backend=backend)
    worker = threading.Thread(target=engine.run_to_end, daemon=True)
    worker.start()
    app = make_app(open_run=run_id, poll_interval=0.1, clock=Clock())
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            writing = re.compile(r"generating builtin/relu: 0/8 done, \d+ tokens so far · \d+\.\d tok/s")
            await wait_for(pilot, lambda: writing.search(screen_text(app)), timeout=20)
    finally:
        backend.release.set()
        worker.join(30)


async def test_each_task_shows_its_surprisal_top3_pick(make_app):
    app = make_app(open_run=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.progress)
        await pilot.pause(0.2)
        rows = {r["task"]: r for r in table_dicts(app.screen.query_one("#tasks"))}
        # relu: the top 3 by surprisal among correct samples are #1, #3, #4; #4 is fastest (12.5x, held for review)
        assert rows["builtin/relu"]["top3"] == "#4 12.50×!"
        assert rows["builtin/softmax"]["top3"] == "#1 1.45×"
        assert "top3 pick" in screen_text(app).splitlines()[1]
