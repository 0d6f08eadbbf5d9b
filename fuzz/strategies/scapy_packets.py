"""Scapy-built packets for the differential property: the packet is built by Scapy (its field
defaults, lengths and checksums), so our parser is judged against an independent implementation.
Kept small: Scapy costs ~0.5 ms a packet."""

from __future__ import annotations

from hypothesis import strategies as st
from scapy.layers.inet import (
    ICMP,
    IP,
    UDP,
    IPOption_LSRR,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPOption_RR,
    IPOption_Security,
    IPOption_SSRR,
)
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PadN,
    RouterAlert,
)
from scapy.packet import Packet, Raw

IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(str)
UNICAST6 = st.ip_addresses(v=6).filter(lambda a: not a.is_multicast).map(str)
MACS = st.sampled_from(["02:00:00:00:00:02", "00:11:22:33:44:55", "ff:ff:ff:ff:ff:ff"])
U8, U16 = st.integers(0, 255), st.integers(0, 0xFFFF)
DATA = st.binary(max_size=32)
ROUTERS = st.lists(IPV4, min_size=1, max_size=3)

ipv4_options = st.lists(
    st.one_of(
        st.just(IPOption_NOP()),
        st.builds(IPOption_Router_Alert),
        st.builds(lambda rs: IPOption_RR(routers=rs), ROUTERS),
        st.builds(lambda rs: IPOption_LSRR(routers=rs), ROUTERS),
        st.builds(lambda rs: IPOption_SSRR(routers=rs), ROUTERS),
        st.builds(IPOption_Security),
    ),
    max_size=3,
).filter(lambda opts: sum(len(bytes(o)) for o in opts) <= 40
         # one source route at most: a second one is an error (RFC 791 3.1 allows one per datagram)
         and sum(isinstance(o, (IPOption_LSRR, IPOption_SSRR)) for o in opts) <= 1)


@st.composite
def ipv4_packets(draw: st.DrawFn) -> Packet:
    upper = draw(st.sampled_from(["icmp", "udp", "raw"]))
    ip = IP(src=draw(IPV4), dst=draw(IPV4), ttl=draw(U8), tos=draw(U8), id=draw(U16),
            flags=draw(st.integers(0, 7)), frag=draw(st.integers(0, 0x1FFF)), options=draw(ipv4_options))
    if upper == "icmp":
        return ip / ICMP(type=draw(st.sampled_from([0, 8])), code=draw(U8), id=draw(U16), seq=draw(U16)) / Raw(draw(DATA))
    if upper == "udp":
        return ip / UDP(sport=draw(U16), dport=draw(U16)) / Raw(draw(DATA))
    return ip / Raw(draw(DATA))


tlv_options = st.lists(
    st.one_of(st.builds(lambda n: PadN(optdata=bytes(n)), st.integers(0, 5)),
              st.builds(lambda v: RouterAlert(value=v), st.sampled_from([0, 1])),
              st.builds(lambda d: HBHOptUnknown(otype=0x1E, optdata=d), st.binary(max_size=4))),
    max_size=3,
)


@st.composite
def ipv6_packets(draw: st.DrawFn) -> Packet:
    """IPv6 with an extension chain the stack accepts (HbH first, Routing with Segments Left 0,
    options it skips) and ICMPv6/NDP or UDP on top."""
    pkt: Packet = IPv6(src=draw(IPV6), dst=draw(IPV6), hlim=draw(U8), tc=draw(U8), fl=draw(st.integers(0, 0xFFFFF)))
    if draw(st.booleans()):
        pkt /= IPv6ExtHdrHopByHop(options=draw(tlv_options))
    for kind in draw(st.lists(st.sampled_from(["dest", "routing", "fragment"]), max_size=2)):
        if kind == "dest":
            pkt /= IPv6ExtHdrDestOpt(options=draw(tlv_options))
        elif kind == "routing":
            pkt /= IPv6ExtHdrRouting(type=draw(st.sampled_from([0, 2, 3])), segleft=0, addresses=draw(st.lists(IPV6, max_size=2)))
        else:
            pkt /= IPv6ExtHdrFragment(offset=draw(st.integers(0, 8191)), m=draw(st.integers(0, 1)), id=draw(st.integers(0, 2**32 - 1)))
    upper = draw(st.sampled_from(["echo", "reply", "ns", "na", "udp"]))
    options: list[Packet] = draw(st.lists(st.one_of(st.builds(ICMPv6NDOptSrcLLAddr, lladdr=MACS),
                                                    st.builds(ICMPv6NDOptDstLLAddr, lladdr=MACS),
                                                    st.builds(ICMPv6NDOptMTU, mtu=st.integers(1280, 9000))), max_size=2))
    if upper == "echo":
        pkt /= ICMPv6EchoRequest(id=draw(U16), seq=draw(U16), data=draw(DATA))
    elif upper == "reply":
        pkt /= ICMPv6EchoReply(id=draw(U16), seq=draw(U16), data=draw(DATA))
    elif upper == "ns":
        pkt /= ICMPv6ND_NS(tgt=draw(UNICAST6))
        for opt in options:
            pkt /= opt
    elif upper == "na":
        pkt /= ICMPv6ND_NA(tgt=draw(UNICAST6), R=draw(st.integers(0, 1)), S=draw(st.integers(0, 1)), O=draw(st.integers(0, 1)))
        for opt in options:
            pkt /= opt
    else:
        pkt /= UDP(sport=draw(U16), dport=draw(U16)) / Raw(draw(DATA))
    return pkt
