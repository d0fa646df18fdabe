"""sgs show: a run's candidates ranked by surprisal, with outcome and speedup."""
from __future__ import annotations

from sgs.core.engine import effective_status
from sgs.core.review import needs_review
from sgs.core.report import budget_of
from sgs.core.selection import DEFAULT_ORDER
from sgs.core.selection.picks import picks_by_sample
from sgs.core.statistics import computable, expert_tail
from sgs.core.surprisal import rank_value

from .common import add_db, add_json, fmt, fmt_speedup, open_store, print_json, resolve_run_id, table
from .printer import candidates_by_task, print_strategy_table, strategy_rows


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="show a run: strategy table and candidates ranked by surprisal")
    p.add_argument("run", nargs="?", default="latest", help="run id or name (default: the latest)")
    p.add_argument("--task", help="only this task")
    p.add_argument("--rank-by", choices=["surprisal", "mean_nll"], help="rank key (default: the run's)")
    p.add_argument("--top", type=int, default=10, help="candidates shown per task (default 10; 0 = all)")
    add_json(p)
    add_db(p)
    p.set_defaults(func=run)


def ranked(cands, rank_by: str):
    return sorted(cands, key=lambda c: (-(rank_value(c.surprisal, c.mean_nll, rank_by) or float("-inf")),
                                        c.sample_idx))


def run(args) -> int:
    from . import UserError

    store = open_store(args, must_exist=True)
    run_id = resolve_run_id(store, args.run)
    run_row = store.get_run(run_id)
    rank_by = args.rank_by or run_row["rank_by"]
    by_task = candidates_by_task(store, run_id)
    if args.task:
        if args.task not in by_task:
            raise UserError(f"run {run_id} has no task {args.task!r}")
        by_task = {args.task: by_task[args.task]}
    status = effective_status(run_row)
    budget = budget_of(run_row)
    shown = [s for s in DEFAULT_ORDER if computable(s, rank_by, budget)]  # picks a budget cannot make stay blank
    if args.json:
        out = {"run": {**{k: v for k, v in run_row.items() if k not in ("config",)}, "status": status},
               "strategies": strategy_rows(store, run_id, rank_by), "tasks": {}}
        for task_id, cands in by_task.items():
            picks = picks_by_sample(cands, rank_by, shown)
            out["tasks"][task_id] = [
                {"sample_idx": c.sample_idx, "sample_id": c.sample_id, "surprisal": c.surprisal,
                 "mean_nll": c.mean_nll, "n_tokens": c.n_tokens, "outcome": c.outcome, "speedup": c.speedup,
                 "speedup_ci": [c.speedup_lo, c.speedup_hi], "flags": c.flags, "picked_by": picks.get(c.sample_idx, []),
                 "error": c.error}
                for c in ranked(cands, rank_by)
            ]
        print_json(out)
        return 0
    print(f"run {run_id} · {run_row['kind']} · {run_row['backend']}/{run_row['model']} · K={run_row['k']} · "
          f"{status} · logprobs {run_row['logprob_mode'] or '-'}")
    print_strategy_table(store, run_id, rank_by)
    for task_id, cands in by_task.items():
        print()
        print_task(task_id, cands, rank_by, args.top, shown)
    return 0


def print_task(task_id: str, cands, rank_by: str, top: int = 10, strategies: list[str] | None = None) -> None:
    """A task's candidates ranked by the rank key, with outcome, speedup and strategy picks."""
    picks = picks_by_sample(cands, rank_by, strategies)
    tail = expert_tail(cands, rank_by)
    n_correct = sum(c.correct for c in cands)
    print(f"{task_id}: {len(cands)} samples, {n_correct} correct (sorted by {rank_by}, * = expert tail, ! = review)")
    shown = ranked(cands, rank_by)
    if top:
        shown = shown[:top]
    rows = []
    for rank, c in enumerate(shown, 1):
        flagged = " !" if needs_review(c.flags) else ""
        rows.append([str(rank), f"#{c.sample_idx}" + ("*" if c.sample_idx in tail else ""), fmt(c.surprisal),
                     fmt(c.mean_nll, ".3f"), fmt(c.n_tokens, "d"), c.outcome or "pending",
                     fmt_speedup(c.speedup) + flagged, " ".join(picks.get(c.sample_idx, []))])
    print(table(rows, ["rank", "sample", "surprisal", "mean_nll", "tokens", "outcome", "speedup", "picked by"],
                "rlrrrlrl"))
    if top and len(cands) > top:
        print(f"  ... {len(cands) - top} more (--top 0 shows all)")
