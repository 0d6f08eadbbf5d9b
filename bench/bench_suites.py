"""Wall time of the conformance suite per backend, `-n auto` (what `make test` runs).

Targets on a 2-core machine: linux <= 90 s, tap <= 60 s. Real-DUT suites mostly wait (silence
windows, timers), so the figures depend on how loaded the machine is: the load average is
printed beside each. The linux and tap backends need root; without it they are left out.

    .venv/bin/python bench/bench_suites.py [inprocess linux tap]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"linux": 90.0, "tap": 60.0}


def _run(dut: str, out: Path) -> tuple[float, dict[str, int], list[str]]:
    """Wall seconds, the count of each verdict, and the tests that failed (a benchmark is no soak,
    but a failure it meets is worth naming)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "harness", "run", "--dut", dut, "-n", "auto", "--report", str(out)],
                   cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds = time.monotonic() - started
    counts: dict[str, int] = {}
    failures: list[str] = []
    try:
        for record in json.loads((out / "results.json").read_text())["results"]:
            counts[record["verdict"]] = counts.get(record["verdict"], 0) + 1
            if record["verdict"] in ("fail", "error", "unexpected-pass"):
                failures.append(f"{record['nodeid']}: {record['message'].splitlines()[0] if record['message'] else ''}")
    except (OSError, ValueError, KeyError):
        counts = {"no results": 1}
    return seconds, counts, failures


def main(argv: list[str]) -> int:
    duts = argv or ["inprocess", "linux", "tap"]
    if os.geteuid() != 0:
        skipped = [d for d in duts if d != "inprocess"]
        duts = [d for d in duts if d == "inprocess"]
        if skipped:
            print(f"not root: leaving out {', '.join(skipped)} (they need network namespaces)")
    print(f"{'DUT':<10} {'wall s':>7} {'target':>7}  {'load average':<16} verdicts")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for dut in duts:
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            seconds, counts, failures = _run(dut, Path(tmp) / dut)
            target = TARGETS.get(dut)
            shown = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
            print(f"{dut:<10} {seconds:>7.0f} {target or '-':>7}  {load:<16} {shown}")
            for failure in failures:
                print(f"  {failure}")
            failed |= target is not None and seconds > target
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
