"""`stackcheck mutate`: the mutation score of a suite against stack_under_test.

    stackcheck mutate [--suite conformance|unit] [-j N] [--out DIR] [--only PATH ...]
                      [--no-cache] [--max-time MINUTES] [--fail-under PERCENT]

Writes DIR/mutation.json, mutation.md and mutation.html (default out/mutation for the
conformance suite, out/mutation/unit for the white-box unit tests) and keeps its cache in
.cache/mutation. Exit status 0, or 1 with --fail-under when the score is below it, 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from harness.mutation.sources import SUITES, repository_root

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def default_out(root: Path, suite: str) -> Path:
    base = root / "out" / "mutation"
    return base if suite == "conformance" else base / suite


def add_parser(sub: Any) -> None:
    p = sub.add_parser("mutate", help="mutation score of a suite against stack_under_test",
                       description="Plant one small bug at a time into stack_under_test and run the tests "
                                   "covering it; report the score and every mutant no test catches.")
    p.add_argument("--suite", choices=SUITES, default="conformance",
                   help="conformance (default, in-process) or unit (the white-box tests), for comparison")
    p.add_argument("-j", "--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes (default: one per core)")
    p.add_argument("--out", type=Path, metavar="DIR", help="report directory (default: out/mutation[/unit])")
    p.add_argument("--only", nargs="+", default=[], metavar="PATH",
                   help="mutate only files whose path contains one of these (a partial run)")
    p.add_argument("--no-cache", action="store_true", help="re-run every mutant, ignoring earlier results")
    p.add_argument("--max-time", type=float, metavar="MINUTES",
                   help="start no mutant after this long; the rest are reported as not run, and a re-run "
                        "(with the cache) picks them up")
    p.add_argument("--fail-under", type=float, metavar="PERCENT",
                   help="exit 1 when the score is below PERCENT")


def main(args: argparse.Namespace) -> int:
    from harness.mutation import coverage_map, equivalents, pool, report, run

    root = repository_root()
    if args.workers < 1:
        print("stackcheck: error: -j: expected at least 1 worker", file=sys.stderr)
        return EXIT_USAGE
    if args.max_time is not None and args.max_time <= 0:
        print("stackcheck: error: --max-time: expected a positive number of minutes", file=sys.stderr)
        return EXIT_USAGE
    if not (root / "stack_under_test").is_dir() or not (root / "conformance").is_dir():
        print(f"stackcheck: error: no source checkout at {root} (install stackcheck with pip install -e .)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        import coverage  # noqa: F401
    except ImportError:
        print("stackcheck: error: mutate needs coverage.py: pip install -e '.[fuzz]'", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or default_out(root, args.suite)
    options = run.Options(root, args.suite, args.workers, root / ".cache" / "mutation", out,
                          list(args.only), not args.no_cache,
                          None if args.max_time is None else 60 * args.max_time)
    try:
        campaign = run.execute(options, log=lambda line: print(line, flush=True))
    except (equivalents.EquivalentsError, coverage_map.CoverageError, pool.WorkerError) as e:
        print(f"stackcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    data = report.write(campaign, out)
    t = data["totals"]
    score = t["score"]
    print(f"stackcheck mutate: {args.suite} suite: {t['mutants']} mutants, score "
          f"{'n/a' if score is None else f'{100 * score:.1f}%'} ({t['killed'] + t['timeout']} killed, "
          f"{t['survived']} survived, {t['no-coverage']} not covered, {t['equivalent']} equivalent"
          + (f", {t['not-run']} not run" if t["not-run"] else "")
          + f") in {data['seconds']['total']:.0f} s, {data['cpu_seconds']['total']:.0f} s of CPU time "
          f"({data['tests_run']} test runs)")
    for stale in data["stale_equivalents"]:
        print(f"stackcheck mutate: warning: equivalent entry {stale!r} matches no mutant", file=sys.stderr)
    print(f"stackcheck mutate: report written to {out / 'mutation.html'}, mutation.md and mutation.json")
    if args.fail_under is not None and (score is None or 100 * score < args.fail_under):
        return EXIT_FAILED
    return EXIT_OK
