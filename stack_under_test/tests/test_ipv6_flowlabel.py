"""Flow labels on what we originate (RFC 6437 §3): per flow, non-zero, 20 bits, keyed by the stack rng."""

from __future__ import annotations

import random

from stack_under_test.network.ipv6.flowlabel import FLOW_LABEL_MASK, FlowLabeler
from stack_under_test.tests._ipv6_bench import DUT, OTHER, TESTER, Bench, icmp_packet
from stack_under_test.wire.icmpv6 import EchoRequest


def labels_of_sends(bench: Bench, ports: list[int], dst: str = "2001:db8:1::2") -> list[int]:
    sock = bench.stack.udp_bind("::", 4000)
    for port in ports:
        sock.sendto(b"x", dst, port)
    sock.close()
    return [s.ip.flow_label for s in bench.sent()]


def test_packets_of_one_flow_share_a_non_zero_label() -> None:
    labels = labels_of_sends(Bench(), [53, 53, 53])
    assert len(set(labels)) == 1
    assert 0 < labels[0] <= FLOW_LABEL_MASK


def test_different_flows_get_different_labels() -> None:
    labels = labels_of_sends(Bench(), list(range(1000, 1050)))
    assert len(set(labels)) >= 49  # 50 flows in a 20-bit space: a collision is very unlikely
    assert all(0 < label <= FLOW_LABEL_MASK for label in labels)


def test_labels_depend_on_the_per_stack_secret() -> None:
    a = FlowLabeler(random.Random(1)).label(DUT, TESTER, 17, b"\x0f\xa0\x00\x35")
    b = FlowLabeler(random.Random(2)).label(DUT, TESTER, 17, b"\x0f\xa0\x00\x35")
    again = FlowLabeler(random.Random(1)).label(DUT, TESTER, 17, b"\x0f\xa0\x00\x35")
    assert a == again
    assert a != b


def test_the_label_covers_addresses_and_protocol() -> None:
    labeler = FlowLabeler(random.Random(7))
    base = labeler.label(DUT, TESTER, 17, b"\x00\x01\x00\x02")
    assert labeler.label(DUT, OTHER, 17, b"\x00\x01\x00\x02") != base
    assert labeler.label(DUT, TESTER, 58, b"\x00\x01\x00\x02") != base


def test_echo_replies_are_labelled_too() -> None:
    bench = Bench()
    bench.inject(icmp_packet(TESTER, DUT, EchoRequest(1, 1, b"")))
    assert bench.only_sent().ip.flow_label != 0
