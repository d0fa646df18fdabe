"""sgs tui: the terminal app over the database (runs, live runs, candidates, diffs, stats)."""
from __future__ import annotations

import os

from .common import add_db


def add_parser(sub) -> None:
    p = sub.add_parser("tui", help="the terminal app: follow runs live, start runs, browse candidates and diffs")
    p.add_argument("--run", type=int, metavar="RUN_ID", help="open this run directly")
    p.add_argument("--kernelbench", metavar="PATH", default=os.environ.get("SGS_KERNELBENCH"),
                   help="a KernelBench checkout for the new-run task picker (default $SGS_KERNELBENCH)")
    add_db(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from sgs.core.store import Store

    # Checked before textual loads: a bad --db is one line, at once. A missing
    # database is created (the app starts runs); an existing one is opened as
    # it is, never migrated or switched to another journal mode.
    Store(Path(args.db), access="edit" if Path(args.db).exists() else "write").close()
    from sgs.tui.app import SgsApp, background_runs

    app = SgsApp(args.db, kernelbench=args.kernelbench, open_run=args.run)
    app.run()
    # printed after the screen is restored, so it stays in the terminal
    running = background_runs(args.db)
    if running:
        print("runs going on in the background (quitting the app never stops them):")
        for r in running:
            label = f" ({r['name']})" if r["name"] else ""
            print(f"  run {r['id']}{label}: {r['n_evaluated']}/{r['n_expected']} evaluated, pid {r['pid']}")
        print(f"follow them with: sgs tui --db {args.db}   or   sgs show <RUN> --db {args.db}")
    return int(app.return_code or 0)
