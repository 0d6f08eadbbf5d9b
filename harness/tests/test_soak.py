"""`stackcheck soak`: runs in random order with a seed each, and failures listed side by side."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.cli import soak


def test_failures_of_every_run_are_listed_side_by_side() -> None:
    runs = [soak.Run(1, 11, failures={"a.py::test_x": "[fail] late reply\nwithin 2 s"}),
            soak.Run(2, 12),
            soak.Run(3, 13, failures={"a.py::test_x": "[fail] no reply", "b.py::test_y": "[error] agent died"})]
    text = soak._summary(runs, argparse.Namespace(dut="linux"), 2, 30.0)
    assert "2 test(s) failed in at least one run" in text
    assert "## a.py::test_x — failed in 2 of 3 run(s)" in text
    assert "- run 1 (--randomly-seed=11): [fail] late reply\n    within 2 s" in text
    assert "- run 3 (--randomly-seed=13): [fail] no reply" in text
    assert text.index("a.py::test_x") < text.index("b.py::test_y"), "most frequent first"


def test_a_failure_is_listed_with_the_test_before_it_and_the_dut_state() -> None:
    record = {"nodeid": "a.py::test_x", "verdict": "fail", "message": "no reply", "worker": "gw3",
              "after": "b.py::test_y", "dut_state": "$ ip -6 route show table main\n2001:db8:2::/64 dev veth0"}
    run = soak.Run(1, 11, failures={"a.py::test_x": "[fail] no reply"},
                   context={"a.py::test_x": soak._context(record)})
    text = soak._summary([run], argparse.Namespace(dut="linux"), 0, 30.0)
    assert ("- run 1 (--randomly-seed=11): [fail] no reply\n    ran after b.py::test_y (worker gw3)\n"
            "    DUT state at the failure:\n      $ ip -6 route show table main\n      2001:db8:2::/64 dev veth0") in text


def test_soak_runs_the_suite_in_a_different_random_order_each_time(tmp_path: Path) -> None:
    status = cli.main(["soak", "--dut", "inprocess", "--runs", "2", "-k", "test_rfc792_icmp_echo", "-n", "0",
                       "--seed", "7", "--report", str(tmp_path)])
    assert status == 0, (tmp_path / "run-1.log").read_text()
    runs = json.loads((tmp_path / "soak.json").read_text())
    assert [r["seed"] for r in runs] == [7, 8] and all(r["totals"].get("pass") for r in runs)
    assert "No test failed in any of the 2 run(s)" in (tmp_path / "soak.md").read_text()
    for n, seed in ((1, 7), (2, 8)):
        data = json.loads((tmp_path / f"run-{n}" / "results.json").read_text())
        assert data["randomly_seed"] == seed


def test_bad_counts_are_usage_errors(tmp_path: Path) -> None:
    assert cli.main(["soak", "--runs", "0", "--report", str(tmp_path)]) == 2
    assert cli.main(["soak", "--load", "-1", "--report", str(tmp_path)]) == 2


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_sigterm_stops_the_soak_its_run_and_its_busy_loops(tmp_path: Path) -> None:
    # The README's way to stop a soak started in the background: kill -TERM, to the soak alone.
    soak_proc = subprocess.Popen([sys.executable, "-m", "harness", "soak", "--dut", "inprocess", "--runs", "3",
                                  "--load", "1", "-k", "test_rfc792_icmp_echo", "-n", "0", "--report", str(tmp_path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(children := _children(soak_proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(children) == 2, f"expected the busy loop and the run, found {children}"
    soak_proc.send_signal(signal.SIGTERM)
    output = soak_proc.communicate(timeout=60)[0].decode()
    assert soak_proc.returncode == 1 and "interrupted" in output, output
    assert "Interrupted before any run finished." in (tmp_path / "soak.md").read_text()
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not alive, f"processes {alive} outlived the soak"


def test_an_interrupt_while_children_start_comes_once_they_have_started() -> None:
    previous = signal.signal(signal.SIGTERM, soak._interrupt)
    started: list[str] = []
    try:
        with pytest.raises(KeyboardInterrupt), soak._interrupts_held():
            os.kill(os.getpid(), signal.SIGTERM)
            started.append("child")  # still reached: the handle is kept, to stop and reap it
        assert started == ["child"]
        assert signal.getsignal(signal.SIGTERM) is soak._interrupt, "the soak's handler is back"
    finally:
        signal.signal(signal.SIGTERM, previous)
