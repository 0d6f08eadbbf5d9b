"""`stackcheck fuzz` stops cleanly on SIGINT at any stage: workers just started, workers still
importing, workers running examples. No traceback, no finding, no worker left running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 200.0  # SIGINT to report: the runner allows a starved worker up to 180 s to end cleanly


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition: object, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


@pytest.mark.parametrize("moment", ["workers-spawned", "workers-importing", "workers-running"])
def test_sigint_stops_the_campaign_cleanly(tmp_path: Path, moment: str) -> None:
    report = tmp_path / "fuzz-report.json"
    work = tmp_path / "fuzz-work"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "fuzz", "--target", "raw", "--target", "roundtrip", "--workers", "2",
         "--duration", "10m", "--db", str(tmp_path / "db"), "--report", str(report)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the waves are planned, just before spawning
        assert first.startswith("stackcheck fuzz:"), first
        _wait_for(lambda: len(_children(proc.pid)) == 2, 10)
        if moment == "workers-importing":
            time.sleep(1.0)  # pytest, Hypothesis, coverage.py and the stack take longer than this
        elif moment == "workers-running":
            _wait_for(lambda: any(work.glob("stats-*.json")), 60)
            assert any(work.glob("stats-*.json")), "no worker ran an example within 60 s"
        workers = _children(proc.pid)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = first + proc.communicate(timeout=STOP_WITHIN_S)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - started < STOP_WITHIN_S
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "Error" not in out, out
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived the campaign"
    targets = json.loads(report.read_text())["targets"]
    assert all(t["distinct_failures"] == 0 for t in targets.values()), targets


# A worker that loses its first SIGINT (the KeyboardInterrupt raised where exceptions are ignored)
# and goes on counting examples; the second one stops it.
_DEAF_ONCE = """
import json, os, signal, sys, time
heard = []
signal.signal(signal.SIGINT, lambda *_: heard.append(1))
path, n = sys.argv[1], 0
while len(heard) < 2:
    n += 1
    with open(path + ".tmp", "w") as f:
        json.dump({"elapsed_s": 1.0, "examples": {"t": n}, "failures": {}}, f)
    os.replace(path + ".tmp", path)
    time.sleep(0.05)
"""


def test_a_worker_still_counting_examples_after_sigint_gets_another(tmp_path: Path) -> None:
    from harness.cli import fuzz as runner

    stats_file = tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-c", _DEAF_ONCE, str(stats_file)])
    try:
        _wait_for(stats_file.exists, 10)
        job = runner.Job(target="t", index=0, stats_file=stats_file, proc=proc)
        started = time.monotonic()
        runner._stop([job])
        assert not job.killed, "the runner killed a worker that a second SIGINT would have stopped"
        assert job.exit_code == 0
        assert time.monotonic() - started < runner.RESIGNAL_S * 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
