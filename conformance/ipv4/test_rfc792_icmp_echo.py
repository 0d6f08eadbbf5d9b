"""RFC 792 (ICMP) Echo / Echo Reply: identifier, sequence number, data and checksum."""

from __future__ import annotations

import struct

from scapy.layers.inet import ICMP, IP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, described, echo4, rfc

DATA = bytes(range(256))[:100]
SILENCE_S = 1.0


def _icmp_message(pkt: Packet) -> bytes:
    """The ICMP message of a frame, delimited by the IP header and Total Length."""
    ip = pkt[IP]
    return bytes(ip)[ip.ihl * 4 : ip.len]


@described(792, "Echo or Echo Reply Message", MUST, "The echoer returns these same values in the echo reply.")
def test_echo_reply_returns_identifier_and_sequence_unchanged(dut: DUT) -> None:
    for ident, seq in [(0x0000, 0x0000), (0xBEEF, 0x0102), (0xFFFF, 0xFFFF)]:
        dut.send(echo4(dut, ident, DATA, seq=seq))
        reply = dut.expect(ICMP(type=0), within=2.0)
        assert (reply[ICMP].id, reply[ICMP].seq) == (ident, seq)


@rfc("RFC792-EchoOrEchoReplyMessage-5")
def test_echo_reply_returns_data_unchanged(dut: DUT) -> None:
    dut.send(echo4(dut, 0x801, DATA, seq=1))
    reply = dut.expect(ICMP(type=0, id=0x801))
    assert _icmp_message(reply)[8:] == DATA


@described(792, "Echo or Echo Reply Message", MUST,
           "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message "
           "starting with the ICMP Type.")
def test_echo_reply_icmp_checksum_is_valid(dut: DUT) -> None:
    # An odd length exercises the "padded with one octet of zeros" rule as well.
    dut.send(echo4(dut, 0x811, DATA[:33], seq=1))
    reply = dut.expect(ICMP(type=0, id=0x811))
    message = _icmp_message(reply)
    assert len(message) == 8 + 33
    assert checksum(message) == 0, f"ICMP checksum 0x{reply[ICMP].chksum:04x} does not verify"


@described(792, "Echo or Echo Reply Message", MUST,
           "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message "
           "starting with the ICMP Type.")
def test_echo_with_bad_icmp_checksum_is_not_answered(dut: DUT) -> None:
    frame = bytearray(bytes(echo4(dut, 0x821, DATA, seq=1)))
    icmp_at = 14 + 20
    (good,) = struct.unpack_from("!H", frame, icmp_at + 2)
    struct.pack_into("!H", frame, icmp_at + 2, good ^ 0x0F0F)
    dut.send(bytes(frame))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    # Control: the same request with its checksum intact is answered.
    dut.send(echo4(dut, 0x822, DATA, seq=1))
    dut.expect(ICMP(type=0, id=0x822))


@described(792, "Echo or Echo Reply Message", MUST, "Code 0")
def test_echo_reply_code_is_zero_whatever_the_request_carried(dut: DUT) -> None:
    # An Echo Reply has Code 0; a request with another code is still answered (RFC 792 lists no
    # other code), but the reply does not copy it.
    dut.send(dut.ipv4() / ICMP(type=8, code=3, id=0x831, seq=1) / Raw(b"code"))
    reply = dut.expect(ICMP(type=0, id=0x831))
    assert reply[ICMP].code == 0, f"the echo reply carries Code {reply[ICMP].code}"


@described(792, "Echo or Echo Reply Message", MUST,
           "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message "
           "starting with the ICMP Type.")
def test_echo_reply_to_a_message_that_sums_to_zero_carries_checksum_ffff(dut: DUT) -> None:
    # Identifier, sequence number and data all zero: the reply's octets sum to zero, whose ones'
    # complement is 0xFFFF. 0x0000 (the other zero of ones'-complement arithmetic) does not verify:
    # summed with the message it gives 0x0000, not all ones.
    dut.send(dut.ipv4() / ICMP(type=8, id=0, seq=0))
    reply = dut.expect(ICMP(type=0, id=0, seq=0))
    message = _icmp_message(reply)
    assert message[4:] == b"\x00" * 4, "the reply does not carry the request's zero identifier and sequence"
    assert reply[ICMP].chksum == 0xFFFF, f"checksum 0x{reply[ICMP].chksum:04x}, not 0xffff"
    assert checksum(message) == 0



@described(792, "Echo or Echo Reply Message", MUST,
           "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message "
           "starting with the ICMP Type.")
def test_echo_reply_checksum_is_valid_where_the_type_change_carries(dut: DUT) -> None:
    # A DUT that updates the request's checksum for the new type (RFC 1624) adds 0x0800 to it:
    # from a checksum of 0xF800 up that sum carries out of 16 bits, and the carry must come round.
    base = checksum(bytes(ICMP(type=8, id=0, seq=1, chksum=0) / Raw(DATA[:16])))
    ident = (base - 0xFC00) % 0xFFFF  # each unit of the identifier lowers the checksum by one
    request = ICMP(type=8, id=ident, seq=1) / Raw(DATA[:16])
    assert ICMP(bytes(request)).chksum >= 0xF800, "the request was meant to have a checksum of 0xF800 or more"
    dut.send(dut.ipv4() / request)
    reply = dut.expect(ICMP(type=0, id=ident, seq=1))
    assert checksum(_icmp_message(reply)) == 0, f"ICMP checksum 0x{reply[ICMP].chksum:04x} does not verify"
