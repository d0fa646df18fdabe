"""Evaluated code cannot write outside its folders or reach the network; the run goes on."""
import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_candidates import REFERENCE, WriteTargets, candidate  # noqa: E402

from sgs.gpu_eval import evaluate  # noqa: E402
from sgs.gpu_eval.sandbox import landlock_abi  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux confinement")


def _req(cand):
    return {"reference_src": REFERENCE, "candidate_src": cand, "device": "cpu", "seed": 11,
            "timeout_s": 20, "num_threads": 1}


def _mount_namespaces() -> bool:
    import subprocess
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                              capture_output=True, timeout=10).returncode == 0 or \
            subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(landlock_abi() == 0 and not _mount_namespaces(), reason="no write barrier on this kernel")
def test_candidate_writes_change_nothing_outside_its_folder(tmp_path):
    """At import time the candidate tries to write a table into every *.db
    it can find and files into /tmp, ~/.cache/sgs and the run's folder."""
    targets = WriteTargets(tmp_path)
    try:
        r = evaluate(_req(targets.source(candidate("return torch.relu(self.lin(x))"))))
        assert r["outcome"] == "correct", r["error"]
        assert "mountns" in r["sandbox"]["fs"] or "landlock" in r["sandbox"]["fs"], r["sandbox"]
        targets.assert_untouched()
    finally:
        targets.clean()


def test_cannot_open_a_socket_to_the_host():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    got = []

    def accept():
        try:
            conn, _ = server.accept()
            got.append(conn)
        except OSError:
            pass

    body = ("import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    raise RuntimeError('connected')\n"
            "except OSError:\n"
            "    pass\n"
            "return torch.relu(self.lin(x))")
    try:
        r = evaluate(_req(candidate(body)))
        t = threading.Thread(target=accept)
        t.start()
        t.join()
        assert r["outcome"] == "correct", r["error"]
        assert r["sandbox"]["net"] in ("userns+netns", "netns", "landlock-tcp")
        assert not got
    finally:
        for c in got:
            c.close()
        server.close()


def test_layer_probe_picks_the_most_confined_set_that_works():
    from sgs.gpu_eval import sandbox
    from sgs.gpu_eval.supervisor import Runner
    runner = Runner()
    try:
        report = runner._probe_layers("cpu")
    finally:
        runner.close()
    assert report["layers"] == sandbox.FULL
    assert report["refused"] == []


def test_exec_children_evaluate_like_forked_ones():
    from sgs.gpu_eval.supervisor import Runner
    runner = Runner()
    runner.exec_children = True            # a fresh interpreter per child
    try:
        report = runner._probe_layers("cpu", exec_child=True)
        r = runner.evaluate(_req(candidate("return torch.relu(self.lin(x))")))
    finally:
        runner.close()
    assert report["refused"] == []
    assert r["outcome"] == "correct", r["error"]
