"""RFC 4291 §2.5, §2.7, Appendix A: special addresses a packet may not carry, the reserved
multicast scopes, and a stable link-local interface identifier.

Each negative test sends the valid echo afterwards, so a DUT that answers nothing cannot pass.
"""

from __future__ import annotations

import contextlib

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.packet import Raw

from harness import DUT, MUST, ExpectationFailed, described, multicast_mac, rfc
from harness.features import become_router

SILENCE_S = 1.0
PORT = 44291


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
    # Answering would send the reply to ::1 -- the DUT itself. A datagram from ::1, which needs
    # no answer, is not delivered either, beside the same datagram from the tester (the control).
    dut.send(dut.ipv6(src="::1") / ICMPv6EchoRequest(id=0x4295, seq=1))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x4296)
    dut.udp_bind(PORT, 6)
    for src, data in (("::1", b"from loopback"), (str(dut.info.tester_ipv6), b"from tester")):
        dut.send(dut.ipv6(src=src) / UDP(sport=PORT, dport=PORT) / Raw(data))
    got = dut.udp_recv(PORT, within=SILENCE_S)
    assert got is not None, "not even the control datagram from the tester was delivered"
    assert got[0] == b"from tester", "the datagram from ::1 was delivered"
    assert dut.udp_recv(PORT, within=0.2) is None, "the datagram from ::1 was delivered"


@rfc("RFC4291-2.5.2-2")
def test_packet_to_the_unspecified_address_is_not_answered(dut: DUT) -> None:
    dut.send(dut.ipv6(dst="::") / ICMPv6EchoRequest(id=0x4297, seq=1))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S)
    dut.expect_none(IPv6(dst="::"), within=0.0)  # nor does anything go to ::
    _control(dut, 0x4298)


@rfc("RFC4291-2.5.3-5")
def test_router_neither_answers_nor_forwards_a_packet_to_loopback(dut: DUT) -> None:
    dut.set_forwarding(6, True)
    dut.send(dut.ipv6(dst="::1", hlim=64) / ICMPv6EchoRequest(id=0x4299, seq=1))
    dut.expect_none(IPv6(dst="::1"), within=SILENCE_S)
    dut.expect_none(ICMPv6EchoReply(id=0x4299), within=0.0)
    _control(dut, 0x429A)


@rfc("RFC4291-2.7-6")
def test_multicast_with_reserved_scope_0_is_neither_received_nor_originated(dut: DUT) -> None:
    # Received: a datagram to ff00::db8:1 is not taken for the joined ff0e::db8:1 (same group
    # ID), beside the same datagram to ff0e::db8:1, delivered. UDP, not an Echo Request: an
    # answer to a multicast echo is the DUT's choice (the "echo-multicast" feature).
    group, joined = "ff00::db8:1", "ff0e::db8:1"
    dut.join_group(joined)
    dut.udp_bind(PORT, 6)
    for dst, data in ((group, b"scope 0"), (joined, b"scope e")):
        dut.send(dut.ether(dst=multicast_mac(dst)) / IPv6(src=str(dut.info.tester_ipv6), dst=dst)
                 / UDP(sport=PORT, dport=PORT) / Raw(data))
    got = dut.udp_recv(PORT, within=SILENCE_S)
    assert got is not None, f"not even the control datagram to {joined} was delivered"
    assert got[0] == b"scope e", f"the datagram to {group} (scope 0) was delivered"
    assert dut.udp_recv(PORT, within=0.2) is None, f"the datagram to {group} (scope 0) was delivered"
    # Originated: a send to the scope-0 group leaves nothing (refusing the send is one way of
    # not originating it), beside the same send to ff0e::db8:1, which leaves.
    with contextlib.suppress(Exception):
        dut.udp_send(PORT, b"scope 0", group, PORT)
    dut.expect_none(IPv6(dst=group), within=SILENCE_S)
    dut.udp_send(PORT, b"scope e", joined, PORT)
    dut.expect(IPv6(dst=joined), UDP(dport=PORT), within=SILENCE_S)


@pytest.mark.parametrize("scope", ["e", "f"])
@rfc("RFC4291-2.7-7", quote="if such a packet is sent or received, it must be treated the same as packets "
                            "destined to a global (scop E) multicast address.")
def test_multicast_with_reserved_scope_f_is_received_like_global_scope(dut: DUT, scope: str) -> None:
    group = f"ff0{scope}::db8:4291"
    dut.join_group(group)
    dut.udp_bind(PORT, 6)
    dut.send(dut.ether(dst=multicast_mac(group)) / IPv6(src=str(dut.info.tester_ipv6), dst=group)
             / UDP(sport=PORT, dport=PORT) / Raw(b"scope " + scope.encode()))
    got = dut.udp_recv(PORT, within=SILENCE_S)
    assert got is not None and got[0] == b"scope " + scope.encode(), f"the datagram to {group} was not delivered"


@rfc("RFC4291-A-4")
def test_link_local_interface_identifier_survives_a_link_flap(dut: DUT) -> None:
    before = [a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip.is_link_local]
    dut.restart_link()
    dut.wait(0.5)
    after = [a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip.is_link_local]
    assert before and after == before, f"link-local addresses {before} before the link flap, {after} after"


def _echo_to_group(dut: DUT, group: str, ident: int) -> None:
    dut.send(dut.ether(dst=multicast_mac(group)) / IPv6(src=str(dut.info.tester_ipv6), dst=group)
             / ICMPv6EchoRequest(id=ident, seq=1, data=b"group"))


@described(4291, "2.8", MUST,
           "A router is required to recognize all addresses that a host is required to recognize, plus "
           "the following addresses as identifying itself: ... The All-Routers multicast addresses defined "
           "in Section 2.7.1.")
def test_router_recognizes_the_all_routers_group_after_a_link_flap(dut: DUT) -> None:
    become_router(dut, 6)
    dut.set_forwarding(6, True)  # switched on twice: still a router
    _echo_to_group(dut, "ff02::2", 0x428F)
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x428F, seq=1))
    dut.restart_link()
    # The global address is static: an echo to ff02::2 is answered from it once its DAD is over
    # (RFC 4862 5.4: a tentative address is not used); the all-nodes echo first is the control
    # that the link is back, retried until then.
    for attempt in range(1, 6):
        _echo_to_group(dut, "ff02::1", 0x4290 + attempt)
        try:
            dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4290 + attempt, seq=1), within=1.0)
            break
        except ExpectationFailed:
            continue
    else:
        raise AssertionError("no echo reply to the all-nodes group within 5 s of the link coming back")
    _echo_to_group(dut, "ff02::2", 0x428E)
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x428E, seq=1))


@described(4291, "2.8", MUST,
           "A router is required to recognize all addresses that a host is required to recognize, plus "
           "the following addresses as identifying itself: ... The All-Routers multicast addresses defined "
           "in Section 2.7.1.")
def test_router_recognizes_the_all_routers_group_until_it_is_a_host_again(dut: DUT) -> None:
    become_router(dut, 6)
    _echo_to_group(dut, "ff02::2", 0x4297)
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4297, seq=1))
    # Forwarding off: a host, whose required addresses (the list before) do not include ff02::2.
    dut.set_forwarding(6, False)
    _echo_to_group(dut, "ff02::2", 0x4298)
    dut.expect_none(ICMPv6EchoReply(id=0x4298), within=SILENCE_S, barrier=True)
    _echo_to_group(dut, "ff02::1", 0x4299)  # control: the all-nodes group still answers
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4299, seq=1))
    # A router once more: it recognizes ff02::2 again.
    dut.set_forwarding(6, True)
    _echo_to_group(dut, "ff02::2", 0x429A)
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x429A, seq=1))


@rfc("RFC4291-2.5.2-2")
def test_echo_request_from_the_unspecified_address_is_not_answered(dut: DUT) -> None:
    # The reply would go to "::". A default route through the tester gives it a way out, so only
    # the rule keeps the DUT from sending it.
    dut.add_route("::/0", via=str(dut.info.tester_ipv6_ll))
    dut.send(dut.ipv6(src="::") / ICMPv6EchoRequest(id=0x4299, seq=1))
    dut.expect_none(IPv6(dst="::"), within=SILENCE_S, barrier=True)
    _control(dut, 0x429A)
