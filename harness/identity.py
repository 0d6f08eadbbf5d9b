"""Who was tested: the DUT's identity as a run reports it (results.json, every report).

A result means little without the build it was measured on: the kernel release for the linux
backend, our stack's version and commit for the in-process and tap backends, what an
interface backend's configuration says about the device. Expectation entries may be
conditioned on these fields (``harness/conditions.py``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent


@functools.cache
def harness() -> dict[str, str]:
    """stackcheck's own version and the commit of this checkout (with "+dirty" for local edits)."""
    try:
        version = importlib.metadata.version("stackcheck")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"stackcheck": version, "commit": _commit()}


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def kernel() -> dict[str, str]:
    """The running kernel: every network namespace of this machine runs it."""
    u = os.uname()
    return {"kernel": u.release, "kernel_build": u.version, "machine": u.machine}


def our_stack() -> dict[str, str]:
    """stack_under_test ships with the harness: same version, same commit."""
    own = harness()
    return {"stack": "stack_under_test", "stack_version": own["stackcheck"], "stack_commit": own["commit"]}
