"""An IPv4 host at work (RFC 791 §2.3 and §3.1-3.2, RFC 1122 §3.1-3.3): several addresses on one
interface, the datagram sizes every host takes, TTLs, options it ignores, ICMP messages it does
not know, the on-link decision and its gateways, and error reporting.
"""

from __future__ import annotations

import contextlib
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, echo4, echo_data4, fragments4, rfc, with_ipv4_options
from harness.tcp_peer import established

SECOND_ADDRESS: Final = "198.51.100.5"
NEIGHBOUR: Final = "198.51.100.4"  # an on-link host the DUT has not resolved
NEIGHBOUR_MAC: Final = "02:00:00:00:00:04"
GATEWAY_MAC: Final = "02:00:00:00:00:03"  # dut.info.other_mac, for dut.info.other_ipv4
OFF_LINK: Final = "203.0.113.5"
SUBNET_FIRST, SUBNET_SECOND = "203.0.113.1", "203.0.113.2"  # two addresses the DUT is given on one subnet
SUBNET_NEIGHBOUR: Final = "203.0.113.9"
PORT: Final = 5060
TESTER_PORT: Final = 40060
TCP_PORT: Final = 5061
SILENCE_S: Final = 1.0


def _answer_arp(dut: DUT, address: str, mac: str) -> Packet:
    request = dut.expect(ARP(op=1, pdst=address))
    dut.send(Ether(src=mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=mac, psrc=address, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
    return request


def _udp(dut: DUT, data: bytes, **ip: object) -> Packet:
    return dut.ipv4(**ip) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(data)


def _delivered(dut: DUT, data: bytes) -> None:
    got = dut.udp_recv(PORT, within=2.0)
    assert got is not None, f"the DUT's socket received nothing; expected {len(data)} octets"
    assert got[0] == data, "the socket received other data than the datagram's"


# ---- addresses -------------------------------------------------------------------------------

@rfc("RFC791-2.3-2", "RFC791-3.2-5", "RFC791-3.2-6")
def test_each_address_of_the_interface_is_a_host_of_its_own(dut: DUT) -> None:
    dut.add_address(f"{SECOND_ADDRESS}/24")
    for n, address in enumerate((SECOND_ADDRESS, str(dut.info.dut_ipv4.ip))):
        dut.send(echo4(dut, 0xD01 + n, dst=address))
        reply = dut.expect(ICMP(type=0, id=0xD01 + n))
        assert reply[IP].src == address, f"the echo request to {address} was answered from {reply[IP].src}"


@rfc("RFC1122-3.2.1.3-9")
def test_connection_sends_nothing_from_an_address_removed_under_it(dut: DUT) -> None:
    # A TCP connection to the DUT's second address; once that address is removed it is no longer
    # one of the host's own, so nothing may leave from it (the data sent after the removal, and
    # its retransmission after the first RTO, included).
    dut.add_address(f"{SECOND_ADDRESS}/24")
    peer, conn = established(dut, TCP_PORT, dut_addr=SECOND_ADDRESS)
    dut.tcp_send(conn, b"before")  # control: the connection works from that address
    peer.expect(data=b"before")
    peer.send_ack()
    dut.remove_address(f"{SECOND_ADDRESS}/24")
    # The window opens once the address is gone: a retransmission of "before" sent while a
    # loaded tester was still on its way to the ACK left the DUT rightly, from its own address.
    removed = dut.now()
    dut.tcp_send(conn, b"after")
    dut.expect_none(IP(src=SECOND_ADDRESS), within=1.5, since=removed)


@rfc("RFC1122-3.3.4.2-1")
def test_response_comes_from_the_specific_destination_of_the_request(dut: DUT) -> None:
    dut.add_address(f"{SECOND_ADDRESS}/24")
    # An ICMP error is a response as much as an echo reply is (echo replies: RFC 1122 3.2.2.6).
    dut.send(_udp(dut, b"closed", dst=SECOND_ADDRESS))
    error = dut.expect(ICMP(type=3, code=3))
    assert error[IP].src == SECOND_ADDRESS, f"the Port Unreachable for {SECOND_ADDRESS} came from {error[IP].src}"


# ---- sizes ---------------------------------------------------------------------------------------

def _datagram_of(dut: DUT, total: int, ident: int) -> Packet:
    """A UDP datagram to the DUT's socket of ``total`` octets with its 20-octet IP header."""
    return dut.ipv4(id=ident) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(bytes((i * 7) & 0xFF for i in range(total - 28)))


@pytest.mark.parametrize("how", ["whole", "fragments"])
@rfc("RFC791-3.1-3", "RFC791-3.2-11")
def test_576_octet_datagram_is_received(dut: DUT, how: str) -> None:
    dut.udp_bind(PORT)
    datagram = _datagram_of(dut, 576, 0xD10)
    dut.send(*(fragments4(datagram, size=184) if how == "fragments" else [datagram]))
    _delivered(dut, bytes(datagram[Raw]))


@pytest.mark.parametrize("total", [576, 1500, 4000])
@rfc("RFC1122-3.3.2-2")
def test_datagrams_up_to_the_link_mtu_and_beyond_are_reassembled(dut: DUT, total: int) -> None:
    # EMTU_R at least 576, and (SHOULD) at least the 1500-octet MTU of the test link.
    dut.udp_bind(PORT)
    datagram = _datagram_of(dut, total, 0xD20 + total % 256)
    dut.send(*fragments4(datagram, size=512))
    _delivered(dut, bytes(datagram[Raw]))


# "record-route": a Record Route of two slots (and a NOP), which an implementing DUT returns
# updated in the reply (RFC 1122 3.2.2.6) and one that does not ignores: the reply is too big either way.
@pytest.mark.parametrize("options", [b"", bytes((7, 11, 4)) + bytes(8) + b"\x01"], ids=["plain", "record-route"])
@rfc("RFC1122-3.2.2.6-6")
def test_echo_reply_too_big_for_one_frame_is_fragmented_or_truncated(dut: DUT, options: bytes) -> None:
    data = bytes((i * 11) & 0xFF for i in range(4000))
    request = echo4(dut, 0xD30, data, id=0xD30)
    dut.send(*fragments4(with_ipv4_options(request, options) if options else request, size=1400))
    first = dut.expect(IP(dst=str(dut.info.tester_ipv4), proto=1, frag=0))
    if first[IP].flags.MF:
        pieces = {0: bytes(first[IP].payload)}
        while sum(len(p) for p in pieces.values()) < 8 + len(data):
            more = dut.expect(IP(dst=str(dut.info.tester_ipv4), proto=1, id=first[IP].id))
            assert len(bytes(more[IP])) <= dut.info.mtu, f"a fragment of {len(bytes(more[IP]))} octets"
            pieces[more[IP].frag * 8] = bytes(more[IP].payload)[: more[IP].len - more[IP].ihl * 4]
        assert len(bytes(first[IP])) <= dut.info.mtu, f"a first fragment of {len(bytes(first[IP]))} octets"
        reply = b"".join(pieces[o] for o in sorted(pieces))
        assert reply[8:] == data, "the fragmented echo reply does not carry the request's data"
    else:
        # Not fragmented: truncated to what one datagram of the MTU holds, and sent.
        assert len(bytes(first[IP])) <= dut.info.mtu
        assert data.startswith(echo_data4(first)), "the truncated echo reply's data is not the request's"


# ---- TTL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ttl", [1, 0])
@rfc("RFC1122-3.2.1.7-2")
def test_datagram_with_ttl_below_2_is_received(dut: DUT, ttl: int) -> None:
    dut.udp_bind(PORT)
    dut.send(echo4(dut, 0xD40 + ttl, ttl=ttl), _udp(dut, b"low ttl", ttl=ttl))
    dut.expect(ICMP(type=0, id=0xD40 + ttl))
    _delivered(dut, b"low ttl")


@rfc("RFC1122-3.2.1.7-4")
def test_default_ttl_is_configurable(dut: DUT) -> None:
    dut.udp_bind(PORT)
    for ttl in (1, 77, 255):  # both ends of the field's range, and one between
        dut.set_default_ttl(4, ttl)
        dut.send(echo4(dut, 0xD50 + ttl))
        reply = dut.expect(ICMP(type=0, id=0xD50 + ttl))
        dut.udp_send(PORT, b"default ttl", str(dut.info.tester_ipv4), TESTER_PORT)
        sent = dut.expect(UDP(sport=PORT, dport=TESTER_PORT))
        assert (reply[IP].ttl, sent[IP].ttl) == (ttl, ttl), (
            f"default TTL set to {ttl}: echo reply TTL {reply[IP].ttl}, UDP TTL {sent[IP].ttl}")


# ---- what a host ignores --------------------------------------------------------------------------

@pytest.mark.parametrize("copies", [1, 2], ids=["once", "twice"])
@rfc("RFC1122-3.2.1.8-4")
def test_stream_identifier_option_is_ignored(dut: DUT, copies: int) -> None:
    # "twice": RFC 791 says the option "Appears at most once in a datagram", but an option a host
    # MUST silently ignore draws no Parameter Problem for being repeated either.
    dut.send(with_ipv4_options(echo4(dut, 0xD60), bytes((136, 4, 0x12, 0x34)) * copies))
    reply = dut.expect(ICMP(type=0, id=0xD60))
    dut.expect_none(ICMP(type=12), within=0)
    options = bytes(reply[IP])[20 : reply[IP].ihl * 4]
    assert bytes((136, 4)) not in options, f"the echo reply carries a Stream Identifier: {options.hex()}"


@rfc("RFC1122-3.2.2-1")
def test_icmp_message_of_unknown_type_is_silently_discarded(dut: DUT) -> None:
    # Type 100 is unassigned (IANA "ICMP Type Numbers").
    dut.send(dut.ipv4() / ICMP(type=100, code=0) / Raw(b"\x00" * 4 + b"unknown"))
    dut.expect_none(IP(dst=str(dut.info.tester_ipv4)), within=SILENCE_S)
    dut.send(echo4(dut, 0xD61))  # positive control
    dut.expect(ICMP(type=0, id=0xD61))


@rfc("RFC1122-3.2.2.7-1")
def test_information_request_is_not_answered(dut: DUT) -> None:
    dut.send(dut.ipv4() / ICMP(type=15, id=0xD62, seq=1))
    dut.expect_none(ICMP(type=16), within=SILENCE_S)
    dut.send(echo4(dut, 0xD63))  # positive control
    dut.expect(ICMP(type=0, id=0xD63))


@rfc("RFC1122-3.3.6-5")
def test_unicast_datagram_in_a_link_layer_broadcast_is_discarded(dut: DUT) -> None:
    dut.udp_bind(PORT)
    broadcast = _udp(dut, b"link broadcast")
    broadcast[Ether].dst = "ff:ff:ff:ff:ff:ff"
    dut.send(broadcast)
    assert dut.udp_recv(PORT, within=SILENCE_S) is None, "a unicast datagram sent as a link broadcast was delivered"
    dut.send(_udp(dut, b"control"))
    _delivered(dut, b"control")


@pytest.mark.parametrize("dst", ["0.0.0.0", "198.51.100.0"], ids=["zero", "net-zero"])
@rfc("RFC1122-3.3.6-2")
def test_datagram_to_a_zero_form_broadcast_is_received(dut: DUT, dst: str) -> None:
    dut.udp_bind(PORT)
    frame = _udp(dut, b"old broadcast", dst=dst)
    frame[Ether].dst = "ff:ff:ff:ff:ff:ff"
    dut.send(frame)
    _delivered(dut, b"old broadcast")


# ---- routing ---------------------------------------------------------------------------------

@rfc("RFC1122-3.1-5")
def test_forwarding_is_off_until_switched_on(dut: DUT) -> None:
    dut.add_route("203.0.113.0/24", via=str(dut.info.other_ipv4))
    transit = echo4(dut, 0xD70, dst=OFF_LINK)  # to the DUT's MAC, for another host
    dut.send(transit)
    dut.expect_none(IP(dst=OFF_LINK), within=SILENCE_S)
    dut.expect_none(ARP(pdst=str(dut.info.other_ipv4)), within=0.0)
    # The switch exists: turned on, the same datagram goes on to the gateway.
    dut.set_forwarding(4, True)
    dut.send(transit)
    _answer_arp(dut, str(dut.info.other_ipv4), GATEWAY_MAC)
    forwarded = dut.expect(IP(dst=OFF_LINK), ICMP(id=0xD70))
    assert forwarded[Ether].dst.lower() == GATEWAY_MAC


@rfc("RFC1122-3.3.1.1-1")
def test_on_link_destinations_are_reached_directly_and_others_through_the_gateway(dut: DUT) -> None:
    dut.add_route("203.0.113.0/24", via=str(dut.info.other_ipv4))
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"on-link", NEIGHBOUR, TESTER_PORT)
    _answer_arp(dut, NEIGHBOUR, NEIGHBOUR_MAC)
    direct = dut.expect(IP(dst=NEIGHBOUR), UDP(sport=PORT))
    assert direct[Ether].dst.lower() == NEIGHBOUR_MAC, "a datagram to an on-link host went elsewhere"
    dut.udp_send(PORT, b"off-link", OFF_LINK, TESTER_PORT)
    _answer_arp(dut, str(dut.info.other_ipv4), GATEWAY_MAC)
    routed = dut.expect(IP(dst=OFF_LINK), UDP(sport=PORT))
    assert routed[Ether].dst.lower() == GATEWAY_MAC, "a datagram to an off-link host did not go to the gateway"


@rfc("RFC1122-3.3.1.1-1")
def test_subnet_stays_on_link_while_one_of_its_addresses_remains(dut: DUT) -> None:
    # Two addresses on 203.0.113.0/24, the second one removed again: the first still puts the
    # subnet's hosts on a connected network, reached directly (no gateway is configured at all).
    # (The later address goes: Linux drops the secondary addresses with the primary one unless
    # promote_secondaries is set.)
    dut.add_address(f"{SUBNET_FIRST}/24")
    dut.add_address(f"{SUBNET_SECOND}/24")
    dut.remove_address(f"{SUBNET_SECOND}/24")
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"still on-link", SUBNET_NEIGHBOUR, TESTER_PORT)
    _answer_arp(dut, SUBNET_NEIGHBOUR, NEIGHBOUR_MAC)
    direct = dut.expect(IP(dst=SUBNET_NEIGHBOUR), UDP(sport=PORT))
    assert direct[Ether].dst.lower() == NEIGHBOUR_MAC, "a datagram to an on-link host went elsewhere"


@rfc("RFC1122-3.3.1.1-2")
def test_host_works_on_a_network_without_gateways(dut: DUT) -> None:
    # The baseline: the connected network's route and no other. A neighbour it has not met yet
    # pings it and exchanges a datagram with it.
    dut.udp_bind(PORT)
    dut.send(dut.ether(src=NEIGHBOUR_MAC) / IP(src=NEIGHBOUR, dst=str(dut.info.dut_ipv4.ip))
             / ICMP(type=8, id=0xD80) / Raw(b"hello"))
    # The DUT may have learned the neighbour's address from the request (RFC 826 allows it).
    with contextlib.suppress(ExpectationFailed):
        _answer_arp(dut, NEIGHBOUR, NEIGHBOUR_MAC)
    reply = dut.expect(IP(dst=NEIGHBOUR), ICMP(type=0, id=0xD80))
    assert reply[Ether].dst.lower() == NEIGHBOUR_MAC
    dut.udp_send(PORT, b"to the neighbour", NEIGHBOUR, TESTER_PORT)
    dut.expect(IP(dst=NEIGHBOUR), UDP(sport=PORT))


# ---- error reporting --------------------------------------------------------------------------

def _stimulus(dut: DUT, error: str) -> list[Packet]:
    if error == "port":
        return [_udp(dut, b"no one listens")]
    if error == "protocol":
        return [dut.ipv4(proto=253) / Raw(b"unknown protocol")]
    if error == "parameter":
        return [with_ipv4_options(echo4(dut, 0xD90), bytes((68, 3, 5, 0)))]  # Timestamp shorter than 4
    return fragments4(echo4(dut, 0xD91, bytes(100), id=0xD91), [(0, 56)])  # reassembly never completes


ERRORS: Final = {"port": (3, 3), "protocol": (3, 2), "parameter": (12, 0), "reassembly": (11, 1)}


@pytest.mark.parametrize("error", list(ERRORS))
@rfc("RFC1122-3.3.8-1")
def test_detected_errors_are_reported_with_icmp(dut: DUT, error: str) -> None:
    dut.send(*_stimulus(dut, error))
    kind, code = ERRORS[error]
    wait = dut.info.timers["ipv4_reassembly_timeout"] + 2.0 if error == "reassembly" else 2.0
    report = dut.expect(ICMP(type=kind, code=code), within=wait)
    assert report[IP].dst == str(dut.info.tester_ipv4)
