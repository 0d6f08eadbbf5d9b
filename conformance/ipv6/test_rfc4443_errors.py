"""RFC 4443 §2.2, §2.4 and §3.1: when an ICMPv6 error is sent, what it carries, where it comes
from, and when it must not be sent.

Two probes draw errors. A UDP datagram to a port nothing listens on draws a Port Unreachable.
A Destination Options header with an unknown 10xxxxxx option (type 0x9E) draws Parameter
Problem code 2 whatever the packet carries and wherever it is sent (RFC 8200 §4.2); the option
sits right after the header's first two octets: pointer 42. Each "must not" test sends the
probe in its forbidden form and also in a form that draws the error, so a DUT that never sends
errors at all cannot pass.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

import pytest
from scapy.layers.inet import UDP, UDPerror
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_Redirect,
    ICMPv6NDOptDstLLAddr,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import DUT, expect_param_problem, l3_bytes, multicast_mac, rfc, with_icmpv6_checksum
from harness.rfc import IPV6_MIN_MTU, ICMPv6Unreach
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
CLOSED_PORT = 33533  # nothing on the DUT listens here
ALL_NODES = "ff02::1"
IPV6_HEADER, ICMPV6_ERROR_HEADER = 40, 8


def _closed_port_probe(dut: DUT, sport: int, size: int = 32, **ip: Any) -> Packet:
    return dut.ipv6(**ip) / UDP(sport=sport, dport=CLOSED_PORT) / Raw(bytes(size))


def _expect_port_unreachable(dut: DUT, sport: int) -> Packet:
    return dut.expect(
        IPv6(dst=str(dut.info.tester_ipv6)),
        ICMPv6DestUnreach(code=ICMPv6Unreach.PORT),
        UDPerror(sport=sport, dport=CLOSED_PORT),
    )


@rfc("RFC4443-3.1-4")
def test_udp_to_a_closed_port_draws_port_unreachable(dut: DUT) -> None:
    dut.send(_closed_port_probe(dut, sport=40001))
    error = _expect_port_unreachable(dut, 40001)
    # RFC 4443 3.1: "Unused ... It must be initialized to zero by the originator".
    assert l3_bytes(error)[44:48] == bytes(4), f"the Unused field reads {l3_bytes(error)[44:48].hex()}"


@pytest.mark.parametrize("size", [32, 1400], ids=["whole", "truncated"])
@rfc("RFC4443-2.4-4")
def test_error_quotes_as_much_of_the_invoking_packet_as_fits_in_1280_octets(dut: DUT, size: int) -> None:
    probe = _closed_port_probe(dut, sport=40002, size=size)
    dut.send(probe)
    error = _expect_port_unreachable(dut, 40002)
    sent = l3_bytes(probe)
    room = IPV6_MIN_MTU - IPV6_HEADER - ICMPV6_ERROR_HEADER  # 1232 octets of quote at most
    # Sliced from the wire bytes: Scapy dissects a long Destination Unreachable body as
    # RFC 4884 extensions, which would hide most of the quote.
    quote = l3_bytes(error)[IPV6_HEADER + ICMPV6_ERROR_HEADER :]
    assert quote == sent[:room], "the quote is not the invoking packet's leading octets"
    assert len(l3_bytes(error)) == min(IPV6_MIN_MTU, IPV6_HEADER + ICMPV6_ERROR_HEADER + len(sent))


@rfc("RFC4443-2.4-4")
def test_error_quotes_the_invoking_packet_beyond_its_udp_length(dut: DUT) -> None:
    # The UDP Length covers one octet less than the IPv6 Payload Length: the invoking packet is
    # still the whole IPv6 packet, so the quote ends where its payload ends, not where UDP's does.
    exact = bytearray(l3_bytes(_closed_port_probe(dut, sport=40009, size=6)))  # checksum over 14 octets
    exact[4:6] = (len(exact) - IPV6_HEADER + 1).to_bytes(2, "big")
    packet = bytes(exact) + b"+"
    dut.send(dut.ether(type=0x86DD) / Raw(packet))
    error = _expect_port_unreachable(dut, 40009)
    quote = l3_bytes(error)[IPV6_HEADER + ICMPV6_ERROR_HEADER :]
    assert quote == packet, f"the quote is {len(quote)} octets of the {len(packet)}-octet invoking packet"


@pytest.mark.parametrize("which", ["global", "link-local"])
@rfc("RFC4443-2.2-2", "RFC4443-2.2-1")
def test_error_source_is_the_address_the_invoking_packet_was_sent_to(dut: DUT, which: str) -> None:
    info = dut.info
    src, dst = (
        (str(info.tester_ipv6), str(info.dut_ipv6.ip)) if which == "global"
        else (str(info.tester_ipv6_ll), str(info.dut_ipv6_ll))
    )
    dut.send(_closed_port_probe(dut, sport=40011, src=src, dst=dst))
    error = dut.expect(
        IPv6(dst=src), ICMPv6DestUnreach(code=ICMPv6Unreach.PORT), UDPerror(sport=40011, dport=CLOSED_PORT)
    )
    assert error[IPv6].src == dst, f"the error comes from {error[IPv6].src}, not from {dst}"


@rfc("RFC4443-2.2-2")
def test_error_about_a_link_layer_broadcast_frame_comes_from_the_address_it_was_sent_to(dut: DUT) -> None:
    # A packet to the DUT's link-local address, from the tester's global one, in an Ethernet
    # broadcast frame. Its unknown 10xxxxxx option draws a Parameter Problem even so (RFC 8200
    # 4.2; RFC 4443 2.4 (e.5) excepts it), which answers a message sent to that unicast address.
    info = dut.info
    probe = (dut.ether(dst="ff:ff:ff:ff:ff:ff") / IPv6(src=str(info.tester_ipv6), dst=str(info.dut_ipv6_ll))
             / _dest_opts() / ICMPv6EchoRequest(id=0x4412, seq=1))
    dut.send(probe)
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)
    assert error[IPv6].src == str(info.dut_ipv6_ll), f"the error comes from {error[IPv6].src}, not from {info.dut_ipv6_ll}"


def _dest_opts() -> Packet:
    # Option type 0x9E (RFC 4727 experimental): the two high-order bits are 10, "discard the
    # packet and, regardless of whether or not the packet's Destination Address was a multicast
    # address, send an ICMP Parameter Problem, Code 2, message" (RFC 8200 §4.2).
    return IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"\x00\x00\x00\x00")])


def _unknown_option_packet(dut: DUT, inner: Packet) -> Packet:
    return dut.ipv6() / _dest_opts() / inner


@rfc("RFC4443-2.4-5", quote="(e.1) An ICMPv6 error message.")
def test_no_error_is_sent_about_an_icmpv6_error_message(dut: DUT) -> None:
    # An unknown 10xxxxxx option draws Parameter Problem code 2 whatever the packet carries;
    # when what it carries is itself an ICMPv6 error, that rule must yield to (e.1).
    quoted = IPv6(src=str(dut.info.dut_ipv6.ip), dst=str(dut.info.tester_ipv6)) / UDP(sport=7, dport=7)
    inner_error = ICMPv6DestUnreach(code=ICMPv6Unreach.PORT) / quoted
    dut.send(_unknown_option_packet(dut, inner_error))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    # Control: the same header carrying an echo request does draw the Parameter Problem.
    dut.send(_unknown_option_packet(dut, ICMPv6EchoRequest(id=0x44E1, seq=1)))
    expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)


def _behind_authentication_header(dut: DUT, icmpv6: bytes) -> Packet:
    """The unknown-option header, then an Authentication Header (RFC 4302 2.2: Payload Len 1,
    "the length of AH in 32-bit words (4-byte units), minus '2'": 12 octets), then ``icmpv6``.
    The AH's Sequence Number reads 0x80808080: a receiver that steps over the AH by a wrong
    length lands on an octet that reads as an informational type, not an error."""
    ah = bytes([58, 1, 0, 0]) + (0x4302).to_bytes(4, "big") + bytes([0x80] * 4)
    return dut.ipv6() / IPv6ExtHdrDestOpt(nh=51, options=_dest_opts().options) / Raw(ah + icmpv6)


def _port_unreachable_message(dut: DUT) -> bytes:
    """A Destination Unreachable (code 4) with the first Unused octet 0x80 (ignored on receipt,
    RFC 4443 3.1) and its checksum's low octet also at or above 128 (not 137): a wrong AH length
    that lands on either reads an informational type there too."""
    src, dst = str(dut.info.tester_ipv6), str(dut.info.dut_ipv6.ip)
    quoted = bytes(IPv6(src=dst, dst=src) / UDP(sport=7, dport=7))
    for nonce in range(256):
        message = with_icmpv6_checksum(bytes([1, 4, 0, 0, 0x80, 0, 0, nonce]) + quoted, src, dst)
        if message[3] >= 128 and message[3] != 137:
            return message
    raise AssertionError("no nonce gives the checksum a high low octet")


@rfc("RFC4443-2.4-5", quote="(e.1) An ICMPv6 error message.")
def test_no_error_is_sent_about_an_icmpv6_error_behind_an_authentication_header(dut: DUT) -> None:
    # The DUT must step over the AH (RFC 4302; RFC 8200 4.1 lists it among the extension
    # headers) by its own length unit to find that the packet carries an ICMPv6 error.
    dut.send(_behind_authentication_header(dut, _port_unreachable_message(dut)))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    # Control: an echo request behind the same two headers draws the Parameter Problem.
    echo = bytes(IPv6(src=str(dut.info.tester_ipv6), dst=str(dut.info.dut_ipv6.ip))
                 / ICMPv6EchoRequest(id=0x4445, seq=1))[40:]
    dut.send(_behind_authentication_header(dut, echo))
    expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)


def _first_fragment_behind_unknown_option(dut: DUT, icmpv6: bytes) -> Packet:
    """The unknown-option header, then a Fragment header (offset 0, M 1) and the first 16 octets
    of ``icmpv6``: the first fragment of an ICMPv6 message."""
    frag = IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=0x4447)
    return dut.ipv6() / IPv6ExtHdrDestOpt(nh=44, options=_dest_opts().options) / frag / Raw(icmpv6[:16])


@rfc("RFC4443-2.4-5", quote="(e.1) An ICMPv6 error message.")
def test_no_error_is_sent_about_the_first_fragment_of_an_icmpv6_error(dut: DUT) -> None:
    # The first fragment carries the ICMPv6 header: a DUT that reads past the Fragment header
    # sees the error type there, and (e.1) holds.
    dut.send(_first_fragment_behind_unknown_option(dut, _port_unreachable_message(dut)))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    # Control: the first fragment of an echo request behind the same header draws the error.
    echo = bytes(IPv6(src=str(dut.info.tester_ipv6), dst=str(dut.info.dut_ipv6.ip))
                 / ICMPv6EchoRequest(id=0x4448, seq=1, data=bytes(16)))[40:]
    dut.send(_first_fragment_behind_unknown_option(dut, echo))
    expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)


@rfc("RFC4443-2.4-5", quote="(e.2) An ICMPv6 redirect message [IPv6-DISC].")
def test_no_error_is_sent_about_a_redirect(dut: DUT) -> None:
    redirect = ICMPv6ND_Redirect(tgt=str(dut.info.other_ipv6), dst="2001:db8:2::5")
    dut.send(dut.ipv6(hlim=255) / _dest_opts() / redirect)
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    # Control: the same header in front of an echo request draws the error.
    dut.send(dut.ipv6() / _dest_opts() / ICMPv6EchoRequest(id=0x4441, seq=1))
    expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)


@rfc("RFC4443-2.2-3")
def test_error_about_a_packet_to_a_multicast_group_comes_from_a_unicast_address(dut: DUT) -> None:
    dut.send(
        dut.ether(dst=multicast_mac(ALL_NODES))
        / IPv6(src=str(dut.info.tester_ipv6), dst=ALL_NODES)
        / _dest_opts()
        / ICMPv6EchoRequest(id=0x4442, seq=1)
    )
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)
    own = {IPv6Address(dut.info.dut_ipv6.ip), IPv6Address(dut.info.dut_ipv6_ll)}
    assert IPv6Address(error[IPv6].src) in own, f"error from {error[IPv6].src}, not one of {sorted(map(str, own))}"


@rfc("RFC4443-2.4-4")
def test_parameter_problem_about_a_large_packet_is_cut_at_1280_octets(dut: DUT) -> None:
    sent = dut.ipv6() / _dest_opts() / ICMPv6EchoRequest(id=0x4443, seq=1, data=bytes(1400))
    dut.send(sent)
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_OPTION, pointer=42)
    assert len(l3_bytes(error)) == IPV6_MIN_MTU, f"the error is {len(l3_bytes(error))} octets long"
    assert l3_bytes(error)[48:] == l3_bytes(sent)[: IPV6_MIN_MTU - 48], "the quote is not the packet's start"


@rfc("RFC4443-2.4-5", quote="(e.3) A packet destined to an IPv6 multicast address.")
def test_no_port_unreachable_for_a_datagram_to_a_multicast_address(dut: DUT) -> None:
    dut.send(
        dut.ether(dst=multicast_mac(ALL_NODES))
        / IPv6(src=str(dut.info.tester_ipv6), dst=ALL_NODES)
        / UDP(sport=40003, dport=CLOSED_PORT)
        / Raw(bytes(32))
    )
    dut.expect_none(ICMPv6DestUnreach, within=SILENCE_S, barrier=True)
    dut.send(_closed_port_probe(dut, sport=40004))
    _expect_port_unreachable(dut, 40004)


@rfc("RFC4443-2.4-5", quote="(e.3) A packet destined to an IPv6 multicast address.")
def test_no_parameter_problem_for_a_misplaced_hop_by_hop_header_in_a_packet_to_a_multicast_address(dut: DUT) -> None:
    # A Hop-by-Hop header after a Destination Options header is an error (RFC 8200 4: Parameter
    # Problem code 1), but not one of e.3's exceptions (Packet Too Big, Parameter Problem code 2
    # for an option of type 10xxxxxx), so a packet to ff02::1 draws nothing. Control: the same
    # packet to the DUT's unicast address draws the error.
    def misplaced(dst: str) -> Packet:
        return (IPv6(src=str(dut.info.tester_ipv6), dst=dst) / IPv6ExtHdrDestOpt(nh=0)
                / IPv6ExtHdrHopByHop(nh=59))
    dut.send(dut.ether(dst=multicast_mac(ALL_NODES)) / misplaced(ALL_NODES))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    dut.send(dut.ether() / misplaced(str(dut.info.dut_ipv6.ip)))
    expect_param_problem(dut, PPCode.UNRECOGNIZED_NEXT_HEADER, pointer=40)


@rfc("RFC4443-2.4-5",
     quote="(e.4) A packet sent as a link-layer multicast (the exceptions from e.3 apply to this case, too).")
@pytest.mark.parametrize("mac", ["all-nodes", "ipv4-all-hosts"])
def test_no_port_unreachable_for_a_unicast_datagram_in_a_link_layer_multicast_frame(dut: DUT, mac: str) -> None:
    # Any frame with the group bit set is link-layer multicast: 33:33:00:00:00:01 and also the
    # IPv4 all-hosts MAC 01:00:5e:00:00:01 (its second octet is even, so only the first tells).
    probe = _closed_port_probe(dut, sport=40005)
    probe[Ether].dst = multicast_mac(ALL_NODES) if mac == "all-nodes" else "01:00:5e:00:00:01"
    dut.send(probe)
    dut.expect_none(ICMPv6DestUnreach, within=SILENCE_S, barrier=True)
    dut.send(_closed_port_probe(dut, sport=40006))
    _expect_port_unreachable(dut, 40006)


@rfc("RFC4443-2.4-5",
     quote="(e.5) A packet sent as a link-layer broadcast (the exceptions from e.3 apply to this case, too).")
def test_no_port_unreachable_for_a_unicast_datagram_in_a_link_layer_broadcast_frame(dut: DUT) -> None:
    probe = _closed_port_probe(dut, sport=40007)
    probe[Ether].dst = "ff:ff:ff:ff:ff:ff"
    dut.send(probe)
    dut.expect_none(ICMPv6DestUnreach, within=SILENCE_S, barrier=True)
    dut.send(_closed_port_probe(dut, sport=40008))
    _expect_port_unreachable(dut, 40008)


@rfc("RFC4443-2.4-5",
     quote="(e.6) A packet whose source address does not uniquely identify a single node -- e.g., the IPv6 "
           "Unspecified Address, an IPv6 multicast address, or an address known by the ICMP message "
           "originator to be an IPv6 anycast address.")
def test_no_port_unreachable_for_a_datagram_from_the_unspecified_address(dut: DUT) -> None:
    # A default route through the tester: an error to "::" would have a way out, so only the
    # rule keeps the DUT silent.
    dut.add_route("::/0", via=str(dut.info.tester_ipv6_ll))
    dut.send(_closed_port_probe(dut, sport=40009, src="::"))
    dut.expect_none(ICMPv6DestUnreach, within=SILENCE_S, barrier=True)
    dut.send(_closed_port_probe(dut, sport=40010))
    _expect_port_unreachable(dut, 40010)


@pytest.mark.parametrize("sender,want", [
    ("tester-global", "2001:db8:1::1"), ("second-prefix", "2001:db8:2::1"), ("tester-link-local", "link-local"),
])
@rfc("RFC4443-2.2-4")
def test_error_about_a_packet_to_a_multicast_group_takes_the_source_rfc6724_selects(
        dut: DUT, sender: str, want: str) -> None:
    # Two global addresses and the link-local one: RFC 6724 picks the link-local for a link-local
    # destination (Rule 2) and, of the global ones, the one sharing the longer prefix (Rule 8).
    dut.add_address("2001:db8:2::1/64")
    src = {"tester-global": str(dut.info.tester_ipv6), "second-prefix": "2001:db8:2::9",
           "tester-link-local": str(dut.info.tester_ipv6_ll)}[sender]
    mac = dut.info.other_mac if sender == "second-prefix" else dut.info.tester_mac
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES)) / IPv6(src=src, dst=ALL_NODES) / _dest_opts()
             / ICMPv6EchoRequest(id=0x4444, seq=1))
    if sender == "second-prefix":  # a neighbor the DUT has to resolve first
        ns = dut.expect(ICMPv6ND_NS(tgt=src), within=1.0)
        dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=src, dst=ns[IPv6].src, hlim=255)
                 / ICMPv6ND_NA(tgt=src, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    error = dut.expect(IPv6(dst=src), ICMPv6ParamProblem, within=1.0)
    expected = str(dut.info.dut_ipv6_ll) if want == "link-local" else want
    assert error[IPv6].src == expected, f"the error to {src} comes from {error[IPv6].src}, not {expected}"


@rfc("RFC4443-3.1-6",
     quote="A node receiving the ICMPv6 Destination Unreachable message MUST notify the upper-layer process if "
           "the relevant process can be identified")
def test_error_about_the_dut_s_own_echo_reply_is_dropped_without_harm(dut: DUT) -> None:
    # The quoted packet is an Echo Reply the DUT sent: an ICMPv6 message, which no upper-layer
    # process of the DUT sent, so there is none to notify; the DUT drops the error and goes on.
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4446, seq=1, data=b"reply to be quoted"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4446, seq=1))
    dut.send(dut.ipv6() / ICMPv6DestUnreach(code=ICMPv6Unreach.ADDRESS) / Raw(l3_bytes(reply)))
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4447, seq=1))  # control: the DUT goes on answering
    got = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)))
    assert got.haslayer(ICMPv6EchoReply) and got[ICMPv6EchoReply].id == 0x4447, (
        f"the DUT answered the error about its own Echo Reply with {got.summary()}")
