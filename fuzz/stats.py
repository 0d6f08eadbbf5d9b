"""Example counts for campaign reports (``stackcheck fuzz``): conftest.py counts @given tests
through their inner test; stateful machines and Atheris targets call ``count`` themselves."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

PATH = os.environ.get("STACKCHECK_FUZZ_STATS")
examples: Counter[str] = Counter()
failures: dict[str, dict[str, str]] = {}
stopping = False  # set when the campaign runner's SIGINT arrives (fuzz/conftest.py)
_started = time.monotonic()
_last_write = 0.0


def count(name: str) -> None:
    examples[name] += 1
    if PATH is not None:
        write()


def write(final: bool = False) -> None:
    """Write the counts as JSON, at most about once a second unless ``final``."""
    global _last_write
    now = time.monotonic()
    if PATH is None or (not final and now - _last_write < 1.0):
        return
    _last_write = now
    data = {"elapsed_s": now - _started, "examples": dict(examples), "failures": failures}
    tmp = f"{PATH}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, PATH)
