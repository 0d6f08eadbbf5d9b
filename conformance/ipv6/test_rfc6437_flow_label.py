"""RFC 6437 §3 (as RFC 8504 §5.1 repeats it): flow labels on the packets the DUT originates.

A flow here is one UDP socket sending to one tester address and port.
"""

from __future__ import annotations

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6

from harness import DUT, rfc

PORT = 40800


def _label(dut: DUT, dport: int, data: bytes) -> int:
    dut.udp_send(PORT, data, str(dut.info.tester_ipv6), dport)
    frame = dut.expect(IPv6(src=str(dut.info.dut_ipv6.ip), dst=str(dut.info.tester_ipv6)), UDP(dport=dport))
    return int(frame[IPv6].fl)


@rfc("RFC6437-3-2", "RFC6437-1-1")
def test_packets_of_one_flow_carry_the_same_nonzero_flow_label(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    labels = [_label(dut, 40801, bytes([n]) * 32) for n in range(3)]
    assert labels[0] != 0, "the flow label is zero"
    assert len(set(labels)) == 1, f"one flow, several labels: {[hex(x) for x in labels]}"


@rfc("RFC6437-3-2", "RFC6437-3-1")
def test_different_flows_carry_different_flow_labels(dut: DUT) -> None:
    # Four flows (four destination ports): labels drawn from 2**20 values all coincide by chance
    # with probability 2**-60.
    dut.udp_bind(PORT, 6)
    labels = [_label(dut, 40810 + n, b"flow") for n in range(4)]
    assert len(set(labels)) > 1, f"every flow carries the label {hex(labels[0])}"
