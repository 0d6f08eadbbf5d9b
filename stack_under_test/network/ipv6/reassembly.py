"""IPv6 reassembly (RFC 8200 4.5): the Fragment header on receive; the endpoint fragments on send.

The shared ``Reassembler`` (network/fragmentation.py) keeps the pieces; this module applies
the IPv6 rules around it: atomic fragments (RFC 6946), the first fragment's header chain
(RFC 7112), the Parameter Problems of RFC 8200 4.5, fragmented Neighbor Discovery (RFC 6980),
Time Exceeded code 1 on timeout, and the rebuilt packet, which the endpoint receives again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import Reassembler, reassembled_ecn
from stack_under_test.wire import ipv6_ext
from stack_under_test.wire.ipv6 import HEADER_LEN, NEXT_HEADER_OFFSET, IPv6View
from stack_under_test.wire.ipv6_ext import FRAGMENT_HEADER_LEN, PAYLOAD_LENGTH_OFFSET, PP_ERRONEOUS_HEADER
from stack_under_test.wire.numbers import (
    PROTO_FRAGMENT,
    PROTO_ICMPV6,
    PROTO_NO_NEXT_HEADER,
    PROTO_TCP,
    PROTO_UDP,
    ICMPv6ParamProblemCode,
    ICMPv6TimeExceededCode,
    ICMPv6Type,
)

from . import icmp

if TYPE_CHECKING:
    from collections.abc import Hashable

    from stack_under_test.stack.stack import Stack

    from .contracts import IPv6Host

MAX_PAYLOAD: Final = 0xFFFF  # RFC 8200 3: Payload Length is 16 bits
# RFC 6980 5 (NDP: Router Solicitation/Advertisement, Neighbor Solicitation/Advertisement, Redirect).
NDP_TYPES: Final = frozenset(range(133, 138))
# Octets of the upper-layer header the first fragment must hold (Linux ipv6frag_thdr_truncated:
# TCP and UDP headers, the ICMPv6 type/code/checksum, else at least one octet).
_UPPER_HEADER_LEN: Final[dict[int, int]] = {PROTO_TCP: 20, PROTO_UDP: 8, PROTO_ICMPV6: 4, PROTO_NO_NEXT_HEADER: 0}


class IPv6Reassembly:
    """One per stack (IPv6Protocol)."""

    def __init__(self, stack: Stack) -> None:
        self.reassembler = Reassembler.for_stack(
            stack, "ipv6_reassembly_timeout", MAX_PAYLOAD, self._on_reassembly_timeout_expired
        )

    def handle_fragment(
        self, host: IPv6Host, pkt: PacketBuffer, view: IPv6View, chain: ipv6_ext.ExtChain
    ) -> PacketBuffer | Drop | None:
        """A packet for us whose walk stopped at a Fragment header (``chain.fragment``): the whole
        packet once this fragment completes it, for the endpoint to receive; None while it is
        held; or the Drop that says why it was not."""
        frag = chain.fragment
        if frag is None:
            return None
        packet = pkt.network()
        fh_off = chain.upper_offset - FRAGMENT_HEADER_LEN
        data_off = chain.upper_offset
        size = len(packet) - data_off
        # The Next Header field that names the Fragment header: the fixed header's, or that of
        # the extension header before it.
        named_by = chain.headers[-2].offset if len(chain.headers) > 1 else NEXT_HEADER_OFFSET
        first_fragment = frag.offset == 0
        if first_fragment:
            # Every header after the Fragment header through the upper-layer one, stepped over by
            # their lengths (their contents are judged when the whole packet is received).
            upper_proto, upper = ipv6_ext.skip_headers(packet, data_off, frag.next_header)
            if upper_proto == PROTO_FRAGMENT:
                # RFC 8200 4.1: "Each extension header should occur at most once"; a second Fragment
                # header would nest reassemblies (and recursion) without bound.
                return Drop.IPV6_FRAGMENT_NESTED
            if upper is None or upper + _UPPER_HEADER_LEN.get(upper_proto, 1) > len(packet):
                # RFC 8200 4.5: "If the first fragment does not include all headers through an
                # Upper-Layer header, then that fragment should be discarded and an ICMP Parameter
                # Problem, Code 3, message should be sent ... with the Pointer field set to zero."
                code = ICMPv6ParamProblemCode.INCOMPLETE_HEADER_CHAIN
                icmp.send_error(host, pkt, ICMPv6Type.PARAMETER_PROBLEM, code, 0)
                return Drop.IPV6_FIRST_FRAGMENT_INCOMPLETE_CHAIN
            if not frag.more:
                # RFC 6946 4: "A host that receives an IPv6 packet that includes a Fragment Header
                # with the "Fragment Offset" equal to 0 and the "M" flag equal to 0 MUST process
                # such packet in isolation from any other packets/fragments".
                host.nic.stats.count_event("ipv6_atomic_fragment")
                return self._rebuild(host, pkt.data[: pkt.network_offset], pkt.network_offset, bytes(packet[:fh_off]),
                                     named_by, frag.next_header, bytes(packet[data_off:]))
        # RFC 8200 4.5: "If the length and offset of a fragment are such that the Payload Length of
        # the packet reassembled from that fragment would exceed 65,535 octets, then that fragment
        # must be discarded and an ICMP Parameter Problem, Code 0, message should be sent ...,
        # pointing to the Fragment Offset field of the fragment packet." (Linux counts only the
        # fragmentable part: offset + fragment length.)
        if frag.offset + size > MAX_PAYLOAD:
            icmp.send_error(host, pkt, ICMPv6Type.PARAMETER_PROBLEM, PP_ERRONEOUS_HEADER, fh_off + 2)
            return Drop.IPV6_FRAGMENT_BEYOND_MAX
        # RFC 8200 4.5: "If the length of a fragment, as derived from the fragment packet's Payload
        # Length field, is not a multiple of 8 octets and the M flag of that fragment is 1, then
        # that fragment must be discarded and an ICMP Parameter Problem, Code 0, message should be
        # sent ..., pointing to the Payload Length field of the fragment packet."
        if frag.more and size % 8:
            icmp.send_error(host, pkt, ICMPv6Type.PARAMETER_PROBLEM, PP_ERRONEOUS_HEADER, PAYLOAD_LENGTH_OFFSET)
            return Drop.IPV6_FRAGMENT_LENGTH_NOT_MULTIPLE_OF_8
        first = None
        if first_fragment:
            first = (host, bytes(packet[:data_off]), named_by, frag.next_header, bool(pkt.data[0] & 1))
        # RFC 8200 4.5: fragments belong together when "Source Address, Destination Address, and
        # Fragment Identification" match.
        result = self.reassembler.add((view.src, view.dst, frag.ident), frag.offset, packet[data_off:], frag.more, first,
                                      view.traffic_class & 3)
        if result is None or isinstance(result, Drop):
            return result
        _, head, named, next_header, _ = result.first
        # RFC 3168 5.3: the reassembled packet's ECN codepoint from all its fragments' (the
        # first fragment's Traffic Class otherwise); its two bits are 0x30 of the header's octet 1.
        ecn = reassembled_ecn(result.ecn_seen, head[1] >> 4 & 3)
        if ecn is None:
            return Drop.FRAGMENT_ECN_MIXED
        head = head[:1] + bytes((head[1] & ~0x30 | ecn << 4,)) + head[2:]
        host.nic.stats.count_event("ipv6_reassembled")
        # RFC 8200 4.5: the Unfragmentable Part comes from the first fragment, "the Next Header
        # field of the last header of the Unfragmentable Part is obtained from the Next Header
        # field of the first fragment's Fragment header".
        off = pkt.network_offset
        return self._rebuild(
            host, pkt.data[:off], off, head[: len(head) - FRAGMENT_HEADER_LEN], named, next_header, result.payload
        )

    def _rebuild(
        self, host: IPv6Host, link: bytes, off: int, unfragmentable: bytes, named_by: int, next_header: int,
        payload: bytes,
    ) -> PacketBuffer | Drop:
        """The packet without its Fragment header, framed as it arrived."""
        if len(unfragmentable) - HEADER_LEN + len(payload) > MAX_PAYLOAD:
            return Drop.FRAGMENT_REASSEMBLED_TOO_LONG
        packet = ipv6_ext.reassembled(unfragmentable, named_by, next_header, payload)
        proto, upper = ipv6_ext.upper_layer(memoryview(packet))
        # RFC 6980 5: "A node that receives a fragmented NDP message MUST silently ignore it" (Linux
        # also counts atomic fragments as fragmented: suppress_frag_ndisc).
        if proto == PROTO_ICMPV6 and upper is not None and upper < len(packet) and packet[upper] in NDP_TYPES:
            return Drop.NDP_FRAGMENTED
        return PacketBuffer(bytes(link) + packet, off, host.nic)

    def _on_reassembly_timeout_expired(self, key: Hashable, first: Any, head: bytes | None) -> None:
        # RFC 8200 4.5: "If the first fragment (i.e., the one with a Fragment Offset of zero) has
        # been received, an ICMP Time Exceeded -- Fragment Reassembly Time Exceeded message should
        # be sent to the source of that fragment."
        if first is None or head is None:
            return
        host, header, _, _, link_multicast = first
        host.nic.stats.count_event("ipv6_reassembly_timeout")
        invoking = memoryview(header + head)
        icmp.send_error_about(
            host,
            invoking,
            ICMPv6Type.TIME_EXCEEDED,
            ICMPv6TimeExceededCode.REASSEMBLY,
            0,
            link_multicast=link_multicast,
        )
