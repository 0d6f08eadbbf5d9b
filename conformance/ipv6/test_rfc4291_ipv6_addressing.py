"""RFC 4291 §2.5.3 and §2.7: special addresses a received packet may not carry.

Each negative test sends the valid echo afterwards, so a DUT that answers nothing cannot pass.
"""

from __future__ import annotations

from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6

from harness import DUT, rfc

SILENCE_S = 1.0


def _control(dut: DUT, ident: int) -> None:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=ident, seq=1, data=b"control"))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1))


@rfc("RFC4291-2.7-4")
def test_packet_with_multicast_source_is_discarded(dut: DUT) -> None:
    # An echo "from" the all-nodes group: answering it would send a reply to every node.
    dut.send(dut.ipv6(src="ff02::1") / ICMPv6EchoRequest(id=0x4291, seq=1))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x4292)


@rfc("RFC4291-2.5.3-6")
def test_packet_to_loopback_received_on_the_link_is_dropped(dut: DUT) -> None:
    dut.send(dut.ipv6(dst="::1") / ICMPv6EchoRequest(id=0x4293, seq=1))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x4294)


@rfc("RFC4291-2.5.3-4")
def test_packet_from_the_loopback_address_is_dropped(dut: DUT) -> None:
    # Answering would send the reply to ::1 -- the DUT itself.
    dut.send(dut.ipv6(src="::1") / ICMPv6EchoRequest(id=0x4295, seq=1))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x4296)
