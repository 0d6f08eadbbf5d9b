"""IPv4 fragments: reassembly on receive (RFC 791 3.2, RFC 815) and fragmentation on send.

The shared ``Reassembler`` (network/fragmentation.py) keeps the pieces; this module turns an
IPv4 fragment into a call to it, a whole datagram back into a frame that re-enters the normal
receive path, and a timeout into ICMP Time Exceeded code 1 (RFC 792, RFC 1122 3.3.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import Reassembler, fragment_ipv4
from stack_under_test.network.ipv4 import icmp
from stack_under_test.wire.checksum import checksum
from stack_under_test.wire.ipv4 import FLAG_DF, FLAG_MF, MIN_HEADER_LEN, OFFSET_MASK, HeaderTuple
from stack_under_test.wire.numbers import ICMPv4TimeExceededCode, ICMPv4Type

if TYPE_CHECKING:
    from collections.abc import Hashable

    from stack_under_test.network.ipv4.endpoint import IPv4Endpoint
    from stack_under_test.stack.stack import Route, Stack

MAX_DATAGRAM = 0xFFFF  # RFC 791 3.1: Total Length is 16 bits


class IPv4Reassembly:
    """One per stack (IPv4Protocol): fragments of a datagram may arrive on different NICs."""

    def __init__(self, stack: Stack) -> None:
        self.reassembler = Reassembler.for_stack(
            stack, "ipv4_reassembly_timeout", MAX_DATAGRAM - MIN_HEADER_LEN, self._on_reassembly_timeout_expired
        )

    def handle_fragment(self, ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple) -> Drop | None:
        """A fragment for us whose header and options were already checked (``pkt.end`` trimmed)."""
        data, off = pkt.data, pkt.network_offset
        ihl = (h[0] & 0x0F) << 2
        offset = (h[4] & OFFSET_MASK) << 3
        more = bool(h[4] & FLAG_MF)
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
        first = (ep, off, bytes(data[:start])) if offset == 0 else None
        key = (h[8], h[9], h[6], h[3])  # RFC 791 3.2: source, destination, protocol, identification
        result = self.reassembler.add(key, offset, memoryview(data)[start : start + size], more, first)
        if result is None or isinstance(result, Drop):
            return result
        _, first_off, header = result.first
        hlen = len(header) - first_off
        total = hlen + len(result.payload)
        if total > MAX_DATAGRAM:
            return Drop.FRAGMENT_REASSEMBLED_TOO_LONG
        # The reassembled datagram takes the first fragment's header (RFC 791 3.2: "the first
        # fragment's header ... header fields of the datagram"), with its own length, no MF, offset 0.
        ip = bytearray(header[first_off:])
        ip[2:4] = total.to_bytes(2, "big")
        flags = ((ip[6] << 8) | ip[7]) & FLAG_DF
        ip[6:8] = flags.to_bytes(2, "big")
        ip[10:12] = b"\0\0"
        ip[10:12] = checksum(ip).to_bytes(2, "big")
        frame = header[:first_off] + bytes(ip) + result.payload
        ep.nic.stats.count_event("ipv4_reassembled")
        return ep.handle_packet(PacketBuffer(frame, first_off, ep.nic))

    def _on_reassembly_timeout_expired(self, key: Hashable, first: Any, head: bytes | None) -> None:
        """RFC 1122 3.3.2: on timeout the datagram is discarded; "if fragment zero has been
        received" an ICMP Time Exceeded code 1 goes to the source (RFC 792)."""
        if first is None or head is None:
            return
        ep, off, header = first
        ep.nic.stats.count_event("ipv4_reassembly_timeout")
        # RFC 792: the error quotes "the internet header plus the first 64 bits of the original
        # datagram's data": here fragment zero as it arrived; send_error trims to 576 octets.
        frame = header + head
        code = ICMPv4TimeExceededCode.REASSEMBLY
        icmp.send_error(ep, PacketBuffer(frame, off, ep.nic), ICMPv4Type.TIME_EXCEEDED, code)


def send_fragmented(
    ep: IPv4Endpoint,
    route: Route,
    proto: int,
    payload: bytes,
    ident: int,
    ttl: int,
    *,
    mtu: int,
    tos: int = 0,
    options: bytes = b"",
    dont_fragment: bool = False,
) -> Drop | None:
    """Send ``payload`` in as many datagrams as ``mtu`` needs (RFC 791 3.2); DF and too big fails."""
    packets = fragment_ipv4(
        route.local, route.remote, proto, payload, ident, ttl, mtu, tos=tos, options=options, dont_fragment=dont_fragment
    )
    if isinstance(packets, Drop):
        route.nic.stats.count_tx_drop(packets)
        return packets
    if len(packets) > 1:
        route.nic.stats.count_event("ipv4_datagram_fragmented")
    for packet in packets:
        ep.transmit(route.nic, route.remote, route.next_hop, packet)
    return None
