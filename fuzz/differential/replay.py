"""Replay stimuli on every DUT and print what each answered, for triaging clusters:

    python -m fuzz.differential.replay --diff inprocess,linux FRAME_HEX [FRAME_HEX ...]
    python -m fuzz.differential.replay --diff inprocess,linux --report out/fuzz/diff/report.json --cluster 3
    python -m fuzz.differential.replay --diff inprocess,linux --report out/fuzz/diff/report.json --retriage

The frames are sent back to back from the baseline, as the fuzzer sends them; the output lists
each DUT's normalised answers, the signatures in which they differ, and (``--show``) the frames
dissected by Scapy. ``--retriage`` replays every cluster of a report with the code and the
known-differences file as they are now and says, per signature, which entry explains it, NEW,
or that the stimulus no longer draws different answers (after a fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scapy.layers.l2 import Ether

from fuzz.differential import known as known_file
from fuzz.differential.cluster import signatures
from fuzz.differential.engine import Engine
from fuzz.differential.lanes import LanePool, factory
from fuzz.differential.shape import kind_of, shape_of
from fuzz.differential.stimulus import Stimulus


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m fuzz.differential.replay", description=__doc__.splitlines()[0])
    p.add_argument("--diff", required=True, metavar="DUT,DUT")
    p.add_argument("--report", metavar="JSON", help="a differential report.json to take the stimulus from")
    p.add_argument("--cluster", type=int, metavar="N", help="the cluster's number in that report (from 1)")
    p.add_argument("--show", action="store_true", help="also dissect every answer frame")
    p.add_argument("--retriage", action="store_true", help="replay every cluster of --report against --known")
    p.add_argument("--known", default=str(known_file.DEFAULT), metavar="FILE")
    p.add_argument("frames", nargs="*", metavar="FRAME_HEX")
    args = p.parse_args(argv)
    if args.retriage:
        if not args.report:
            p.error("--retriage needs --report")
        return retriage(args.diff.split(","), Path(args.report), Path(args.known))
    if args.report:
        clusters = json.loads(Path(args.report).read_text(encoding="utf-8"))["clusters"]
        entry = clusters[args.cluster - 1]["stimulus"]
        stimulus = Stimulus.from_hex(entry["kind"], entry["frames"])
    elif args.frames:
        stimulus = Stimulus.from_hex("replay", args.frames)
    else:
        p.error("give FRAME_HEX arguments or --report and --cluster")
    duts = args.diff.split(",")
    engine = Engine({dut: LanePool(dut, 1, factory(dut)) for dut in duts})
    try:
        obs = engine.run(stimulus)
    finally:
        engine.close()
    for frame in stimulus.frames:
        print(f"sent: {Ether(frame).summary()}")
    print(f"window {obs.window_s:g} s; {'; '.join(obs.notes)}")
    for dut in duts:
        print(f"{dut}:")
        for token in obs.tokens[dut]:
            print(f"    {token}")
        if args.show:
            for frame in obs.frames[dut]:
                print(Ether(frame).show(dump=True))
    for signature in signatures(obs, duts, kind_of(stimulus, engine.symbols[duts[0]])):
        print(f"differs: {signature}")
    return 0


def retriage(duts: list[str], report: Path, known_path: Path) -> int:
    known = known_file.load(known_path, Path(__file__).resolve().parents[2] / "conformance")
    clusters = json.loads(report.read_text(encoding="utf-8"))["clusters"]
    engine = Engine({dut: LanePool(dut, 1, factory(dut)) for dut in duts})
    symbols = engine.symbols[duts[0]]
    new = 0
    try:
        for n, cluster in enumerate(clusters, 1):
            entry = cluster["stimulus"]
            stimulus = Stimulus.from_hex(entry["kind"], entry["frames"])
            print(f"{n} ({cluster['count']}x) {cluster['signature']}")
            found = signatures(engine.run(stimulus), duts, kind_of(stimulus, symbols))
            if not found:
                print("    no difference now")
            for signature in found:
                match = known_file.triage(signature, [shape_of(stimulus, symbols)], known)
                new += match is None
                print(f"    {match.triage + ' ' + match.id if match else 'NEW'}: {signature}")
    finally:
        engine.close()
    print(f"{len(clusters)} clusters, {new} signature(s) not explained by {known_path}")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
