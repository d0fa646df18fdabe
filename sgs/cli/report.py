"""sgs report: the paper's tables (Markdown, JSON, CSV) and figures (PNG, SVG) for one run or several."""
from __future__ import annotations

from .common import add_db, open_store, resolve_run_id


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write the paper's tables and figures for runs (several runs are also pooled)")
    p.add_argument("runs", nargs="*", default=["latest"], metavar="RUN", help="run ids or names (default: the latest)")
    p.add_argument("-o", "--output", default=None, help="folder to write into (default: sgs-report-RUNS)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates for the intervals (default 2000)")
    add_db(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from sgs.core.figures import MISSING_EXTRA, have_matplotlib, write_figures
    from sgs.core.report import build_report, write_report

    from . import UserError

    store = open_store(args, must_exist=True)
    run_ids = list(dict.fromkeys(resolve_run_id(store, r) for r in (args.runs or ["latest"])))
    if args.n_boot < 0:
        raise UserError("--n-boot must be at least 0")
    out = Path(args.output or f"sgs-report-{'-'.join(map(str, run_ids))}")
    report = build_report(store, run_ids, n_boot=args.n_boot)
    written = write_report(report, out)
    if not args.no_figures:
        if have_matplotlib():
            written += write_figures(report, out)
        else:
            print(MISSING_EXTRA)
    for note in report.notes:
        print(note)
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return 0
