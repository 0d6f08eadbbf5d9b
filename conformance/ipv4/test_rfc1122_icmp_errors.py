"""RFC 1122 §3.2.2 (ICMP for hosts): which errors a host sends, what they quote (as much as fits
in 576 octets, RFC 1812 §4.3.2.3), and when it must stay silent. The rate limit on errors is
in test_rfc1812_icmp_rate_limit.py.

The "MUST NOT be sent" tests first send a datagram that must draw no error, then the same
defect in a datagram that may draw one. If the DUT stays silent for that control too, its
silence proves nothing and the test skips saying so; the SHOULD tests that ask for the error
itself report that gap.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP
from scapy.packet import Packet, Raw

from harness import (
    DUT,
    ExpectationFailed,
    icmp_quote,
    l3_bytes,
    multicast_mac,
    rfc,
    with_ipv4_options,
)
from harness.features import become_router, require_feature

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"
CLOSED_PORT: Final = 33434  # nothing listens here on the DUT
UNASSIGNED_PROTOCOL: Final = 253  # RFC 3692 experimental: no host implements it by default
# IP option type 158 (copied, class 0, number 30) with a length octet of 1: every option other
# than End of Option List and No Operation has "an option-length octet" counting "the option-type
# and option-length octet" (RFC 791 §3.1), so a length below 2 is malformed.
BAD_OPTION: Final = b"\x9e\x01\x00\x00"
SILENCE_S: Final = 1.0
PORT_UNREACHABLE: Final = ICMP(type=3, code=3)
PARAMETER_PROBLEM: Final = ICMP(type=12, code=0)


def _udp(dut: DUT, **ip_fields: object) -> Packet:
    return dut.ipv4(**ip_fields) / UDP(sport=40000, dport=CLOSED_PORT) / Raw(b"is anyone there?")


def _probe(dut: DUT, size: int) -> Packet:
    """A UDP datagram of ``size`` data octets to the closed port."""
    return dut.ipv4() / UDP(sport=40100, dport=CLOSED_PORT) / Raw(bytes(size))


def _require_error(dut: DUT, frame: Packet, error: Packet, what: str) -> Packet:
    """Control: ``frame`` must draw ``error``; if it does not, the test cannot judge the DUT."""
    dut.send(frame)
    try:
        return dut.expect(error)
    except ExpectationFailed:
        pytest.skip(f"the DUT sends no {what} even for {frame.summary()}, so its silence "
                    "in this test proves nothing; see the test requiring that error")


@rfc("RFC1122-3.2.2.1-1",
     quote="2 (Protocol Unreachable), when the designated transport protocol is not supported")
def test_unsupported_protocol_draws_protocol_unreachable(dut: DUT) -> None:
    dut.send(dut.ipv4(proto=UNASSIGNED_PROTOCOL) / Raw(b"\x00" * 32))
    error = dut.expect(ICMP(type=3, code=2))
    assert error[IP].src == str(dut.info.dut_ipv4.ip)
    assert error[IP].dst == str(dut.info.tester_ipv4)


@pytest.mark.parametrize("cause", ["protocol-unreachable", "port-unreachable", "timestamp-option"])
@rfc("RFC1122-3.2.2-2")
def test_error_quotes_invoking_header_and_data_unchanged(dut: DUT, cause: str) -> None:
    if cause == "protocol-unreachable":
        sent = dut.ipv4(proto=UNASSIGNED_PROTOCOL, id=0x5151, ttl=37) / Raw(bytes(range(40)))
        error_template = ICMP(type=3, code=2)
    elif cause == "timestamp-option":
        # A Timestamp option with room for two timestamps: a host that fills one in on receipt
        # must still quote the header as it arrived.
        sent = with_ipv4_options(dut.ipv4(proto=UNASSIGNED_PROTOCOL, id=0x5353, ttl=37) / Raw(bytes(range(40))),
                                 bytes([68, 12, 5, 0]) + bytes(8))
        error_template = ICMP(type=3, code=2)
    else:
        sent = dut.ipv4(id=0x5252, ttl=37) / UDP(sport=40001, dport=CLOSED_PORT) / Raw(bytes(range(40)))
        error_template = PORT_UNREACHABLE
    error = _require_error(dut, sent, error_template, cause.replace("-", " "))
    quote, datagram = icmp_quote(error), l3_bytes(sent)
    assert len(quote) >= 20 + 8, f"the error quotes only {len(quote)} octets"
    assert datagram.startswith(quote), (
        f"quoted octets differ from the datagram sent:\n  sent   {datagram[: len(quote)].hex()}\n"
        f"  quoted {quote.hex()}"
    )


@rfc("RFC1812-4.3.2.3-1")
def test_error_quotes_as_much_as_fits_in_576_octets(dut: DUT) -> None:
    # RFC 1812 binds routers; a host owes "the Internet header and at least the first 8 data
    # octets" (RFC 1122 3.2.2, test_error_quotes_invoking_header_and_data_unchanged).
    become_router(dut, 4)
    sent = _probe(dut, 1200)
    dut.send(sent)
    error = dut.expect(PORT_UNREACHABLE)
    assert error[IP].len <= 576, f"the error is {error[IP].len} octets long"
    quote = icmp_quote(error)
    assert l3_bytes(sent).startswith(quote), "the quote differs from the datagram sent"
    room = 576 - error[IP].ihl * 4 - 8
    assert len(quote) == room, f"the error quotes {len(quote)} octets where {room} fit"


@rfc("RFC1812-4.3.2.3-1")
def test_error_about_a_short_datagram_quotes_all_of_it(dut: DUT) -> None:
    # RFC 1812 binds routers; a host owes "the Internet header and at least the first 8 data
    # octets" (RFC 1122 3.2.2, test_error_quotes_invoking_header_and_data_unchanged).
    become_router(dut, 4)
    sent = _probe(dut, 100)
    dut.send(sent)
    assert icmp_quote(dut.expect(PORT_UNREACHABLE)) == l3_bytes(sent)


@rfc("RFC1122-3.2.2-4")
def test_error_is_sent_with_zero_tos(dut: DUT) -> None:
    error = _require_error(dut, _udp(dut), PORT_UNREACHABLE, "Port Unreachable")
    assert error[IP].tos == 0, f"the error carries TOS 0x{error[IP].tos:02x}"


@pytest.mark.parametrize("carried", [8, 0, 13, 14, 15, 16, 17, 18, 9, 10],
                         ids=["echo-request", "echo-reply", "timestamp", "timestamp-reply", "information-request",
                              "information-reply", "address-mask-request", "address-mask-reply",
                              "router-advertisement", "router-solicitation"])
@rfc("RFC1122-3.2.2.5-1")
def test_malformed_option_draws_parameter_problem(dut: DUT, carried: int) -> None:
    # A host that processes no IPv4 option (Record Route and Timestamp are OPTIONAL, RFC 1122
    # 3.2.1.8) never walks the option list, so it finds no problem to report.
    require_feature(dut, "ipv4-record-route", "ipv4-timestamp", any_of=True)
    # Whatever query the datagram carries (RFC 1122 3.2.2 lists Echo, Information, Timestamp and
    # Address Mask, requests and replies; RFC 1256 adds Router Advertisement and Solicitation),
    # it is no ICMP error message, so the rule against errors about errors does not hold the
    # Parameter Problem back.
    dut.send(with_ipv4_options(dut.ipv4() / ICMP(type=carried, id=0xC01, seq=1) / Raw(b"bad option"), BAD_OPTION))
    error = dut.expect(ICMP(type=12))
    # RFC 792: "the pointer identifies the octet of the original datagram's header where the
    # error was detected" -- the option's type or length octet.
    assert error[ICMP].ptr in (20, 21), f"pointer {error[ICMP].ptr} is outside the bad option"


@rfc("RFC1122-3.2.2-5", quote="an ICMP error message")
def test_no_error_about_an_icmp_error(dut: DUT) -> None:
    # A Port Unreachable "returned" to the DUT, whose IP header carries the malformed option
    # that draws a Parameter Problem when it comes with an echo request.
    dut_ip, tester_ip = str(dut.info.dut_ipv4.ip), str(dut.info.tester_ipv4)
    returned = IP(src=dut_ip, dst=tester_ip) / UDP(sport=40002, dport=53) / Raw(b"12345678")
    dut.send(with_ipv4_options(dut.ipv4() / ICMP(type=3, code=3) / returned, BAD_OPTION))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    control = with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0xC02, seq=1) / Raw(b"control"), BAD_OPTION)
    _require_error(dut, control, PARAMETER_PROBLEM, "Parameter Problem")


@pytest.mark.parametrize(("kind", "code"), [(11, 0), (12, 0), (3, 1)],
                         ids=["time-exceeded", "parameter-problem", "host-unreachable"])
@rfc("RFC1122-3.2.2-5", quote="an ICMP error message")
def test_no_error_about_any_icmp_error(dut: DUT, kind: int, code: int) -> None:
    returned = IP(src=str(dut.info.dut_ipv4.ip), dst=str(dut.info.tester_ipv4)) / UDP(sport=40101, dport=53)
    error = dut.ipv4() / ICMP(type=kind, code=code) / Raw(bytes(returned) + b"12345678")
    dut.send(with_ipv4_options(error, BAD_OPTION))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    # Control: the same malformed header on an echo request draws a Parameter Problem.
    dut.send(with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0xE01, seq=1) / Raw(b"control"), BAD_OPTION))
    try:
        dut.expect(ICMP(type=12))
    except ExpectationFailed:
        pytest.skip("the DUT sends no Parameter Problem even about an echo request with a "
                    "malformed option, so its silence here proves nothing")


@pytest.mark.parametrize("defect", ["closed-port", "bad-option"])
@pytest.mark.parametrize("dst", ["limited-bcast", "subnet-bcast", "multicast"])
@rfc("RFC1122-3.2.2-5", quote="a datagram destined to an IP broadcast or IP multicast address")
def test_no_error_about_a_datagram_to_broadcast_or_multicast(dut: DUT, dst: str, defect: str) -> None:
    address, mac = {
        "limited-bcast": ("255.255.255.255", BROADCAST_MAC),
        "subnet-bcast": (str(dut.info.dut_ipv4.network.broadcast_address), BROADCAST_MAC),
        "multicast": ("224.0.0.1", multicast_mac("224.0.0.1")),  # all-systems: every host is in it
    }[dst]
    # A closed port (Port Unreachable to a unicast datagram), or a malformed option (Parameter
    # Problem to a unicast one): the IP layer finds the second before any transport sees it. The
    # second comes in a frame to the DUT's own MAC: only its IP destination makes it a broadcast
    # or multicast, so the link-layer rule cannot be what keeps the DUT silent.
    def stimulus(**ip_fields: object) -> Packet:
        frame = _udp(dut, **ip_fields)
        return with_ipv4_options(frame, BAD_OPTION) if defect == "bad-option" else frame
    probe = stimulus(dst=address)
    if defect == "closed-port":
        probe.dst = mac
    dut.send(probe)
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    error = PARAMETER_PROBLEM if defect == "bad-option" else PORT_UNREACHABLE
    _require_error(dut, stimulus(), error, "Parameter Problem" if defect == "bad-option" else "Port Unreachable")


@rfc("RFC1122-3.2.2-5", quote="a datagram sent as a link-layer broadcast")
def test_no_error_about_a_link_layer_broadcast(dut: DUT) -> None:
    probe = _udp(dut)  # unicast IP destination: the DUT's own address
    probe.dst = BROADCAST_MAC
    dut.send(probe)
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _require_error(dut, _udp(dut), PORT_UNREACHABLE, "Port Unreachable")


@rfc("RFC1122-3.2.2-5", quote="a non-initial fragment")
def test_no_error_about_a_non_initial_fragment(dut: DUT) -> None:
    # The second (last) fragment of a UDP datagram, at offset 64, carrying the malformed option.
    tail = dut.ipv4(proto=17, frag=8, flags=0, id=0x7777) / Raw(bytes(24))
    dut.send(with_ipv4_options(tail, BAD_OPTION))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    control = with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0xC03, seq=1) / Raw(b"control"), BAD_OPTION)
    _require_error(dut, control, PARAMETER_PROBLEM, "Parameter Problem")


@pytest.mark.parametrize(
    "source",
    ["255.255.255.255", "198.51.100.255", "224.0.0.1", "0.0.0.0", "127.0.0.1", "240.0.0.1"],
    ids=["limited-bcast", "subnet-bcast", "multicast", "zero", "loopback", "class-e"],
)
@rfc("RFC1122-3.2.2-5", quote="a datagram whose source address does not define a single host")
def test_no_error_about_a_datagram_from_a_non_host_source(dut: DUT, source: str) -> None:
    gateway = str(dut.info.other_ipv4)
    off_link = ip_address(source) not in dut.info.dut_ipv4.network and not ip_address(source).is_multicast
    if off_link:
        # A default route, so that the source is reachable and only the rule keeps the DUT silent;
        # an error on its way would show as an ARP request for the gateway, which no one answers.
        dut.add_route("0.0.0.0/0", via=gateway)
    dut.send(_udp(dut, src=source))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    if off_link:
        dut.expect_none(ARP(op=1, pdst=gateway), within=0)
    _require_error(dut, _udp(dut), PORT_UNREACHABLE, "Port Unreachable")
