"""RFC 7527: Enhanced Duplicate Address Detection, the Nonce option (RFC 3971 §5.3.2) in DAD
probes that lets a node recognise its own probe looped back by the link.

The looped-back probe is the DUT's own frame sent back to it byte for byte; "another node" sends
the same probe with one bit of the nonce changed. Address under test: 2001:db8:2::77/64.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Final

from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, SHOULD_NOT, ExpectationFailed, described, rfc

TARGET: Final = "2001:db8:2::77"
CIDR: Final = f"{TARGET}/64"
NONCE_OPTION: Final = 14  # RFC 3971 §5.3.2 "Type 14"
ECHO_ID: Final = 0x7527


def start_dad(dut: DUT) -> Packet:
    """Add the address with one probe, RetransTimer 1 s; return the DUT's probe."""
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.set_ipv6_option("dad_transmits", 1)
    dut.set_ipv6_option("retrans_time", 1.0)
    dut.add_address(CIDR, dad=True)
    try:
        return dut.expect(IPv6(src="::"), ICMPv6ND_NS(tgt=TARGET), within=1.5)
    except ExpectationFailed:
        raise AssertionError(f"no DAD probe for {TARGET}") from None


def options_of(ns: Packet) -> list[tuple[int, bytes]]:
    """(type, body) of each option of a Neighbor Solicitation, read from its bytes (RFC 4861 §4.6)."""
    body = bytes(ns[ICMPv6ND_NS])[24:]
    out = []
    while len(body) >= 2 and body[1] > 0:
        size = body[1] * 8
        out.append((body[0], body[2:size]))
        body = body[size:]
    return out


def nonce_of(ns: Packet) -> bytes | None:
    return next((value for kind, value in options_of(ns) if kind == NONCE_OPTION), None)


def state_of(dut: DUT) -> str | None:
    return next((a.state for a in dut.ipv6_addresses() if a.interface.ip == IPv6Address(TARGET)), None)


def echo_answered(dut: DUT, seq: int) -> bool:
    dut.send(dut.ipv6(dst=TARGET) / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))
    try:
        dut.expect(ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=0.6)
    except ExpectationFailed:
        return False
    return True


@rfc("RFC7527-4.1-1",
     quote="the sender MUST generate a random nonce associated with the interface address, MUST store the "
           "nonce internally, and MUST include the nonce in the Nonce option included in the NS(DAD).")
def test_dad_probe_carries_a_nonce(dut: DUT) -> None:
    nonce = nonce_of(start_dad(dut))
    assert nonce is not None, "the DAD probe has no Nonce option"
    assert len(nonce) >= 6, f"a nonce of {len(nonce)} octets (RFC 3971: at least 6)"


@rfc("RFC7527-4.2-1",
     quote="the receiver compares the nonce included in the message, with any stored nonce on the receiving "
           "interface.")
def test_own_probe_looped_back_is_not_a_duplicate(dut: DUT) -> None:
    probe = start_dad(dut)
    dut.send(Ether(bytes(probe)))  # the very same frame, as a looping link returns it
    dut.wait(1.5)
    assert state_of(dut) == "preferred", f"the address is {state_of(dut)} after its own probe came back"
    assert echo_answered(dut, 1)


@described(4862, "5.4.3", SHOULD_NOT,
           "If the solicitation is from another node, the tentative address is a duplicate and should not be "
           "used (by either node).")
def test_probe_with_another_nonce_is_a_duplicate(dut: DUT) -> None:
    probe = Ether(bytes(start_dad(dut)))
    raw = bytearray(bytes(probe))
    nonce = nonce_of(probe)
    assert nonce is not None, "the DAD probe has no Nonce option"
    at = bytes(raw).rfind(nonce)
    raw[at] ^= 0x01  # another node's nonce; the checksum is fixed below
    other = Ether(bytes(raw))
    other[Ether].src = dut.info.other_mac
    del other[ICMPv6ND_NS].cksum
    dut.send(other)
    dut.wait(1.5)
    assert state_of(dut) is None, f"the address is {state_of(dut)} after another node probed for it"
    assert not echo_answered(dut, 1)
