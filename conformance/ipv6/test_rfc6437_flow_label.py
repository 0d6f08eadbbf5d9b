"""RFC 6437 §3 (as RFC 8504 §5.1 repeats it): flow labels on the packets the DUT originates.

A flow here is one UDP socket sending to one tester address and port.
"""

from __future__ import annotations

import functools
import itertools
import operator

from scapy.layers.inet import TCP, UDP
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
    # Datagrams of 32, 300 and 7 octets: the flow is the addresses and ports, whatever the length
    # (300 octets put the high octet of the UDP Length, just after the ports, above zero).
    labels = [_label(dut, 40801, bytes([n]) * size) for n, size in enumerate((32, 300, 7))]
    assert labels[0] != 0, "the flow label is zero"
    assert len(set(labels)) == 1, f"one flow, several labels: {[hex(x) for x in labels]}"


@rfc("RFC6437-3-2", "RFC6437-3-1")
def test_different_flows_carry_different_flow_labels(dut: DUT) -> None:
    # Four flows (four destination ports): labels drawn from 2**20 values all coincide by chance
    # with probability 2**-60.
    dut.udp_bind(PORT, 6)
    labels = [_label(dut, 40810 + n, b"flow") for n in range(4)]
    assert len(set(labels)) > 1, f"every flow carries the label {hex(labels[0])}"


@rfc("RFC6437-3-2", "RFC6437-3-1")
def test_different_tcp_connections_carry_different_flow_labels(dut: DUT) -> None:
    # Four connections to four ports of the tester (their SYNs, left unanswered): as for UDP,
    # four labels drawn from 2**20 values all coincide with probability 2**-60.
    labels = []
    for n in range(4):
        dport = 40820 + n
        dut.tcp_connect(str(dut.info.tester_ipv6), dport)
        syn = dut.expect(IPv6(src=str(dut.info.dut_ipv6.ip), dst=str(dut.info.tester_ipv6)), TCP(flags="S", dport=dport))
        labels.append(int(syn[IPv6].fl))
    assert 0 not in labels, f"a connection's packets carry no flow label: {[hex(x) for x in labels]}"
    assert len(set(labels)) > 1, f"every connection carries the label {hex(labels[0])}"


def _labels_of_flows(dut: DUT, count: int) -> list[int]:
    """The labels of ``count`` flows: one socket, consecutive destination ports."""
    dut.udp_bind(PORT, 6)
    return [_label(dut, 41000 + n, b"flow") for n in range(count)]


@rfc("RFC6437-3-3", "RFC6437-3-2")
def test_flow_labels_of_many_flows_are_unique(dut: DUT) -> None:
    # 32 flows: 20-bit values drawn uniformly repeat with probability about 32*31/2 / 2**20 < 0.05 %.
    labels = _labels_of_flows(dut, 32)
    repeated = sorted({hex(x) for x in labels if labels.count(x) > 1})
    assert not repeated, f"flow labels repeat across 32 flows: {repeated}"
    # RFC 6437 2: "Flow label values should be chosen such that their bits exhibit a high degree
    # of variability". Each bit of a uniform draw stays the same over 32 flows with probability
    # 2**-31. The top bit is left out: Linux (net.ipv6.flowlabel_state_ranges) may set it on
    # every stateless label, to keep the lower half of the space for the flow manager.
    ones, zeros = functools.reduce(operator.or_, labels), functools.reduce(operator.or_, (~x for x in labels))
    fixed = ~(ones & zeros) & 0x7FFFF
    assert not fixed, f"bits {fixed:#07x} of the flow label never change over 32 flows: {[hex(x) for x in labels]}"


@rfc("RFC6437-3-4")
def test_flow_labels_are_not_assigned_sequentially(dut: DUT) -> None:
    # Flows opened one after another (consecutive ports): their labels must not step by a
    # constant (sequential assignment, or any other arithmetic progression).
    labels = _labels_of_flows(dut, 8)
    steps = {(b - a) % (1 << 20) for a, b in itertools.pairwise(labels)}
    assert len(steps) > 1, f"the labels of consecutive flows step by {steps}: {[hex(x) for x in labels]}"
