"""`stackcheck fuzz --diff`: bad input is one line and exit 2; as root, a short campaign writes
its report and the JSON summary scripts read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.differential import cli
from harness import backends
from harness.backends.linux.dut import check_available
from harness.cli import main as stackcheck
from harness.dut import DUT

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def stub_backend() -> Iterator[None]:
    """A backend that is available anywhere, so the checks after availability can be tested."""

    def never(options: backends.BackendOptions) -> DUT:
        raise AssertionError("no DUT is built when the arguments are bad")

    backends.register(backends.Backend("stub", "available anywhere, never built", never, lambda config: None))
    yield
    backends.unregister("stub")


@pytest.mark.parametrize(("argv", "message"), [
    (["--diff", "inprocess"], "name two or more different DUTs"),
    (["--diff", "inprocess,inprocess"], "name two or more different DUTs"),
    (["--diff", "inprocess,nope"], "unknown DUT backend 'nope'"),
    (["--diff", "inprocess,interface"], "needs --dut-config PATH"),
    (["--diff", "inprocess,stub", "--lanes", "0"], "--lanes: expected a positive number"),
    (["--diff", "inprocess,stub", "--kinds", "smoke-signals"], "no stimulus kind among"),
    (["--diff", "inprocess,stub", "--known", "/nonexistent.toml"], "does not exist"),
], ids=["one", "same", "unknown", "interface", "lanes", "kinds", "known"])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                          stub_backend: None) -> None:
    assert cli.main([*argv, "--duration", "1s"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_stackcheck_fuzz_passes_diff_on_and_keeps_the_exit_status(capfd: pytest.CaptureFixture[str]) -> None:
    assert stackcheck.main(["fuzz", "--diff", "inprocess,nope", "--duration", "1s"]) == 2
    assert "unknown DUT backend 'nope'" in capfd.readouterr().err
    assert stackcheck.main(["fuzz", "--diff", "inprocess,linux", "--duration", "soon"]) == 2


@pytest.mark.needs_root
@pytest.mark.skipif(check_available() is not None, reason=str(check_available()))
def test_a_short_campaign_writes_the_report_and_the_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.differential", "--diff", "inprocess,linux", "--duration", "8s", "--lanes", "2",
         "--out", str(tmp_path / "report"), "--json", str(summary)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert summary.is_file(), f"no summary written (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(summary.read_text())
    assert data["duts"] == ["inprocess", "linux"] and data["stimuli"] > 0 and data["duration_s"] >= 8
    assert isinstance(data["liveness_failures"], int)
    for cluster in data["clusters"]:
        assert {"signature", "count", "triage"} <= set(cluster)
    assert (tmp_path / "report" / "report.html").is_file()
