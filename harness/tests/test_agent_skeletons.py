"""The agent skeletons users copy (docs/agent-skeletons/): each, as shipped, is a correct agent
of the control protocol -- harness/control/agent_check.py passes against it -- and lists every
DUT verb of harness/dut.py as lacking, so a verb added there cannot be missing from them."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.interface import load_config
from harness.control.client import ControlClient
from harness.control.verbs import control_verbs

ROOT = Path(__file__).resolve().parents[2]
SKELETONS = ROOT / "docs" / "agent-skeletons"


@contextlib.contextmanager
def _serve(argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    agent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert agent.stdout is not None
        line = agent.stdout.readline()
        assert "ready" in line, f"the agent printed {line!r} instead of its ready line"
        yield agent
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def _check(socket: Path) -> None:
    client = ControlClient(f"unix:{socket}", connect_timeout=5.0)
    try:
        hello = client.say_hello()
    finally:
        client.close()
    assert set(hello.lacks) == set(control_verbs()), "the skeleton must list every DUT verb as lacking"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                             "harness/control/agent_check.py", "--agent", f"unix:{socket}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_python_skeleton_passes_the_agent_check(tmp_path: Path) -> None:
    socket = tmp_path / "agent.sock"
    with _serve([sys.executable, str(SKELETONS / "python" / "my_agent.py"), "--control", str(socket)]):
        _check(socket)


def test_c_skeleton_compiles_and_passes_the_agent_check(tmp_path: Path) -> None:
    if shutil.which("cc") is None or shutil.which("pkg-config") is None:
        pytest.skip("needs a C compiler and pkg-config (apt-get install gcc pkg-config)")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcjson"], capture_output=True, text=True)
    if flags.returncode != 0:
        pytest.skip("needs cJSON's headers (apt-get install libcjson-dev, or make system-deps as root)")
    binary = tmp_path / "my-agent"
    compiled = subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
                               str(SKELETONS / "c" / "my_agent.c"), *flags.stdout.split()],
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    socket = tmp_path / "agent.sock"
    with _serve([str(binary), "--control", str(socket)]):
        _check(socket)


def test_example_dut_config_loads() -> None:
    config = load_config(SKELETONS / "my-dut.toml")
    assert config.command is not None and config.command.tap and config.command.control == "unix:{control}"
    assert "docs/agent-skeletons/python/my_agent.py" in config.command.argv
