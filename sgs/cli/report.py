"""sgs report: the paper's tables (Markdown, JSON, CSV) and figures (PNG, SVG) for one run or several,
and training runs (batch TTT, SDPO) beside best-of-N at matched sample budgets."""
from __future__ import annotations

from .common import add_db, open_store, resolve_run_id, whole_number


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write the paper's tables and figures for runs (several runs are also pooled) "
                                      "and training runs beside best-of-N")
    p.add_argument("runs", nargs="*", metavar="RUN",
                   help="run ids or names (default: the latest run, or none when --training is given); "
                        "with --training, the best-of-N runs the training runs are compared with")
    p.add_argument("--training", action="append", default=[], metavar="ID",
                   help="a training run (id or name, see sgs ttt --list) to put beside best-of-N: its per-step "
                        "table, and fast_1 against samples drawn per task (repeat for several)")
    p.add_argument("-o", "--output", default=None, help="folder to write into (default: sgs-report-RUNS)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument("--n-boot", type=whole_number("--n-boot", 0), default=2000,
                   help="bootstrap replicates for the intervals (default 2000)")
    add_db(p)
    p.set_defaults(func=run)


def resolve_training_id(store, ref: str) -> int:
    from sgs.core.errors import InputError

    trainings = store.list_training_runs()
    if not trainings:
        raise InputError(f"no training runs in {store.path} (sgs ttt makes them)")
    if ref in ("latest", "last"):
        return trainings[0]["id"]
    try:
        training_id = int(ref)
    except ValueError:
        named = [t for t in trainings if t["name"] == ref]
        if not named:
            raise InputError(f"no training run {ref!r} in {store.path}") from None
        return named[0]["id"]
    if not any(t["id"] == training_id for t in trainings):
        raise InputError(f"no training run {training_id} in {store.path}")
    return training_id


def run(args) -> int:
    from pathlib import Path

    from sgs.core.figures import MISSING_EXTRA, have_matplotlib, write_figures
    from sgs.core.report import build_report, write_report
    from sgs.core.report_training import best_of_adaptation_lines

    store = open_store(args, access="read")
    training_ids = list(dict.fromkeys(resolve_training_id(store, t) for t in args.training))
    refs = args.runs or ([] if training_ids else ["latest"])
    run_ids = list(dict.fromkeys(resolve_run_id(store, r) for r in refs))
    name = "-".join([str(r) for r in run_ids] + [f"t{t}" for t in training_ids])
    out = Path(args.output or f"sgs-report-{name}")
    report = build_report(store, run_ids, n_boot=args.n_boot, training_ids=training_ids)
    written = write_report(report, out)
    if not args.no_figures:
        if have_matplotlib():
            written += write_figures(report, out)
        else:
            print(MISSING_EXTRA)
    for note in report.notes:
        print(note)
    for line in best_of_adaptation_lines(report.comparisons):
        print(line)
    print(f"wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return 0
