"""IPv4 reassembly (RFC 791 3.2, RFC 815); fragmentation on send is in output.py.

The shared ``Reassembler`` (network/fragmentation.py) keeps the pieces; this module turns an
IPv4 fragment into a call to it, a whole datagram back into a frame for the endpoint to receive
again, and a timeout into ICMP Time Exceeded code 1 (RFC 792, RFC 1122 3.3.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import Reassembler, reassembled_ecn
from stack_under_test.network.ipv4 import icmp
from stack_under_test.wire.ipv4 import FLAG_DF, MIN_HEADER_LEN, IPv4Header, encode_header
from stack_under_test.wire.numbers import ICMPv4TimeExceededCode, ICMPv4Type

if TYPE_CHECKING:
    from collections.abc import Hashable

    from stack_under_test.network.ipv4.contracts import IPv4Host
    from stack_under_test.stack.stack import Stack

MAX_DATAGRAM = 0xFFFF  # RFC 791 3.1: Total Length is 16 bits


class IPv4Reassembly:
    """One per stack (IPv4Protocol): fragments of a datagram may arrive on different NICs."""

    def __init__(self, stack: Stack) -> None:
        self.reassembler = Reassembler.for_stack(
            stack, "ipv4_reassembly_timeout", MAX_DATAGRAM - MIN_HEADER_LEN, self._on_reassembly_timeout_expired
        )

    def handle_fragment(self, ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header) -> PacketBuffer | Drop | None:
        """A fragment for us whose header and options were already checked (``pkt.end`` trimmed):
        the whole datagram once this fragment completes it, for the endpoint to receive; None
        while it is held; or the Drop that says why it was not."""
        data, off = pkt.data, pkt.network_offset
        ihl = h.header_len
        offset = h.fragment_offset << 3
        more = h.more_fragments
        start = off + ihl
        size = pkt.end - start
        # RFC 791 3.1: a datagram is at most 65,535 octets; a fragment reaching past that can only
        # build an oversized datagram ("ping of death") and is dropped at once.
        if offset + ihl + size > MAX_DATAGRAM:
            return Drop.IPV4_FRAGMENT_BAD
        if more and size & 7:
            # RFC 791 3.2: fragments other than the last carry a multiple of 8 octets. The RFC does
            # not say what a receiver does otherwise; like Linux (ip_frag_queue) we keep the part up
            # to the last 8-octet boundary.
            size &= ~7
        # Fragment zero's context: where it came in, its link and IP headers as they arrived.
        first = (ep, off, bytes(data[:start])) if offset == 0 else None
        key = (h.src, h.dst, h.protocol, h.ident)  # RFC 791 3.2: source, destination, protocol, identification
        result = self.reassembler.add(key, offset, memoryview(data)[start : start + size], more, first, h.tos & 3)
        if result is None or isinstance(result, Drop):
            return result
        _, first_off, prefix = result.first
        first_h = IPv4Header.read(prefix, first_off)
        ecn = reassembled_ecn(result.ecn_seen, first_h.tos & 3)  # RFC 3168 5.3
        if ecn is None:
            return Drop.FRAGMENT_ECN_MIXED
        options = prefix[first_off + MIN_HEADER_LEN :]
        if MIN_HEADER_LEN + len(options) + len(result.payload) > MAX_DATAGRAM:
            return Drop.FRAGMENT_REASSEMBLED_TOO_LONG
        # The reassembled datagram takes the first fragment's header (RFC 791 3.2: "the first
        # fragment's header ... header fields of the datagram"), with its own length, no MF, offset 0,
        # and the ECN codepoint of all its fragments.
        header = encode_header(
            first_h.src, first_h.dst, first_h.protocol, len(result.payload), first_h.ident, first_h.ttl,
            (first_h.tos & ~3) | ecn,
            first_h.flags_frag & FLAG_DF, options,
        )
        ep.nic.stats.count_event("ipv4_reassembled")
        return PacketBuffer(prefix[:first_off] + header + result.payload, first_off, ep.nic)

    def _on_reassembly_timeout_expired(self, key: Hashable, first: Any, head: bytes | None) -> None:
        """RFC 1122 3.3.2: on timeout the datagram is discarded; "if fragment zero has been
        received" an ICMP Time Exceeded code 1 goes to the source (RFC 792)."""
        if first is None or head is None:
            return
        ep, off, prefix = first
        ep.nic.stats.count_event("ipv4_reassembly_timeout")
        # RFC 792: the error quotes "the internet header plus the first 64 bits of the original
        # datagram's data": here fragment zero as it arrived; send_error trims to 576 octets.
        frame = prefix + head
        code = ICMPv4TimeExceededCode.REASSEMBLY
        icmp.send_error(ep, PacketBuffer(frame, off, ep.nic), ICMPv4Type.TIME_EXCEEDED, code)
