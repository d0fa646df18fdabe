"""How close the correct candidates of the reduction-heavy tasks come to the
tolerance at the real reduction lengths, on the CPU.

For each correct rewrite of a task (one rendering per body), forward runs on
the task's own inputs with the reduced dimension at its real size (other
dimensions may be cut, e.g. L1/4 keeps K = 2**20 but only 8 rows), in fp32,
against the reference in fp32 and in fp64. Printed per body: the worst
|candidate - reference| / (atol + rtol |reference|) (the evaluator passes
it below 1), and the same for the candidate and the fp32 reference against
fp64. A GPU computes its sums in another order, so these are indications of
the margin, not the GPU's figures (bench_real.py reports max_abs_diff per
evaluation).

  python benchmarks/real_workload/check_precision.py --tasks L1/4,L1/89,L1/95,L1/98
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "real_workload"

from . import generate, sources  # noqa: E402
from .templates import render  # noqa: E402

ATOL = RTOL = 1e-4
# Dimensions cut on the CPU (never the one a task reduces over).
CUTS = {"L1/4": {"M": "8"}, "L1/89": {"batch_size": "8"}, "L1/36": {"batch_size": "2"},
        "L1/14": {}, "L1/15": {}, "L1/18": {}, "L1/95": {}, "L1/98": {}}


def ratio(a, b) -> float:
    a64, b64 = a.double(), b.double()
    return float(((a64 - b64).abs() / (ATOL + RTOL * b64.abs())).max())


def run(task_id: str, kernelbench: Path) -> list[dict]:
    import torch
    spec = generate.all_specs()[task_id]
    src = sources.shrink(sources.task_file(kernelbench, 1, int(task_id.split("/")[1])).read_text(), CUTS[task_id])
    ref_ns: dict = {}
    exec(compile(src, "reference", "exec"), ref_ns)
    torch.manual_seed(0)
    init = ref_ns["get_init_inputs"]()
    torch.manual_seed(0)
    inputs = ref_ns["get_inputs"]()
    torch.manual_seed(1)
    ref_model = ref_ns["Model"](*init)
    with torch.no_grad():
        ref32 = ref_model(*inputs)
        ref64 = ref_model.double()(*[x.double() if torch.is_floating_point(x) else x for x in inputs]) \
            if isinstance(inputs[0], torch.Tensor) else None
    out = []
    seen = set()
    for body in spec.correct:
        if body.text in seen:
            continue
        seen.add(body.text)
        init_spec = next(i for i in spec.inits if all(n in i.fill for n in body.needs))
        code = render(spec, body, "method", {}, init_spec)
        ns = {k: v for k, v in ref_ns.items() if not k.startswith("__")}
        exec(compile(code, "candidate", "exec"), ns)
        torch.manual_seed(1)
        model = ns["ModelNew"](*init)
        with torch.no_grad():
            got = model(*inputs)
        rec = {"task": task_id, "body": body.text.splitlines()[0][:70], "vs_reference": ratio(got, ref32)}
        if ref64 is not None:
            rec["candidate_vs_fp64"] = ratio(got, ref64)
            rec["reference_vs_fp64"] = ratio(ref32, ref64)
        out.append(rec)
        print(json.dumps(rec), flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="L1/4,L1/89,L1/95,L1/98")
    args = p.parse_args(argv)
    kb = sources.kernelbench_root()
    if kb is None:
        sys.exit("error: no KernelBench task folder")
    worst = 0.0
    for task_id in [t for t in args.tasks.split(",") if t]:
        recs = run(task_id, kb)
        worst = max([worst] + [r["vs_reference"] for r in recs])
    print(json.dumps({"worst_vs_reference": worst}))
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
