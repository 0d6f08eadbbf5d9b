"""The barrier probe, packed by hand, is the echo request Scapy builds from the same fields."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from harness.backends.base import TEST_LINK
from harness.barrier import BARRIER_ID, is_reply, probe


@pytest.mark.parametrize("family", [4, 6])
def test_probe_is_the_echo_request_scapy_builds(family: int) -> None:
    raw, seq = probe(TEST_LINK, family)  # type: ignore[arg-type]
    token = b"stackcheck barrier " + str(seq).encode()
    ether = Ether(src=TEST_LINK.tester_mac, dst=TEST_LINK.dut_mac)
    if family == 4:
        built = (ether / IP(src=str(TEST_LINK.tester_ipv4), dst=str(TEST_LINK.dut_ipv4.ip))
                 / ICMP(type=8, id=BARRIER_ID, seq=seq) / token)
    else:
        built = (ether / IPv6(src=str(TEST_LINK.tester_ipv6), dst=str(TEST_LINK.dut_ipv6.ip))
                 / ICMPv6EchoRequest(id=BARRIER_ID, seq=seq, data=token))
    assert raw == bytes(built)  # checksums included: Scapy computes them itself
    assert not is_reply(Ether(raw), seq), "a request is no reply"
