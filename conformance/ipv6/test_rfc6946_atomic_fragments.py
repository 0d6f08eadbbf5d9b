"""RFC 6946 §4 and RFC 8200 §4.5: an atomic fragment (Fragment Offset 0, M 0) stands alone."""

from __future__ import annotations

from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6ExtHdrFragment
from scapy.packet import Packet

from harness import DUT, expect_echo_reply6, fragments6, rfc

IDENT = 0x6946
DATA = bytes(range(184))  # 192-octet ICMPv6 message


def _atomic(dut: DUT, echo_id: int, frag_id: int = IDENT) -> Packet:
    return dut.ipv6() / IPv6ExtHdrFragment(offset=0, m=0, id=frag_id) / ICMPv6EchoRequest(
        id=echo_id, seq=1, data=b"atomic")


@rfc("RFC8200-4.5-7")
def test_atomic_fragment_is_processed_as_a_whole_packet(dut: DUT) -> None:
    # RFC 6946 §4: "A received atomic fragment should be "reassembled" from the contents of that
    # sole fragment."
    dut.send(_atomic(dut, 0x6901))
    expect_echo_reply6(dut, 0x6901, data=b"atomic")


@rfc("RFC6946-4-1")
def test_atomic_fragment_is_processed_despite_a_pending_reassembly_with_its_identification(dut: DUT) -> None:
    pending = dut.ipv6() / ICMPv6EchoRequest(id=0x6902, seq=1, data=DATA)
    first, _, _ = fragments6(pending, [(0, 64), (64, 64), (128, 64)], ident=IDENT)
    dut.send(first, _atomic(dut, 0x6903))
    expect_echo_reply6(dut, 0x6903, data=b"atomic")


@rfc("RFC6946-4-2", "RFC8200-4.5-8")
def test_pending_reassembly_completes_after_an_atomic_fragment_with_its_identification(dut: DUT) -> None:
    # Merged with the queue, the atomic fragment would overlap it (offset 0) and spoil it.
    pending = dut.ipv6() / ICMPv6EchoRequest(id=0x6904, seq=1, data=DATA)
    first, second, third = fragments6(pending, [(0, 64), (64, 64), (128, 64)], ident=IDENT)
    dut.send(first, _atomic(dut, 0x6905), second, third)
    expect_echo_reply6(dut, 0x6904, data=DATA)
