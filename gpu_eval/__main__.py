"""Run one evaluation as its own process.

    python -m sgs.gpu_eval REQUEST.json        # or '-' for stdin; prints the result as JSON
    python -m sgs.gpu_eval --hardware cpu      # prints the hardware label of a device
"""
from __future__ import annotations

import argparse
import json
import sys

from .evaluator import evaluate, hardware_label
from .request import RequestError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sgs.gpu_eval", description="Evaluate one candidate kernel.")
    p.add_argument("request", nargs="?", help="request JSON file, or - for stdin")
    p.add_argument("--hardware", metavar="DEVICE", help="print the hardware label of DEVICE and exit")
    args = p.parse_args(argv)
    if args.hardware:
        print(hardware_label(args.hardware))
        return 0
    if not args.request:
        p.error("a request file is required")
    try:
        text = sys.stdin.read() if args.request == "-" else open(args.request).read()
        request = json.loads(text)
        result = evaluate(request)
    except (OSError, ValueError, RequestError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
