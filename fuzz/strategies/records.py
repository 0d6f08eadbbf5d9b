"""Strategies for the stack's wire records (``wire/*.py`` dataclasses), for the round-trip
property. Each yields records that are valid by construction (what ``encode`` promises to
handle), so parse(encode(record)) must give the record back."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from hypothesis import strategies as st

from fuzz.strategies.wire import inet_checksum
from stack_under_test.wire import arp, ethernet, icmpv4, ipv4, ipv6, ipv6_ext, ndp, udp
from stack_under_test.wire.ipv4_options import encode_option, pad_options

MAC = st.binary(min_size=6, max_size=6)
ADDR4 = st.binary(min_size=4, max_size=4)
ADDR6 = st.binary(min_size=16, max_size=16).map(IPv6Address)
UNICAST6 = ADDR6.filter(lambda a: not a.is_multicast)
U8, U16, U32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
DATA = st.binary(max_size=48)

ethernet_headers = st.builds(ethernet.EthernetHeader, MAC, MAC, U16)
arp_packets = st.builds(arp.ARPPacket, st.sampled_from([arp.OP_REQUEST, arp.OP_REPLY]), MAC, ADDR4, MAC, ADDR4)

# IPv4 options as (type, data) pairs: never EOL/NOP (one octet, no data) and at most 38 octets.
ipv4_option_pairs = st.lists(
    st.tuples(st.integers(2, 255), st.binary(max_size=6)), max_size=4
).filter(lambda opts: sum(len(d) + 2 for _, d in opts) <= 40)


@st.composite
def ipv4_headers_with_payload(draw: st.DrawFn) -> tuple[ipv4.IPv4Header, bytes, bytes]:
    """An IPv4 header as the receive path reads it, with its options and payload. IHL, total
    length and checksum are filled in here, the checksum by this suite's own RFC 1071 sum."""
    options = pad_options(b"".join(encode_option(k, d) for k, d in draw(ipv4_option_pairs)))
    payload = draw(DATA)
    hlen = 20 + len(options)
    ver_ihl, total = 0x40 | hlen >> 2, hlen + len(payload)
    tos, ident, ttl, protocol = draw(U8), draw(U16), draw(U8), draw(U8)
    flags_frag = draw(st.integers(0, 7)) << 13 | draw(st.integers(0, 0x1FFF))
    src, dst = draw(ADDR4), draw(ADDR4)
    unsummed = struct.pack("!BBHHHBBH4s4s", ver_ihl, tos, total, ident, flags_frag, ttl, protocol, 0, src, dst)
    csum = inet_checksum(unsummed + options)
    return ipv4.IPv4Header(ver_ihl, tos, total, ident, flags_frag, ttl, protocol, csum, src, dst), options, payload


icmpv4_echoes = st.builds(icmpv4.ICMPv4Echo, st.sampled_from([0, 8]), U16, U16, DATA, U8)
icmpv4_errors = st.builds(icmpv4.ICMPv4Error, st.sampled_from([3, 4, 5, 11, 12]), U8, DATA, U32)


@st.composite
def udp_headers_with_data(draw: st.DrawFn) -> tuple[udp.UDPHeader, bytes]:
    data = draw(DATA)
    return udp.UDPHeader(draw(U16), draw(U16), 8 + len(data), draw(U16)), data


@st.composite
def ipv6_headers_with_payload(draw: st.DrawFn) -> tuple[ipv6.IPv6Header, bytes]:
    payload = draw(DATA)
    header = ipv6.IPv6Header(draw(ADDR6), draw(ADDR6), draw(U8), draw(U8), draw(U8),
                             draw(st.integers(0, 0xFFFFF)), len(payload))
    return header, payload


fragment_headers = st.builds(ipv6_ext.FragmentHeader, U8, st.integers(0, 8191).map(lambda u: u * 8), st.booleans(), U32)

# NDP options whose data already fills whole 8-octet units (encode pads; parse keeps the padding).
ndp_options = st.builds(
    ndp.NDPOption, U8, st.integers(0, 3).flatmap(lambda u: st.binary(min_size=6 + 8 * u, max_size=6 + 8 * u))
)
ndp_option_lists = st.lists(ndp_options, max_size=3).map(lambda opts: ndp.NDPOptions(tuple(opts)))


def icmpv6_messages() -> st.SearchStrategy[object]:
    from stack_under_test.wire import icmpv6

    return st.one_of(
        st.builds(icmpv6.EchoRequest, U16, U16, DATA, U8),
        st.builds(icmpv6.EchoReply, U16, U16, DATA, U8),
        st.builds(icmpv6.ICMPv6Error, st.sampled_from([1, 2, 3, 4]), U8, U32, DATA),
        st.builds(ndp.NeighborSolicit, UNICAST6, ndp_option_lists),
        st.builds(ndp.NeighborAdvert, UNICAST6, st.booleans(), st.booleans(), st.booleans(), ndp_option_lists),
    )


def igmp_messages() -> st.SearchStrategy[object]:
    from stack_under_test.wire import igmp

    sources = st.lists(ADDR4, max_size=3).map(tuple)
    aux = st.integers(0, 2).map(lambda words: bytes(4 * words))
    return st.one_of(
        st.builds(igmp.Query, st.just(1), st.just(0), ADDR4),
        st.builds(igmp.Query, st.just(2), st.integers(1, 255), ADDR4),
        st.builds(igmp.Query, st.just(3), U8, ADDR4, st.booleans(), st.integers(0, 7), U8, sources),
        st.builds(igmp.Report, st.sampled_from([1, 2]), ADDR4),
        st.builds(igmp.Leave, ADDR4),
        st.builds(igmp.V3Report, st.lists(st.builds(igmp.GroupRecord, st.integers(1, 6), ADDR4, sources, aux),
                                          max_size=3).map(tuple)),
    )
