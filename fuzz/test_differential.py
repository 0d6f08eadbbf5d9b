"""Property 3, differential: for packets Scapy builds, our parsers (the ones the receive paths
run) read the same fields as Scapy's own dissection of the same octets (IPv4 header and options,
ICMPv4, UDP, IPv6 with extension headers, ICMPv6 echo and NDP with options)."""

from __future__ import annotations

from ipaddress import IPv6Address, ip_address

from hypothesis import example, given
from scapy.layers.inet import ICMP, IP, UDP, IPOption_LSRR
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, IPv6
from scapy.packet import Packet

from fuzz.profiles import budget
from fuzz.strategies.scapy_packets import ipv4_packets, ipv6_packets
from stack_under_test.wire import icmpv4, icmpv6, ipv4, ipv4_options, ipv6, ipv6_ext, ndp, numbers, udp


def packed(text: str) -> bytes:
    return ip_address(text).packed


def scapy_options(pkt: IP) -> list[tuple[int, bytes]]:
    """(type, data) of each option Scapy dissected, as our walker reports them: NOPs skipped,
    stop at End of Option List."""
    out = []
    for opt in pkt.options:
        raw = bytes(opt)
        if raw[0] == 0:
            break
        if raw[0] != 1:
            out.append((raw[0], raw[2 : raw[1]]))
    return out


def final_destination(header: ipv4.IPv4Header, options: list[ipv4_options.Option | ipv4_options.ParamProblem]) -> bytes:
    """The destination in the UDP pseudo-header: with a source route still to go, the route's last
    address, the datagram's final destination (what the sender sums; Scapy's in4_pseudoheader)."""
    for opt in options:
        if isinstance(opt, ipv4_options.Option) and opt.type in (131, 137) and len(opt.data) >= 5:
            pointer = opt.data[0]
            if pointer <= len(opt.data) + 2:  # hops left
                return opt.data[-4:]
    return header.dst


# A frame that once failed here because the test summed the header's destination; Scapy (rightly)
# sums the source route's final destination. Found by `stackcheck fuzz` (differential-ipv4).
@example(built=IP(src="0.0.0.0", dst="0.0.0.1", ttl=0, options=[IPOption_LSRR(routers=["0.0.0.0"])]) / UDP(sport=0, dport=0))
@budget(60)
@given(built=ipv4_packets())
def test_ipv4_fields_match_scapy(built: Packet) -> None:
    raw = bytes(built)
    theirs = IP(raw)
    ours = ipv4.IPv4Header.parse(raw)
    assert isinstance(ours, ipv4.IPv4Header), ours
    assert (ours.src, ours.dst) == (packed(theirs.src), packed(theirs.dst))
    assert (ours.protocol, ours.total_length, ours.ident) == (theirs.proto, theirs.len, theirs.id)
    assert (ours.ttl, ours.tos, ours.flags, ours.fragment_offset) == (theirs.ttl, theirs.tos, int(theirs.flags), theirs.frag)
    assert ours.header_len == theirs.ihl * 4
    walked = list(ipv4_options.walk(ours.options(raw)))
    assert all(isinstance(o, ipv4_options.Option) for o in walked), walked
    assert [(o.type, o.data) for o in walked if isinstance(o, ipv4_options.Option)] == scapy_options(theirs)
    body = raw[ours.header_len : ours.total_length]
    if ICMP in theirs and theirs.frag == 0 and not theirs.flags & 1:
        echo = icmpv4.ICMPv4Echo.parse(body)
        assert isinstance(echo, icmpv4.ICMPv4Echo), echo
        t = theirs[ICMP]
        assert (echo.type, echo.code, echo.ident, echo.seq) == (t.type, t.code, t.id, t.seq)
        assert echo.data == bytes(t.payload)
    if UDP in theirs and theirs.frag == 0 and not theirs.flags & 1:
        view = udp.UDPView(body)
        assert view.check() is None
        t = theirs[UDP]
        assert (view.src_port, view.dst_port, view.length, view.checksum) == (t.sport, t.dport, t.len, t.chksum)
        assert view.checksum_ok(ours.src, final_destination(ours, walked))  # Scapy computed it
        assert bytes(view.data()) == bytes(t.payload)


def scapy_chain(theirs: IPv6) -> tuple[list[tuple[int, int, int]], int, int]:
    """[(proto, offset, length)] of the extension headers up to a Fragment header, the upper
    protocol and its offset, from Scapy's layers."""
    headers, offset, proto, layer = [], 40, theirs.nh, theirs.payload
    while proto in ipv6_ext.EXTENSION_HEADERS:
        length = len(bytes(layer)) - len(bytes(layer.payload))
        headers.append((proto, offset, length))
        offset += length
        proto = layer.nh
        if headers[-1][0] == numbers.PROTO_FRAGMENT:
            break
        layer = layer.payload
    return headers, proto, offset


@budget(60)
@given(built=ipv6_packets())
def test_ipv6_fields_and_extension_chain_match_scapy(built: Packet) -> None:
    raw = bytes(built)
    theirs = IPv6(raw)
    ours = ipv6.IPv6Header.parse(memoryview(raw))
    assert isinstance(ours, ipv6.IPv6Header), ours
    assert (ours.src, ours.dst) == (IPv6Address(theirs.src), IPv6Address(theirs.dst))
    assert (ours.next_header, ours.hop_limit, ours.payload_length) == (theirs.nh, theirs.hlim, theirs.plen)
    assert (ours.traffic_class, ours.flow_label) == (theirs.tc, theirs.fl)
    chain = ipv6_ext.walk(memoryview(raw))
    assert isinstance(chain, ipv6_ext.ExtChain), chain
    headers, upper, upper_offset = scapy_chain(theirs)
    assert [(h.proto, h.offset, h.length) for h in chain.headers] == headers
    assert (chain.upper_proto, chain.upper_offset) == (upper, upper_offset)
    if chain.fragment is not None or upper != 58:
        return
    message = icmpv6.parse(memoryview(raw)[upper_offset:], ours.src.packed, ours.dst.packed)
    assert not isinstance(message, type(None))
    for cls, ours_cls in ((ICMPv6EchoRequest, icmpv6.EchoRequest), (ICMPv6EchoReply, icmpv6.EchoReply)):
        if cls in theirs:
            t = theirs[cls]
            assert message == ours_cls(t.id, t.seq, bytes(t.data), t.code)
    if ICMPv6ND_NS in theirs or ICMPv6ND_NA in theirs:
        t = theirs[ICMPv6ND_NS] if ICMPv6ND_NS in theirs else theirs[ICMPv6ND_NA]
        assert isinstance(message, (ndp.NeighborSolicit, ndp.NeighborAdvert)), message
        assert message.target == IPv6Address(t.tgt)
        if isinstance(message, ndp.NeighborAdvert):
            assert (message.router, message.solicited, message.override) == (bool(t.R), bool(t.S), bool(t.O))
        theirs_opts = []
        layer = t.payload
        while layer.name != "NoPayload" and hasattr(layer, "type"):
            octets = bytes(layer)[: layer.len * 8]
            theirs_opts.append((octets[0], octets[2:]))
            layer = layer.payload
        assert [(o.type, o.data) for o in message.options.options] == theirs_opts
