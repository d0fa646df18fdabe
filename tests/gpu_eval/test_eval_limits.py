"""Every phase obeys a limit the user sets, the candidate's module top level
included; the limits a result was judged under are recorded in it."""
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import CORRECT, REFERENCE  # noqa: E402

from sgs.gpu_eval import RequestError, evaluate  # noqa: E402

LOOPS_AT_IMPORT = "while True:\n    pass\n" + CORRECT


def _req(cand, **kw):
    r = {"reference_src": REFERENCE, "candidate_src": cand, "device": "cpu", "seed": 9, "num_threads": 1,
         "time": False}
    r.update(kw)
    return r


def test_a_loop_at_module_level_stops_at_the_compile_timeout():
    t0 = time.monotonic()
    r = evaluate(_req(LOOPS_AT_IMPORT, compile_timeout_s=3, timeout_s=30))
    assert r["outcome"] == "timeout"
    assert r["error"] == "timed out after 3s during compile"
    assert time.monotonic() - t0 < 60


def test_limits_and_tolerances_are_recorded():
    r = evaluate(_req(CORRECT, timeout_s=17, compile_timeout_s=33, atol=1e-3, rtol=2e-3))
    assert r["outcome"] == "correct", r["error"]
    assert r["limits"] == {"timeout_s": 17.0, "compile_timeout_s": 33.0, "atol": 1e-3, "rtol": 2e-3}


@pytest.mark.parametrize("key,value", [("timeout_s", -1), ("compile_timeout_s", 0), ("atol", -1e-3),
                                       ("rtol", float("nan")), ("timeout_s", "soon")])
def test_a_limit_out_of_range_is_a_one_line_request_error(key, value):
    with pytest.raises(RequestError) as e:
        evaluate(_req(CORRECT, **{key: value}))
    assert key in str(e.value) and "\n" not in str(e.value)
