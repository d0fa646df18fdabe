import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_fixtures import add_wide_run, build_fixture_db, clock  # noqa: E402


@pytest.fixture(autouse=True)
def _config_home(tmp_path, monkeypatch):
    """The form memory goes to a temporary config folder, never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="session")
def _fixture_templates(tmp_path_factory) -> dict[str, Path]:
    """The fixture databases, built once per session; each test gets its own copy."""
    folder = tmp_path_factory.mktemp("templates")
    plain = build_fixture_db(folder / "plain.db")
    wide = build_fixture_db(folder / "wide.db")
    add_wide_run(wide)
    return {"plain": plain, "wide": wide}


def _copy(template: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "fixture.db"
    shutil.copyfile(template, target)
    return target


@pytest.fixture
def fixture_db(tmp_path, _fixture_templates) -> Path:
    return _copy(_fixture_templates["plain"], tmp_path)


@pytest.fixture
def wide_db(tmp_path, _fixture_templates, fixture_db) -> Path:
    """The fixture database plus run 3 (see add_wide_run)."""
    return _copy(_fixture_templates["wide"], tmp_path)


@pytest.fixture
def make_app(fixture_db):
    import os

    from sgs.tui.app import SgsApp

    def make(db=None, **options):
        options.setdefault("clock", clock())
        # full colour unless a test asks for NO_COLOR or 16 colours (the test runner's TERM must not matter)
        options.setdefault("colour_mode", None if "NO_COLOR" in os.environ else "full")
        return SgsApp(db or fixture_db, **options)

    return make


@pytest.fixture
def anyio_backend():
    """Pilot tests run on asyncio (Textual's loop), through anyio's pytest plugin."""
    return "asyncio"


@pytest.fixture
def training_db(fixture_db):
    """make(n_steps, status): the fixture database plus training run 1 (batch TTT), as (store, id)."""
    from tui_fixtures import add_training_run

    stores = []

    def make(n_steps=4, status="finished", pin=False):
        store, tid = add_training_run(fixture_db, n_steps, status, pin=pin)
        stores.append(store)
        return store, tid

    yield make
    for store in stores:
        store.close()
