"""RFC 8200 §4.5 and RFC 8504 §5.1 / RFC 7739: Fragment Identification values the DUT chooses.

The DUT sends three 3000-octet UDP datagrams to the tester back to back; each goes out in
fragments, and the first fragment of each gives its Identification.
"""

from __future__ import annotations

import itertools

from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment

from harness import DUT, rfc

PORT, DPORT = 40700, 40701
SIZE = 3000
# A sequence is "predictable" here when its steps are equal or all within +-NEAR. For
# identifications drawn at random from 2**32, the chance of either is below 1e-6.
NEAR = 1024


def _identifications(dut: DUT, count: int = 3) -> list[int]:
    dut.udp_bind(PORT, 6)
    src, dst = str(dut.info.dut_ipv6.ip), str(dut.info.tester_ipv6)
    idents: list[int] = []
    for n in range(count):
        dut.udp_send(PORT, bytes([n]) * SIZE, dst, DPORT)
        # The fragment at offset 0 starts each datagram; later fragments stay in the backlog.
        first = dut.expect(IPv6(src=src, dst=dst), IPv6ExtHdrFragment(offset=0))
        idents.append(first[IPv6ExtHdrFragment].id)
    return idents


@rfc("RFC8200-4.5-2",
     quote="For every packet that is to be fragmented, the source node generates an Identification value.")
def test_each_fragmented_datagram_gets_a_new_identification(dut: DUT) -> None:
    idents = _identifications(dut)
    assert len(set(idents)) == len(idents), f"Identifications repeat: {[hex(i) for i in idents]}"


@rfc("RFC8504-5.1-8")
def test_fragment_identifications_are_not_sequential(dut: DUT) -> None:
    idents = _identifications(dut)
    steps = [(b - a + 2**31) % 2**32 - 2**31 for a, b in itertools.pairwise(idents)]
    shown = [hex(i) for i in idents]
    assert len(set(steps)) > 1, f"Identifications {shown} advance by a constant step {steps[0]}"
    assert not all(abs(s) <= NEAR for s in steps), f"Identifications {shown} are nearly sequential"
