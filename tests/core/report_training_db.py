"""A database with known per-step training results beside a best-of-N run on the same tasks.

Imported by the report tests of core/ and of the CLI. Every number the
tests check is worked out by hand in tests/core/test_report_training.py.
"""
from sgs.core.engine import EvalOptions, RunConfig, create_run
from sgs.core.store import Store
from sgs.core.tasks import get_task
from sgs.core.training import TrainingConfig, create_training
from sgs.core.types import Generation

TASKS = ["builtin/relu", "builtin/relu6"]

# (correct, speedup, lower end of the speedup's 95% interval)
F = (True, 2.0, 1.5)          # fast, and fast by its interval
FN = (True, 3.0, 0.8)         # fast by its point estimate only
S = (True, 0.5, 0.4)          # slow
X = (False, None, None)       # wrong

# best-of-4: relu has two fast samples (one only by its point estimate), relu6 one
BON = {"builtin/relu": [F, FN, S, X], "builtin/relu6": [F, X, X, X]}
# batch TTT, K=2, steps 0..2: sample fast_1 1/4, 3/4 (noise-aware 2/4), 1/4 -> best-of-adaptation is step 1
TTT_PLAN = [
    {"builtin/relu": [F, X], "builtin/relu6": [S, X]},
    {"builtin/relu": [F, FN], "builtin/relu6": [F, X]},
    {"builtin/relu": [F, X], "builtin/relu6": [X, X]},
]
# prompt-only SDPO, K=2, steps 0..1: 2/4, 1/4
SDPO_PLAN = [
    {"builtin/relu": [F, F], "builtin/relu6": [X, X]},
    {"builtin/relu": [S, X], "builtin/relu6": [F, X]},
]


def _result(correct, speedup, lo):
    if not correct:
        return {"outcome": "incorrect"}
    return {"outcome": "correct", "speedup": speedup, "speedup_ci": [lo, speedup * 1.1]}


def add_bon_run(store, plan=BON, tasks=TASKS, time_top=None):
    k = max(len(v) for v in plan.values())
    config = RunConfig(task_ids=tasks, k=k, backend="scripted", model="m",
                       eval=EvalOptions(device="cpu", time_top=time_top))
    run_id = create_run(store, config, [get_task(t) for t in tasks], logprob_mode="raw")
    for task in tasks:
        for idx, outcome in enumerate(plan[task]):
            # surprisal falls with the index: sample 0 is the least confident
            gen = Generation(text=f"c{idx}", tokens=["t"] * 4, logprobs=[-(4 - idx) * 0.25] * 4)
            sid = store.add_sample(run_id, task, idx, gen, code=f"# {task} {idx}\n", code_kind="torch",
                                   code_start=0, code_end=4, extraction_error=None, logprob_mode="raw")
            store.finish_evaluation(sid, run_id, task, _result(*outcome))
    store.set_run_status(run_id, "running")
    store.set_run_status(run_id, "finished")
    return run_id


def add_training(store, plan, *, method="ttt", prompt_only=False, losses=None, probe=None, baseline_run=None):
    k = len(plan[0][TASKS[0]])
    config = TrainingConfig(task_ids=TASKS, method=method, prompt_only=prompt_only, k=k, steps=len(plan) - 1,
                            backend="hf", model="m", baseline_run=baseline_run)
    tid = create_training(store, config, [get_task(t) for t in TASKS])
    for step, outcomes in enumerate(plan):
        run_id = create_run(store, RunConfig(task_ids=TASKS, k=k, backend="scripted", model="m"),
                            [get_task(t) for t in TASKS], logprob_mode="raw")
        store.start_training_step(tid, step, f"/ckpt/{tid}/step-{step}")
        store.set_training_step_run(tid, step, run_id)
        rows = []
        for task in TASKS:
            for idx, (correct, speedup, lo) in enumerate(outcomes[task]):
                code = f"# {task} {step} {idx}\n"
                sid = store.add_sample(run_id, task, idx, Generation(text=code, tokens=[code], logprobs=[-1.0]),
                                       code=code, code_kind="torch", code_start=0, code_end=len(code),
                                       extraction_error=None, logprob_mode="raw")
                store.finish_evaluation(sid, run_id, task, _result(correct, speedup, lo))
                store.add_training_sample(sid, tid, step, [1])
                rows.append({"sample_id": sid, "correct": correct, "speedup": speedup,
                             "reward": speedup if correct else 0.0, "advantage": 0.0})
        store.record_step_rewards(tid, step, rows, {"window": 32, "correct_bonus": 0.0, "history": {}})
        metrics = {}
        if probe:
            metrics["probe"] = {"rho": probe[step][0], "rho_bottom_quartile": probe[step][1]}
        if step < len(plan) - 1:
            metrics["update"] = {"loss": (losses or [0.0] * len(plan))[step], "seconds": 1.0}
        if metrics:
            store.merge_step_metrics(tid, step, metrics)
        if step < len(plan) - 1:
            store.record_step_update(tid, step, f"/ckpt/{tid}/step-{step + 1}")
    return tid


def build(path):
    """The best-of-4 run, a batch TTT run and a prompt-only SDPO run: (store, bon, ttt, sdpo)."""
    store = Store(path)
    bon = add_bon_run(store)
    ttt = add_training(store, TTT_PLAN, losses=[-0.5, -0.25], probe=[(-0.2, -0.25), (-0.3, -0.45), (-0.35, -0.5)])
    sdpo = add_training(store, SDPO_PLAN, method="sdpo", prompt_only=True)
    return store, bon, ttt, sdpo
