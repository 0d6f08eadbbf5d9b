"""harness.worker_exit: a worker whose session is over leaves at once, its output flushed."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROGRAM = """
import atexit, sys
from harness import worker_exit
atexit.register(lambda: print("registered before: runs only on a normal exit"))
worker_exit.install()
atexit.register(lambda: print("registered after: runs", end=" "))
sys.stdout.write("unflushed")
if sys.argv[1] == "over":
    worker_exit.session_over()
"""


@pytest.mark.parametrize(("state", "expected"), [
    ("over", "unflushedregistered after: runs "),
    ("running", "unflushedregistered after: runs registered before: runs only on a normal exit\n"),
])
def test_a_finished_worker_skips_the_interpreter_teardown_but_not_its_output(state: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", _PROGRAM, state], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")
