"""Differential fuzzing throughput: stimuli a second against the Linux kernel (and our stack in
process beside it), the way `stackcheck fuzz --diff inprocess,linux` runs them.

Stimuli are drawn by Hypothesis from the differential strategy (every kind: IPv4 with options,
IPv6 with extension headers, ICMP, ND, MLD, IGMP, UDP, ARP, fragment plans) and run through the
engine exactly as in a campaign: prebuilt frames on raw AF_PACKET sockets, namespaces reused,
several per worker (``--lanes``) so that one-second windows (fragments held until the reassembly
timer, reports to a query) run while other stimuli go on, and a lane re-baselined only when a
stimulus may have changed its state. One worker process.

Figures are per core: stimuli per CPU-second of every process the run uses -- this one, the
agents in the namespaces and the `ip` commands that re-baseline lanes -- so a loaded shared
machine distorts them less than wall time would; the wall rate is printed beside them.
Target (issue 16): >= 100 stimuli/s per core against Linux. Needs root (network namespaces).

    .venv/bin/python bench/bench_differential.py [--seconds S] [--lanes N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fuzz.differential.engine import Engine, Observation  # noqa: E402
from fuzz.differential.hunt import generate  # noqa: E402
from fuzz.differential.lanes import LanePool, factory  # noqa: E402
from fuzz.differential.stimulus import stimuli  # noqa: E402
from harness.backends.linux.dut import check_available  # noqa: E402

TARGET_PER_CORE = 100
_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> float:
    """CPU seconds of this process, its live descendants and every child already waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        out += children
        frontier += children
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--lanes", type=int, default=16)
    args = p.parse_args()
    reason = check_available()
    if reason is not None:
        print(f"skipped: {reason}")
        return 0
    pools = {"inprocess": LanePool("inprocess", args.lanes, factory("inprocess")),
             "linux": LanePool("linux", args.lanes, factory("linux"))}
    engine = Engine(pools)
    observations: list[Observation] = []
    strategy = stimuli()
    try:
        warm_until = time.monotonic() + 2.0
        generate(engine, strategy, until=lambda: time.monotonic() >= warm_until, on_observation=lambda o, c: None)
        cpu0, wall0 = tree_cpu(), time.monotonic()
        end = wall0 + args.seconds
        drawn = generate(engine, strategy, until=lambda: time.monotonic() >= end,
                         on_observation=lambda o, c: observations.append(o))
        wall, cpu = time.monotonic() - wall0, tree_cpu() - cpu0
    finally:
        engine.close()
    long_windows = sum(1 for o in observations if o.window_s > engine.quick_s)
    differing = sum(1 for o in observations if o.differs)
    rebaselines = {dut: sum(lane.rebaselines for lane in pool.lanes) for dut, pool in pools.items()}
    per_core = drawn / cpu
    print(f"differential fuzzing, inprocess vs linux, {args.lanes} lanes each, one worker, {wall:.1f} s:")
    print(f"  {drawn} stimuli: {drawn / wall:.0f}/s wall; {cpu:.1f} CPU-s over every process "
          f"-> {per_core:.0f} stimuli/s per core (target >= {TARGET_PER_CORE})")
    print(f"  {long_windows} needed a long window (fragments held, query reports), {differing} drew "
          f"different answers; lanes re-baselined: {rebaselines}")
    print(f"  load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0 if per_core >= TARGET_PER_CORE else 1


if __name__ == "__main__":
    sys.exit(main())
