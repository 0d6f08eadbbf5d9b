"""Longest tests first: the order that keeps a parallel run on a real DUT short.

The default order (``longest_lead``) is pytest-randomly's for the short tests, with the long
ones dealt out evenly over the workers' shares and each worker starting on one; ``--order
longest-first`` sorts them all (``longest_first``).

A real DUT's tests mostly wait (silence windows, RFC timers of up to 30 s), so a run over many
workers ends when the last long test does. Started in random order, a 30-s test drawn near the
end leaves every other worker idle while it runs; started first, it overlaps the short ones
(longest-processing-time-first scheduling). ``stackcheck run -n`` sorts by the durations
recorded in ``conformance/durations.json`` (the longer of the linux and tap figures) and has
pytest-xdist hand out one test at a time, so each free worker takes the longest test left.
Tests the file does not know yet count as the recorded median; ties keep pytest-randomly's
order, and ``stackcheck soak`` keeps its fully random order.

    python -m harness.ordering record out/linux/results.json out/tap/results.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, Protocol, TypeVar

DURATIONS_FILE: Final = Path(__file__).resolve().parent.parent / "conformance" / "durations.json"


class _HasNodeid(Protocol):
    @property
    def nodeid(self) -> str: ...


_Item = TypeVar("_Item", bound=_HasNodeid)


def load(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """Recorded seconds per test node id; empty when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def _by_duration(items: list[_Item], durations: Mapping[str, float]) -> list[_Item]:
    """``items`` longest first by recorded duration (a stable sort: ties keep their order); a test
    the durations do not know counts as their median."""
    unknown = statistics.median(durations.values())
    return sorted(items, key=lambda item: -durations.get(item.nodeid, unknown))


def longest_first(items: list[_Item], durations: Mapping[str, float], workers: int = 1) -> list[_Item]:
    """``items`` sorted by recorded duration, longest first (a stable sort: ties keep their order).

    pytest-xdist starts each of ``workers`` workers with two consecutive tests, so the first
    2 x ``workers`` are paired longest with shortest: no worker starts with two long ones."""
    if not durations:
        return list(items)
    ordered = _by_duration(items, durations)
    if workers <= 1 or len(ordered) < 2 * workers:
        return ordered
    head = ordered[:2 * workers]
    paired = [test for i in range(workers) for test in (head[i], head[2 * workers - 1 - i])]
    return paired + ordered[2 * workers:]


def worksteal_shares(count: int, workers: int) -> list[int]:
    """Where each worker's first share starts in a list of ``count`` tests under pytest-xdist's
    ``--dist worksteal``: idle workers get consecutive slices, ``pending // workers left`` each."""
    starts, at, left = [], 0, count
    for i in range(workers):
        starts.append(at)
        size = left // (workers - i)
        at, left = at + size, left - size
    return starts


# Tests at least this long (recorded) are dealt out so that each worker's share adds up to about
# the same time, and run in the first three quarters of their share in the default order: what a
# worker runs last, and what the others steal from it at the end, are short tests, so no worker
# is left running a long one while the others are idle. (In the first half only, the short
# tests, which are most of the CPU's work, all came at the end: both CPUs busy for 10 s.)
LONG_TEST_S: Final = 1.0


def longest_lead(items: list[_Item], durations: Mapping[str, float], workers: int) -> list[_Item]:
    """``items`` cut into the shares ``--dist worksteal`` gives ``workers`` workers at the start,
    with the tests of ``LONG_TEST_S`` or more dealt out longest first, each to the share with
    the least recorded time so far (longest-processing-time-first), the short ones filling the
    rest in pytest-randomly's order (what a soak explores). Each share starts on its longest
    test and spreads its other long ones over its first three quarters."""
    if not durations or workers <= 1 or len(items) < 2 * workers:
        return list(items)
    starts = worksteal_shares(len(items), workers)
    sizes = [end - start for start, end in zip(starts, [*starts[1:], len(items)], strict=True)]
    long = [item for item in _by_duration(items, durations) if durations.get(item.nodeid, 0.0) >= LONG_TEST_S]
    chosen = {id(item) for item in long}
    short = [item for item in items if id(item) not in chosen]
    dealt: list[list[_Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in long:
        least = min((w for w in range(workers) if len(dealt[w]) < sizes[w]), key=lambda w: load[w])
        dealt[least].append(item)
        load[least] += durations[item.nodeid]
    out: list[_Item] = []
    taken = 0
    for share, size in zip(dealt, sizes, strict=True):
        fill = size - len(share)
        out += share[:1] + _long_ones_early(share[1:], short[taken:taken + fill])
        taken += fill
    return out


def _long_ones_early(long: list[_Item], short: list[_Item]) -> list[_Item]:
    """``long`` spread evenly over the first three quarters of ``long`` + ``short``, each keeping
    its order."""
    total = len(long) + len(short)
    step = max(1.0, total * 0.75 / len(long)) if long else 0.0  # the j-th long test goes at j x step
    out: list[_Item] = []
    taken_long = taken_short = 0
    for position in range(total):
        if taken_long < len(long) and (taken_short == len(short) or position >= taken_long * step):
            out.append(long[taken_long])
            taken_long += 1
        else:
            out.append(short[taken_short])
            taken_short += 1
    return out


def record(results: Iterable[Path]) -> dict[str, float]:
    """The longest duration each test took in any of these results.json files."""
    longest: dict[str, float] = {}
    for path in results:
        for entry in json.loads(path.read_text(encoding="utf-8"))["results"]:
            seconds = entry.get("duration_s")
            if isinstance(seconds, (int, float)):
                nodeid = str(entry["nodeid"])
                longest[nodeid] = max(longest.get(nodeid, 0.0), round(float(seconds), 2))
    return dict(sorted(longest.items()))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "record":
        print("usage: python -m harness.ordering record RESULTS.json [RESULTS.json ...]", file=sys.stderr)
        return 2
    try:
        durations = record(Path(p) for p in argv[1:])
    except (OSError, ValueError, KeyError) as e:
        print(f"stackcheck: cannot read results: {e}", file=sys.stderr)
        return 2
    DURATIONS_FILE.write_text(json.dumps(durations, indent=0) + "\n", encoding="utf-8")
    print(f"{len(durations)} durations written to {DURATIONS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
