"""sgs split make: write a KernelBench train/eval split file."""
from __future__ import annotations

from pathlib import Path

from .common import whole_number


def add_parser(sub) -> None:
    p = sub.add_parser("split", help="make train/eval splits of a KernelBench level")
    ssub = p.add_subparsers(dest="split_command", metavar="ACTION")
    make = ssub.add_parser("make", help="write splits/l{L}_seed{S}.json")
    make.add_argument("--level", type=whole_number("--level", 1), required=True)
    make.add_argument("--seed", type=whole_number("--seed", 0), required=True)
    make.add_argument("--out", default="splits", help="folder to write into (default ./splits)")
    make.set_defaults(func=run_make)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_make(args) -> int:
    from sgs.core.splits import make_split, write_split

    path = write_split(args.level, args.seed, Path(args.out))
    split = make_split(args.level, args.seed)
    print(f"wrote {path}: {len(split['problem_ids']['train'])} train, {len(split['problem_ids']['eval'])} eval")
    print("eval ids:", " ".join(map(str, split["problem_ids"]["eval"])))
    return 0
