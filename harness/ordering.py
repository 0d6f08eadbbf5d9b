"""Longest tests first: the order that keeps a parallel run on a real DUT short.

The default order (``longest_lead``) is pytest-randomly's, with only the few longest tests moved
to where each worker starts; ``--order longest-first`` sorts them all (``longest_first``).

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


# How many of the longest tests lead each worker's share in the default (random) order: the
# suite's longest tests (30 s and more) are few; this many per worker covers every test that
# takes more than a few seconds on a real DUT with 16 workers or more.
LEADING_PER_WORKER: Final = 2


def worksteal_shares(count: int, workers: int) -> list[int]:
    """Where each worker's first share starts in a list of ``count`` tests under pytest-xdist's
    ``--dist worksteal``: idle workers get consecutive slices, ``pending // workers left`` each."""
    starts, at, left = [], 0, count
    for i in range(workers):
        starts.append(at)
        size = left // (workers - i)
        at, left = at + size, left - size
    return starts


def longest_lead(items: list[_Item], durations: Mapping[str, float], workers: int) -> list[_Item]:
    """``items`` in their (random) order, except that the ``LEADING_PER_WORKER`` x ``workers``
    longest move to the front of the workers' first shares under ``--dist worksteal``, one per
    share at a time: every worker starts on a long test, and no 30-s test drawn late leaves the
    others idle at the end, while the rest keeps pytest-randomly's order (what a soak explores)."""
    if not durations or workers <= 1 or len(items) < LEADING_PER_WORKER * workers * 2:
        return list(items)
    lead = _by_duration(items, durations)[:LEADING_PER_WORKER * workers]
    chosen = {id(item) for item in lead}
    rest = [item for item in items if id(item) not in chosen]
    shares = worksteal_shares(len(items), workers)
    ends = [*shares[1:], len(items)]
    out: list[_Item] = []
    taken = 0
    for w, (start, end) in enumerate(zip(shares, ends, strict=True)):
        mine = lead[w::workers]  # the w-th longest, then the (w + workers)-th ...
        out += mine
        size = end - start - len(mine)
        out += rest[taken:taken + size]
        taken += size
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
