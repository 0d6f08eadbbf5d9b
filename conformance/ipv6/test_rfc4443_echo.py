"""RFC 4443 §4.1/§4.2 (and §2.3, §2.4 (b)): the ICMPv6 Echo responder."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6Unknown, IPv6, in6_chksum
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from harness import DUT, MUST, described, multicast_mac, rfc, with_icmpv6_checksum
from harness.features import require_feature

SILENCE_S = 1.0
ALL_NODES = "ff02::1"
IPV6_HEADER, ICMPV6_ECHO_HEADER = 40, 8


def _sources(dut: DUT, which: str) -> tuple[str, str]:
    """(tester source, DUT destination) for a unicast echo to the DUT's global or link-local address."""
    info = dut.info
    if which == "global":
        return str(info.tester_ipv6), str(info.dut_ipv6.ip)
    return str(info.tester_ipv6_ll), str(info.dut_ipv6_ll)


@pytest.mark.parametrize(
    "size",
    [0, 1, 57, 1000, "mtu"],
    ids=["empty", "1B", "odd", "1000B", "mtu"],
)
@rfc("RFC4443-4.2-6", "RFC4443-4.1-1", "RFC4443-4.2-1", "RFC8200-5-3")
def test_echo_reply_returns_the_request_data_unmodified(dut: DUT, size: int | str) -> None:
    # "mtu": the largest echo that fits the link unfragmented, both ways.
    length = dut.info.mtu - IPV6_HEADER - ICMPV6_ECHO_HEADER if size == "mtu" else int(size)
    data = bytes((i * 7 + 3) & 0xFF for i in range(length))
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4430, seq=7, data=data))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4430, seq=7))
    assert bytes(reply[ICMPv6EchoReply].data) == data


@described(4443, "4.2", MUST, "Identifier The identifier from the invoking Echo Request message.")
def test_echo_reply_carries_the_request_identifier(dut: DUT) -> None:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0xBEEF, seq=1, data=b"ident"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply, data=b"ident")
    assert reply[ICMPv6EchoReply].id == 0xBEEF


@described(4443, "4.2", MUST, "Sequence Number The sequence number from the invoking Echo Request message.")
def test_echo_reply_carries_the_request_sequence_number(dut: DUT) -> None:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4431, seq=0xA55A, data=b"seq"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4431))
    assert reply[ICMPv6EchoReply].seq == 0xA55A


@described(4443, "4.2", MUST, "Code 0")
def test_echo_reply_code_is_zero_whatever_the_request_carried(dut: DUT) -> None:
    # An Echo Reply has Code 0 (RFC 4443 4.2); the request's own code (4.1 says 0 too) is not copied.
    dut.send(dut.ipv6() / ICMPv6EchoRequest(code=3, id=0x4436, seq=1, data=b"code"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4436))
    assert reply[ICMPv6EchoReply].code == 0, f"the echo reply carries Code {reply[ICMPv6EchoReply].code}"


@pytest.mark.parametrize("which", ["global", "link-local"])
@rfc("RFC4443-4.2-3")
def test_echo_reply_source_is_the_request_destination(dut: DUT, which: str) -> None:
    src, dst = _sources(dut, which)
    dut.send(dut.ipv6(src=src, dst=dst) / ICMPv6EchoRequest(id=0x4432, seq=1))
    reply = dut.expect(IPv6(dst=src), ICMPv6EchoReply(id=0x4432, seq=1))
    assert IPv6Address(reply[IPv6].src) == IPv6Address(dst)


def _all_nodes_echo(dut: DUT, ident: int) -> None:
    dut.send(
        dut.ether(dst=multicast_mac(ALL_NODES))
        / IPv6(src=str(dut.info.tester_ipv6), dst=ALL_NODES)
        / ICMPv6EchoRequest(id=ident, seq=1, data=b"all-nodes")
    )


@rfc("RFC4443-4.2-4")
def test_echo_request_to_all_nodes_is_answered(dut: DUT) -> None:
    _all_nodes_echo(dut, 0x4433)
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4433, seq=1))


@rfc("RFC4443-4.2-5")
def test_reply_to_all_nodes_echo_comes_from_a_unicast_address_of_the_interface(dut: DUT) -> None:
    # The MUST binds a reply; whether one is sent is the SHOULD above, tested on every DUT.
    require_feature(dut, "echo-multicast")
    _all_nodes_echo(dut, 0x4434)
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4434, seq=1))
    own = {IPv6Address(dut.info.dut_ipv6.ip), IPv6Address(dut.info.dut_ipv6_ll)}
    assert IPv6Address(reply[IPv6].src) in own, f"reply from {reply[IPv6].src}, not one of {sorted(map(str, own))}"


@described(4443, "2.3", MUST,
           "The checksum is the 16-bit one's complement of the one's complement sum of the entire ICMPv6 "
           "message, starting with the ICMPv6 message type field, and prepended with a \"pseudo-header\" of "
           "IPv6 header fields")
def test_echo_request_with_bad_checksum_is_discarded(dut: DUT) -> None:
    # A message whose checksum does not hold is not the message that was sent: answering it
    # would echo corrupted data as if it were good.
    good = dut.ipv6() / ICMPv6EchoRequest(id=0x4435, seq=1, data=b"checksum")
    right = Ether(bytes(good))[ICMPv6EchoRequest].cksum
    bad = good.copy()
    bad[ICMPv6EchoRequest].cksum = right ^ 0x5A5A
    dut.send(bad)
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    dut.send(good)  # control: the same request with its right checksum is answered
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4435, seq=1))


@rfc("RFC4443-2.4-3", "RFC4443-2.4-1")
def test_informational_message_of_unknown_type_is_silently_discarded(dut: DUT) -> None:
    # Type 250 is unassigned in the informational range (128-255). "Silently": nothing back,
    # neither a reply nor an error.
    dut.send(dut.ipv6() / ICMPv6Unknown(type=250, code=0, msgbody=b"\x44\x43\x00\x01unknown-type"))
    dut.expect_none(IPv6(dst=str(dut.info.tester_ipv6)), within=SILENCE_S, barrier=True)
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4436, seq=1))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4436, seq=1))


# ICMPv6 messages too short for the fields of their type, each with its checksum right where it
# has one: one octet (no Code, no Checksum field: its source address is chosen so that the
# checksum sum holds all the same), three octets (half a checksum), an Echo Request of 7 octets
# (no whole Sequence Number, RFC 4443 4.1) and a Destination Unreachable of 7 (no whole Unused
# field, 3.1). None is a message the DUT can act on.
SHORT_MESSAGES = {
    "1-octet": bytes([128]),
    "3-octets": bytes([128, 0, 0]),
    "echo-request-7-octets": bytes([128, 0, 0, 0, 0x44, 0x37, 0]),
    "destination-unreachable-7-octets": bytes([1, 4, 0, 0, 0, 0, 0]),
}


def _source_whose_checksum_holds(dut: DUT, message: bytes) -> str:
    """An address in the DUT's prefix for which the one's complement sum over the pseudo-header
    and ``message`` (which has no Checksum field to adjust) comes to all ones: its last 16-bit
    word is the checksum that word 0 would need (x + ~x = 0xFFFF)."""
    base = dut.info.dut_ipv6.network[0x44380000]
    want = in6_chksum(58, IPv6(src=str(base), dst=str(dut.info.dut_ipv6.ip)), message)
    return str(IPv6Address(int(base) | (want or 0xFFFF)))


@pytest.mark.parametrize("kind", list(SHORT_MESSAGES))
@described(4443, "2.1", MUST,
           "The type field indicates the type of the message. Its value determines the format of the "
           "remaining data.")
def test_message_too_short_for_its_type_is_discarded(dut: DUT, kind: str) -> None:
    message, dst = SHORT_MESSAGES[kind], str(dut.info.dut_ipv6.ip)
    if len(message) >= 4:
        src = str(dut.info.tester_ipv6)
        message = with_icmpv6_checksum(message, src, dst)
    else:
        src = _source_whose_checksum_holds(dut, message)
    dut.send(dut.ipv6(src=src, nh=58) / Raw(message),
             dut.ipv6() / ICMPv6EchoRequest(id=0x4438, seq=1, data=b"control"))
    # The DUT handles frames in order: the control's reply is the first thing it sends back.
    got = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)))
    assert got.haslayer(ICMPv6EchoReply) and got[ICMPv6EchoReply].id == 0x4438, (
        f"the DUT answered the {len(message)}-octet message with {got.summary()}")
