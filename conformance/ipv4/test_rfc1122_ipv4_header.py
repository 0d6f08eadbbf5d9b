"""RFC 1122 §3.2.1 (IP for hosts): version, header checksum, addressing, options.

Every discard test sends the defective datagram, asserts silence over a window (no reply and
no ICMP error: "silently"), then sends the valid variant and expects the reply, so a dead DUT
cannot pass.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, IPOption_EOL, IPOption_NOP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, rfc

DATA = b"stackcheck ipv4 header"
UNOWNED_IPV4 = "198.51.100.77"  # on-link, not the DUT's
SILENCE_S = 1.0


def _echo(dut: DUT, ident: int, **ip_fields: object) -> Packet:
    return dut.ipv4(**ip_fields) / ICMP(type=8, id=ident, seq=1) / Raw(DATA)


def _expect_echo_answered(dut: DUT, ident: int) -> None:
    """Positive control: the well-formed variant of the datagram is answered."""
    dut.send(_echo(dut, ident))
    dut.expect(ICMP(type=0, id=ident))


@pytest.mark.parametrize("version", [0, 5, 6, 15], ids=["v0", "v5", "v6", "v15"])
@rfc(1122, "3.2.1.1", MUST, "A datagram whose version number is not 4 MUST be silently discarded.")
def test_version_other_than_4_is_silently_discarded(dut: DUT, version: int) -> None:
    dut.send(_echo(dut, 0x100 + version, version=version))  # header checksum is valid
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x200 + version)


@rfc(1122, "3.2.1.2", MUST,
     "A host MUST verify the IP header checksum on every received datagram and silently "
     "discard every datagram that has a bad checksum.")
def test_bad_header_checksum_is_silently_discarded(dut: DUT) -> None:
    frame = bytearray(bytes(_echo(dut, 0x301)))
    frame[24] ^= 0x5A  # the checksum field (IP octets 10-11) no longer matches the header
    assert checksum(bytes(frame[14:34])) != 0
    dut.send(bytes(frame))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x302)


@pytest.mark.parametrize(
    "source",
    ["255.255.255.255", "198.51.100.255", "224.0.0.1", "127.0.0.1"],
    ids=["limited-bcast", "subnet-bcast", "multicast", "loopback"],
)
@rfc(1122, "3.2.1.3", MUST,
     "A host MUST silently discard an incoming datagram containing an IP source address that "
     "is invalid by the rules of this section.")
def test_invalid_source_address_is_silently_discarded(dut: DUT, source: str) -> None:
    # (c)-(f): broadcast forms "MUST NOT be used as a source address"; (g) loopback "MUST NOT
    # appear outside a host"; a multicast address names a group, never a sender.
    dut.send(_echo(dut, 0x401, src=source))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x402)


@rfc(1122, "3.2.1.3", MUST,
     "A host MUST silently discard an incoming datagram that is not destined for the host.")
def test_datagram_for_another_host_is_silently_discarded(dut: DUT) -> None:
    # Sent to the DUT's MAC, but the IP destination is another on-link address.
    dut.send(_echo(dut, 0x501, dst=UNOWNED_IPV4))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x502)


@rfc(1122, "3.2.1.8", MUST,
     "The IP and transport layer MUST each interpret those IP options that they understand and "
     "silently ignore the others.")
def test_no_operation_and_end_of_list_options_are_accepted(dut: DUT) -> None:
    options = [IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()]
    sent = _echo(dut, 0x601, options=options)
    assert sent[IP].ihl is None and len(bytes(sent[IP])) - len(bytes(sent[ICMP])) == 24
    dut.send(sent)
    reply = dut.expect(ICMP(type=0, id=0x601))
    assert bytes(reply[ICMP].payload)[: len(DATA)] == DATA
