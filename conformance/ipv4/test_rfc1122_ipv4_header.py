"""RFC 1122 §3.2.1 (IP for hosts): version, header checksum, addressing, options.

Every discard test sends the defective datagram, asserts silence over a window (no reply and
no ICMP error: "silently"), then sends the valid variant and expects the reply, so a dead DUT
cannot pass.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, IPOption_EOL, IPOption_NOP
from scapy.utils import checksum

from harness import DUT, echo4, rfc, with_ipv4_options

DATA = b"stackcheck ipv4 header"
UNOWNED_IPV4 = "198.51.100.77"  # on-link, not the DUT's
SILENCE_S = 1.0


def _expect_echo_answered(dut: DUT, ident: int) -> None:
    """Positive control: the well-formed variant of the datagram is answered."""
    dut.send(echo4(dut, ident, DATA))
    dut.expect(ICMP(type=0, id=ident))


@pytest.mark.parametrize("version", [0, 5, 6, 15], ids=["v0", "v5", "v6", "v15"])
@rfc("RFC1122-3.2.1.1-1")
def test_version_other_than_4_is_silently_discarded(dut: DUT, version: int) -> None:
    dut.send(echo4(dut, 0x100 + version, DATA, version=version))  # header checksum is valid
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x200 + version)


@rfc("RFC1122-3.2.1.2-1")
def test_bad_header_checksum_is_silently_discarded(dut: DUT) -> None:
    frame = bytearray(bytes(echo4(dut, 0x301, DATA)))
    frame[24] ^= 0x5A  # the checksum field (IP octets 10-11) no longer matches the header
    assert checksum(bytes(frame[14:34])) != 0
    dut.send(bytes(frame))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x302)


@pytest.mark.parametrize(
    "source",
    ["255.255.255.255", "198.51.100.255", "224.0.0.1", "239.255.1.2", "127.0.0.1"],
    ids=["limited-bcast", "subnet-bcast", "multicast", "multicast-top", "loopback"],
)
@rfc("RFC1122-3.2.1.3-11")
def test_invalid_source_address_is_silently_discarded(dut: DUT, source: str) -> None:
    # (c)-(f): broadcast forms "MUST NOT be used as a source address"; (g) loopback "MUST NOT
    # appear outside a host"; a multicast address names a group, never a sender.
    dut.send(echo4(dut, 0x401, DATA, src=source))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x402)


@pytest.mark.parametrize("options", [b"", b"\x9e\x01\x00\x00"], ids=["plain", "malformed-option"])
@rfc("RFC1122-3.2.1.3-10")
def test_datagram_for_another_host_is_silently_discarded(dut: DUT, options: bytes) -> None:
    # Sent to the DUT's MAC, but the IP destination is another on-link address. A malformed option
    # (length 1, RFC 791 3.1) changes nothing: the datagram is not the host's to judge, so not even
    # a Parameter Problem comes back.
    probe = echo4(dut, 0x501, DATA, dst=UNOWNED_IPV4)
    dut.send(with_ipv4_options(probe, options) if options else probe)
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x502)


@rfc("RFC1122-3.2.1.8-3")
def test_no_operation_and_end_of_list_options_are_accepted(dut: DUT) -> None:
    options = [IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()]
    sent = echo4(dut, 0x601, DATA, options=options)
    assert sent[IP].ihl is None and len(bytes(sent[IP])) - len(bytes(sent[ICMP])) == 24
    dut.send(sent)
    reply = dut.expect(ICMP(type=0, id=0x601))
    assert bytes(reply[ICMP].payload)[: len(DATA)] == DATA


@rfc("RFC1122-3.3.6-5")
def test_unicast_datagram_in_a_link_layer_broadcast_is_silently_discarded(dut: DUT) -> None:
    probe = echo4(dut, 0x336, DATA)
    probe.dst = "ff:ff:ff:ff:ff:ff"  # the IP destination stays the DUT's unicast address
    dut.send(probe)
    dut.expect_none(ICMP, within=SILENCE_S)
    _expect_echo_answered(dut, 0x337)

