"""The command line of the differential fuzzer.

    stackcheck fuzz --diff inprocess,linux[,tap,interface] [--duration 10m] [--json PATH]
                    [--out DIR] [--known FILE] [--lanes N] [--dut-config FILE] [--kinds K,K]

``stackcheck fuzz --diff ...`` runs ``python -m fuzz.differential`` with the same arguments.
Bad input (an unknown DUT, one that cannot run here, a malformed known-differences file) gives
one line on stderr and exit status 2; a campaign that found new clusters or liveness failures
exits 1, one that found nothing new 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Final

from fuzz.differential import known as known_file
from fuzz.differential import report
from fuzz.differential.campaign import Campaign, Result, Settings
from fuzz.differential.lanes import LanePool, factory
from fuzz.differential.stimulus import KINDS, stimuli
from harness import backends
from harness.backends.base import TEST_LINK
from harness.cli.fuzz import FuzzUsageError, parse_duration

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
REPO: Final = Path(__file__).resolve().parents[2]
# Lanes per real-time DUT: the linux backend's namespaces are cheap, and with one-second windows
# (fragments held, reports due) 16 keep a worker busy; a tap lane is a stack process (tens of MB);
# an interface is one physical device, which a second lane would only talk over.
DEFAULT_LANES: Final = {"linux": 16, "tap": 4, "interface": 1}
OTHER_LANES: Final = 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stackcheck fuzz --diff", description=__doc__.splitlines()[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser, *, with_diff: bool = True) -> None:
    if with_diff:
        p.add_argument("--diff", required=True, metavar="DUT,DUT[,...]",
                       help="the DUTs to compare, e.g. inprocess,linux (see `stackcheck dut list`)")
        p.add_argument("--duration", default="10m", help="how long, e.g. 90s, 10m, 8h (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", help="also write a short JSON summary for scripts here")
    p.add_argument("--out", default="out/fuzz/diff", metavar="DIR",
                   help="report directory: report.html, report.json, pcaps/, skeletons/ (default: %(default)s)")
    p.add_argument("--known", default=str(known_file.DEFAULT), metavar="FILE",
                   help="known differences, each with the RFC text that explains it (default: %(default)s)")
    p.add_argument("--lanes", metavar="N", help="instances of each real-time DUT run side by side "
                   "(default: 16 of linux, 4 of tap, the one interface)")
    p.add_argument("--dut-config", metavar="FILE", help="the TOML file of the interface backend")
    p.add_argument("--kinds", metavar="K,K", help=f"only these stimulus kinds ({', '.join(k.name for k in KINDS)})")


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (FuzzUsageError, ValueError) as e:
        print(f"stackcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _check_link(dut: str, pool: LanePool) -> None:
    """The stimuli carry the test link's addresses (harness.backends.base.TEST_LINK): a DUT on a
    link of other addresses would see none of them addressed to it."""
    info = pool.lanes[0].device.info
    theirs = (info.dut_mac.lower(), info.tester_mac.lower(), info.dut_ipv4, info.tester_ipv4, info.dut_ipv6,
              info.tester_ipv6, info.dut_ipv6_ll, info.tester_ipv6_ll)
    ours = (TEST_LINK.dut_mac, TEST_LINK.tester_mac, TEST_LINK.dut_ipv4, TEST_LINK.tester_ipv4, TEST_LINK.dut_ipv6,
            TEST_LINK.tester_ipv6, TEST_LINK.dut_ipv6_ll, TEST_LINK.tester_ipv6_ll)
    if theirs != ours:
        raise FuzzUsageError(f"--diff: {dut} is not on the test link the stimuli are built for; give it "
                             f"{TEST_LINK.dut_ipv4}, {TEST_LINK.dut_ipv6} and MAC {TEST_LINK.dut_mac} "
                             f"(tester {TEST_LINK.tester_ipv4}, {TEST_LINK.tester_ipv6}, {TEST_LINK.tester_mac})")


def _write(result: Result, out: Path) -> None:
    report.write(result, out)


def run(args: argparse.Namespace) -> int:
    duts = [d.strip() for d in args.diff.split(",") if d.strip()]
    if len(duts) < 2 or len(set(duts)) != len(duts):
        raise FuzzUsageError(f"--diff: name two or more different DUTs, e.g. inprocess,linux (got {args.diff!r})")
    config = Path(args.dut_config) if args.dut_config else None
    for dut in duts:
        try:
            reason = backends.get(dut).check_available(config)
        except KeyError as e:
            raise FuzzUsageError(f"--diff: {e.args[0]}") from None
        if reason is not None:
            raise FuzzUsageError(f"--diff: {dut}: {reason}")
    duration = parse_duration(args.duration)
    if args.lanes is not None and (not args.lanes.isdigit() or int(args.lanes) < 1):
        raise FuzzUsageError(f"--lanes: expected a positive number, got {args.lanes!r}")
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else None
    strategy = stimuli(kinds)
    known = known_file.load(Path(args.known), REPO / "conformance")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lanes = {dut: 1 if dut == "interface" else int(args.lanes) if args.lanes else DEFAULT_LANES.get(dut, OTHER_LANES)
             for dut in duts}
    print(f"stackcheck fuzz --diff: starting {', '.join(f'{n} {d}' for d, n in lanes.items())}", flush=True)
    pools: dict[str, LanePool] = {}
    try:
        for dut in duts:
            pools[dut] = LanePool(dut, lanes[dut], factory(dut, config))
            _check_link(dut, pools[dut])
        settings = Settings(duration, log=lambda line: print(line, flush=True),
                            on_batch=lambda result: _write(result, out))
        campaign = Campaign(pools, strategy, known, settings)
    except BaseException:
        for pool in pools.values():
            pool.close()
        raise
    try:
        result = campaign.run()
    finally:
        campaign.close()
    document = report.write(result, out)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.summary(result), indent=2) + "\n", encoding="utf-8")
    print(f"stackcheck fuzz --diff: {document['stimuli']} stimuli, {len(result.clusters)} clusters "
          f"({document['new_clusters']} new), {len(result.liveness)} liveness failure(s); report in "
          f"{out / 'report.html'}")
    return EXIT_FOUND if document["new_clusters"] or result.liveness else EXIT_OK
