"""The sample view: where the model was unsure (token surprisal), copy and save, keys that scroll at once."""
import pytest
from rich.style import Style
from textual.containers import VerticalScroll
from textual.widgets import Input

from sgs.core.store import Store
from sgs.tui import colours
from sgs.tui.clipboard import SaveCode
from sgs.tui.screens.sample import SampleScreen
from tui_fixtures import WIDE_TASK, screen_text, wait_for, wide_sample_id

pytestmark = pytest.mark.anyio


async def open_sample(app, pilot, sample_id, tab="code"):
    await pilot.pause()
    app.push_screen(SampleScreen(3, sample_id, tab=tab))
    await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen) and app.screen.sample is not None)
    await pilot.pause(0.1)


async def test_the_surprisal_tab_shades_each_token_by_its_surprisal(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sample(app, pilot, wide_sample_id(wide_db, 1))
        await pilot.press("4")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "scored by generator" in text and "−log p (nats):" in text
        view = app.screen.query_one("#surprisal-view").render()
        plain = view.plain
        # the token the model was least sure of comes first, with its line and its −log p
        assert "most surprising: line 70 'A.diagonal().unsqueeze(1)' 9.00" in plain
        start = plain.index("A.diagonal()")
        top = tuple(Style.parse(colours.surprisal("full", 5)).bgcolor.get_truecolor())
        backgrounds = {tuple(span.style.background.rgb) for span in view.spans
                       if span.start <= start < span.end and getattr(span.style, "background", None)}
        assert top in backgrounds      # shaded at the top level
        # the line's own sum (left of │) is read off the stored logprobs of its tokens
        with Store(wide_db) as store:
            score = store.scores(wide_sample_id(wide_db, 1))[0]
        line = plain.splitlines()[plain[:start].count("\n")]
        raw = app.screen.sample["raw_text"]
        at = raw.index("A.diagonal()")
        line_start, line_end = raw.rfind("\n", 0, at) + 1, raw.index("\n", at)
        expected = sum(-lp for lp, off, tok in zip(score["logprobs"], score["offsets"], score["tokens"])
                       if line_start <= off + len(tok) - len(tok.lstrip()) < line_end)
        assert line.split("│")[0].split()[-1] == f"{expected:.1f}"


async def test_copy_says_what_it_sent_and_save_writes_a_new_file(make_app, wide_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sample(app, pilot, wide_sample_id(wide_db, 0))
        code = app.screen.sample["code"]
        await pilot.press("y")
        assert app.clipboard == code
        assert any(f"sent {len(code.encode())} bytes" in n.message and "w saves to a file" in n.message
                   for n in app._notifications)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveCode))
        path = app.screen.query_one("#save-path", Input).value
        assert path.endswith("sgs-code/run3_L1-12_s0.py")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen))
        assert (tmp_path / "sgs-code" / "run3_L1-12_s0.py").read_text() == code
        # saving again never overwrites: a new name is offered, and an existing one is refused in one line
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveCode))
        assert app.screen.query_one("#save-path", Input).value.endswith("run3_L1-12_s0-1.py")
        app.screen.query_one("#save-path", Input).value = str(tmp_path / "sgs-code" / "run3_L1-12_s0.py")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "exists: choose another name" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SampleScreen))


async def test_keys_scroll_the_shown_tab_without_tab(make_app, wide_db):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sample(app, pilot, wide_sample_id(wide_db, 1))    # a 70-line sample
        scroll = app.screen.query_one("#code-scroll", VerticalScroll)
        assert scroll.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert scroll.scroll_y > 5
        y = scroll.scroll_y
        await pilot.press("j")
        await pilot.pause(0.1)
        assert scroll.scroll_y == y + 1
        await pilot.press("G")
        await pilot.pause(0.1)
        assert scroll.scroll_y == scroll.max_scroll_y > 0
        await pilot.press("g")
        await pilot.pause(0.1)
        assert scroll.scroll_y == 0
        await pilot.press("2", "pagedown")     # another tab: its own scroll area takes the keys at once
        await pilot.pause(0.1)
        assert app.screen.query_one("#reply-scroll", VerticalScroll).scroll_y > 5
