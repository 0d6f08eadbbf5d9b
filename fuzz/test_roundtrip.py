"""Property 2, round trip: parse(encode(record)) == record for every wire record the stack has.

Records come from fuzz/strategies/records.py, valid by construction. The IPv4 header is the one
the receive path parses (``IPv4Header.parse``) against the encoder the send path uses
(``encode_header``). A new record type gets its property next to its peers, and a line in _CHECKS.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import budget
from fuzz.strategies import records as r
from stack_under_test.wire import (
    arp,
    ethernet,
    icmpv4,
    icmpv6,
    igmp,
    ipv4,
    ipv4_options,
    ipv6,
    ipv6_ext,
    ndp,
    udp,
)

SRC6, DST6 = bytes.fromhex("fe80" + "00" * 13 + "02"), bytes.fromhex("ff02" + "00" * 13 + "01")


@budget(100)
@given(record=r.ethernet_headers)
def test_ethernet_header(record: ethernet.EthernetHeader) -> None:
    assert ethernet.EthernetHeader.parse(record.encode()) == record


@budget(100)
@given(record=r.arp_packets)
def test_arp_packet(record: arp.ARPPacket) -> None:
    assert arp.ARPPacket.parse(record.encode()) == record


@budget(100)
@given(datagram=r.ipv4_headers_with_payload())
def test_ipv4_header(datagram: tuple[ipv4.IPv4Header, bytes, bytes]) -> None:
    """The send path's encoder and the parser the receive path runs agree on every field."""
    record, options, payload = datagram
    raw = ipv4.encode_header(
        record.src, record.dst, record.protocol, len(payload), record.ident, record.ttl, record.tos, record.flags_frag,
        options,
    ) + payload
    assert ipv4.IPv4Header.parse(raw) == record  # the checksum too: encode_header's against the oracle's
    assert bytes(record.options(raw)) == options


@budget(100)
@given(pairs=r.ipv4_option_pairs)
def test_ipv4_options(pairs: list[tuple[int, bytes]]) -> None:
    raw = b"".join(ipv4_options.encode_option(k, d) for k, d in pairs)
    walked = list(ipv4_options.walk(ipv4_options.pad_options(raw)))
    assert all(isinstance(o, ipv4_options.Option) for o in walked), walked  # no ParamProblem
    assert [(o.type, o.data) for o in walked if isinstance(o, ipv4_options.Option)] == pairs  # nothing lost


@budget(100)
@given(record=r.icmpv4_echoes | r.icmpv4_errors)
def test_icmpv4_message(record: icmpv4.ICMPv4Echo | icmpv4.ICMPv4Error) -> None:
    assert type(record).parse(record.encode()) == record


@budget(100)
@given(pair=r.udp_headers_with_data())
def test_udp_header(pair: tuple[udp.UDPHeader, bytes]) -> None:
    record, data = pair
    assert udp.UDPHeader.parse(record.encode() + data) == record


@budget(100)
@given(pair=r.ipv6_headers_with_payload())
def test_ipv6_header(pair: tuple[ipv6.IPv6Header, bytes]) -> None:
    record, payload = pair
    assert ipv6.IPv6Header.parse(memoryview(record.encode() + payload)) == record


@budget(100)
@given(record=r.fragment_headers)
def test_ipv6_fragment_header(record: ipv6_ext.FragmentHeader) -> None:
    assert ipv6_ext.FragmentHeader.parse(memoryview(record.encode())) == record


@budget(100)
@given(record=r.ndp_option_lists)
def test_ndp_options(record: ndp.NDPOptions) -> None:
    assert ndp.NDPOptions.parse(memoryview(record.encode())) == record


@budget(150)
@given(record=r.icmpv6_messages())
def test_icmpv6_message(record: icmpv6.ICMPv6Message) -> None:
    assert icmpv6.parse(memoryview(icmpv6.encode(record, SRC6, DST6)), SRC6, DST6) == record


@budget(150)
@given(record=r.igmp_messages())
def test_igmp_message(record: igmp.Message) -> None:
    assert igmp.parse(record.encode()) == record


# Every record type in one property, for campaigns (`stackcheck fuzz --target roundtrip`): a
# campaign runs one test for its whole duration, so the per-type tests above would starve.
_CHECKS = [
    (test_ethernet_header, "record", r.ethernet_headers), (test_arp_packet, "record", r.arp_packets),
    (test_ipv4_header, "datagram", r.ipv4_headers_with_payload()), (test_ipv4_options, "pairs", r.ipv4_option_pairs),
    (test_icmpv4_message, "record", r.icmpv4_echoes | r.icmpv4_errors),
    (test_udp_header, "pair", r.udp_headers_with_data()), (test_ipv6_header, "pair", r.ipv6_headers_with_payload()),
    (test_ipv6_fragment_header, "record", r.fragment_headers), (test_ndp_options, "record", r.ndp_option_lists),
    (test_icmpv6_message, "record", r.icmpv6_messages()), (test_igmp_message, "record", r.igmp_messages()),
]


@budget(100)
@given(data=st.data())
def test_every_record_round_trips(data: st.DataObject) -> None:
    check, name, strategy = data.draw(st.sampled_from(_CHECKS), label="record type")
    check.hypothesis.inner_test(**{name: data.draw(strategy, label=name)})  # the undecorated property
