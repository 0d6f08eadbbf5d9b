"""From observations to findings: what differed, as signatures, counted so that one behaviour is
one finding.

An observation's answers are compared DUT by DUT after the normaliser. What all DUTs sent alike
is set aside; what is left becomes one *signature* per behaviour:
- an attribute two DUTs chose differently in the same kind of message, named by message family
  and attribute, not by stimulus (``IPv4 | ICMP error: tos inprocess=0x00 linux=0xc0``), since such
  a choice shows in every stimulus that draws that message;
- data carried back that differs (``IPv6 | ICMPv6 echo-reply/0: data differs``);
- a message only some DUTs sent, with every attribute it has (the field a Parameter Problem points
  at, the roles of its addresses), prefixed by the kind of stimulus and where it went when that
  was not simply the DUT (``ipv6``, ``ipv4 l2=bcast``, ``ipv6 to=other``, ``fragments4``):
  ``ipv6 => IPv6 | ICMPv6 param-problem/2 ... | from inprocess, not linux``. The rest of the
  stimulus's shape is left out, or one behaviour (answering a packet to an address that is not
  the DUT's) would be as many findings as there are upper-layer protocols to draw; the shapes a
  cluster was seen with are kept with it, and its shrunk stimulus shows the cause.
Each signature is a ``Cluster``; the first stimulus that showed it is shrunk (``hunt.py``) while
keeping the signature, and the cluster keeps the smallest stimulus and what each DUT answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fuzz.differential.engine import Observation
from fuzz.differential.normalise import Token
from fuzz.differential.stimulus import Stimulus


def signatures(obs: Observation, duts: list[str], kind: str) -> list[str]:
    """The behaviours in which the DUTs' answers to one stimulus differ (empty: they agree);
    ``kind`` (``shape.kind_of``) names the stimulus in a message only some DUTs sent."""
    left = {dut: Counter(obs.tokens[dut]) for dut in duts}
    common = left[duts[0]].copy()
    for dut in duts[1:]:
        common &= left[dut]
    for dut in duts:
        left[dut] -= common
    found: set[str] = set()
    extras: dict[str, list[str]] = {}
    for message in sorted({t.kind for counter in left.values() for t in counter}):
        per_dut = {dut: sorted(t for t in left[dut].elements() if t.kind == message) for dut in duts}
        while all(per_dut[dut] for dut in duts):
            group = _closest(per_dut, duts)
            found |= _attribute_differences(group, duts)
        for dut in duts:
            for extra in per_dut[dut]:
                extras.setdefault(str(extra), []).append(dut)
    for token, have in extras.items():
        lack = [d for d in duts if d not in have]
        found.add(f"{kind} => {token} | from {', '.join(sorted(set(have), key=duts.index))}, not {', '.join(lack)}")
    return sorted(found)


def _closest(per_dut: dict[str, list[Token]], duts: list[str]) -> dict[str, Token]:
    """Take one token of the kind from each DUT: for each, the one sharing most attributes
    with the first DUT's, so two replies pair with each other and not one with an error."""
    first = per_dut[duts[0]].pop(0)
    group = {duts[0]: first}
    for dut in duts[1:]:
        best = max(per_dut[dut], key=lambda t: len(set(t.attrs) & set(first.attrs)))
        per_dut[dut].remove(best)
        group[dut] = best
    return group


def _attribute_differences(group: dict[str, Token], duts: list[str]) -> set[str]:
    out = set()
    kind = group[duts[0]].kind_class
    names = sorted({name for token in group.values() for name, _ in token.attrs})
    for name in names:
        values = {dut: dict(group[dut].attrs).get(name, "-") for dut in duts}
        if len(set(values.values())) > 1:
            out.add(f"{kind}: {name} " + " ".join(f"{dut}={values[dut]}" for dut in duts))
    if not out and len({group[dut].detail for dut in duts}) > 1:
        out.add(f"{group[duts[0]].kind}: data differs")
    return out


@dataclass
class Cluster:
    """One behaviour in which the DUTs differ."""

    signature: str
    count: int = 0
    first: Stimulus | None = None
    choices: Any = None  # Hypothesis's choice sequence of the first stimulus, to shrink it
    shrunk: Stimulus | None = None
    shrunk_answers: dict[str, list[str]] = field(default_factory=dict)  # DUT -> tokens, shrunk run
    shrunk_frames: dict[str, list[bytes]] = field(default_factory=dict)
    shrink_note: str = ""
    triage: str = "new"
    known_id: str = ""
    known_reason: str = ""
    known_rfc: str = ""
    shapes: Counter[str] = field(default_factory=Counter)  # stimulus shapes it was seen with
    pcaps: dict[str, str] = field(default_factory=dict)
    skeleton: str = ""

    @property
    def example(self) -> Stimulus | None:
        return self.shrunk or self.first


class Clusters:
    """Every signature seen in a campaign, with counts."""

    def __init__(self) -> None:
        self.by_signature: dict[str, Cluster] = {}

    def add(self, signature: str, stimulus: Stimulus, choices: Any, shape: str = "") -> Cluster | None:
        """Count one more occurrence; return the cluster when the signature is new."""
        cluster = self.by_signature.get(signature)
        if cluster is not None:
            cluster.count += 1
            cluster.shapes[shape] += 1
            if cluster.choices is None and choices is not None and cluster.shrunk is None:
                cluster.first, cluster.choices = stimulus, choices
            return None
        cluster = Cluster(signature, 1, stimulus, choices)
        cluster.shapes[shape] += 1
        self.by_signature[signature] = cluster
        return cluster

    def __iter__(self) -> Iterator[Cluster]:
        return iter(sorted(self.by_signature.values(), key=lambda c: (c.triage != "new", -c.count, c.signature)))

    def __len__(self) -> int:
        return len(self.by_signature)
