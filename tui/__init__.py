"""The sgs terminal app (Textual): runs, new run, live run, candidates, sample, diff, stats.

`tui/` depends on `core/`; `core/` never imports `tui/` or textual
(tests/tui/test_layering.py holds that line).
"""
from __future__ import annotations


def run_app(db_path, **options):
    """Run the app in this terminal; returns when the user quits."""
    from .app import SgsApp

    return SgsApp(db_path, **options).run()


__all__ = ["run_app"]
