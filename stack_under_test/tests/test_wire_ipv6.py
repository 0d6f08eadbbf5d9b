"""IPv6 fixed header and extension-header walker: valid, malformed, and hostile inputs."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire import ipv6_ext
from stack_under_test.wire.ipv6 import (
    HEADER_LEN,
    IPv6Header,
    IPv6View,
    build_packet,
    eui64_link_local,
    is_link_local,
    is_multicast,
    is_solicited_node,
    solicited_node,
)
from stack_under_test.wire.ipv6_ext import (
    ExtChain,
    FragmentHeader,
    ParamProblem,
    option,
    options_header,
    routing_header,
    walk,
)
from stack_under_test.wire.numbers import (
    PROTO_DEST_OPTS,
    PROTO_FRAGMENT,
    PROTO_HOP_BY_HOP,
    PROTO_NO_NEXT_HEADER,
    PROTO_ROUTING,
)

SRC = IPv6Address("2001:db8:1::2")
DST = IPv6Address("2001:db8:1::1")
UDP = 17


def packet(next_header: int, payload: bytes) -> memoryview:
    return memoryview(build_packet(SRC.packed, DST.packed, next_header, payload))


# ---- fixed header ----------------------------------------------------------------------


def test_header_round_trips() -> None:
    header = IPv6Header(SRC, DST, UDP, hop_limit=7, traffic_class=0xB8, flow_label=0xABCDE, payload_length=3)
    parsed = IPv6Header.parse(memoryview(header.encode() + b"abc"))
    assert parsed == header


def test_view_fields() -> None:
    view = IPv6View(packet(UDP, b"xyz"))
    assert view.check() is None
    assert (view.version, view.payload_length, view.next_header, view.hop_limit) == (6, 3, UDP, 64)
    assert (view.src, view.dst) == (SRC.packed, DST.packed)
    assert bytes(view.payload) == b"xyz"


@pytest.mark.parametrize("length", range(HEADER_LEN))
def test_truncated_header_is_dropped(length: int) -> None:
    raw = bytes(packet(UDP, b""))[:length]
    assert IPv6Header.parse(memoryview(raw)) is Drop.IPV6_TRUNCATED


def test_bad_version_is_dropped() -> None:
    raw = bytearray(packet(UDP, b""))
    raw[0] = 0x40
    assert IPv6Header.parse(memoryview(raw)) is Drop.IPV6_BAD_VERSION


def test_payload_length_past_frame_is_dropped() -> None:
    raw = bytes(packet(UDP, b"abcd"))[:-1]
    assert IPv6Header.parse(memoryview(raw)) is Drop.IPV6_PAYLOAD_LENGTH_EXCEEDS_FRAME


def test_link_padding_is_trimmed_from_payload() -> None:
    view = IPv6View(memoryview(bytes(packet(UDP, b"ab")) + bytes(20)))
    assert view.check() is None
    assert bytes(view.payload) == b"ab"


def test_address_helpers() -> None:
    assert solicited_node(DST.packed) == IPv6Address("ff02::1:ff00:1").packed
    assert is_solicited_node(IPv6Address("ff02::1:ff12:3456").packed)
    assert not is_solicited_node(IPv6Address("ff02::1").packed)
    assert is_multicast(IPv6Address("ff05::2").packed)
    assert not is_multicast(DST.packed)
    assert is_link_local(IPv6Address("fe80::1").packed)
    assert is_link_local(IPv6Address("ff02::1").packed)
    assert not is_link_local(IPv6Address("ff05::1").packed)
    assert not is_link_local(DST.packed)
    assert eui64_link_local(bytes.fromhex("020000000001")) == IPv6Address("fe80::ff:fe00:1")


# ---- extension header chain --------------------------------------------------------------


def test_no_extension_headers() -> None:
    chain = walk(packet(UDP, b"payload!"))
    assert chain == ExtChain((), UDP, HEADER_LEN, 6)


def test_chain_of_every_kind() -> None:
    payload = (
        options_header(PROTO_DEST_OPTS, b"")
        + options_header(PROTO_ROUTING, option(ipv6_ext.OPT_PADN, bytes(4)))
        + routing_header(PROTO_NO_NEXT_HEADER, routing_type=0, segments_left=0)
    )
    chain = walk(packet(PROTO_HOP_BY_HOP, payload))
    assert isinstance(chain, ExtChain)
    assert [h.proto for h in chain.headers] == [PROTO_HOP_BY_HOP, PROTO_DEST_OPTS, PROTO_ROUTING]
    assert chain.upper_proto == PROTO_NO_NEXT_HEADER
    assert chain.upper_offset == HEADER_LEN + len(payload)
    assert chain.upper_proto_pointer == HEADER_LEN + 16  # the routing header's first octet


def test_router_alert_is_reported() -> None:
    chain = walk(packet(PROTO_HOP_BY_HOP, options_header(UDP, option(ipv6_ext.OPT_ROUTER_ALERT, b"\x00\x00"))))
    assert isinstance(chain, ExtChain)
    assert chain.router_alert == 0


def test_hop_by_hop_after_destination_options_is_param_problem_code_1() -> None:
    payload = options_header(PROTO_HOP_BY_HOP, b"") + options_header(UDP, b"")
    result = walk(packet(PROTO_DEST_OPTS, payload))
    assert result == ParamProblem(1, HEADER_LEN, Drop.IPV6_HOP_BY_HOP_NOT_FIRST)


def test_routing_header_with_segments_left_is_param_problem_code_0_at_routing_type() -> None:
    result = walk(packet(PROTO_ROUTING, routing_header(UDP, routing_type=0, segments_left=1)))
    assert result == ParamProblem(0, HEADER_LEN + 2, Drop.IPV6_ROUTING_TYPE_UNRECOGNIZED)


def test_fragment_header_stops_the_walk() -> None:
    frag = FragmentHeader(UDP, offset=1480, more=True, ident=0xDEADBEEF)
    chain = walk(packet(PROTO_FRAGMENT, frag.encode() + b"data"))
    assert isinstance(chain, ExtChain)
    assert chain.fragment == frag
    assert chain.upper_proto == UDP
    assert chain.upper_offset == HEADER_LEN + 8


def test_fragment_header_round_trips() -> None:
    frag = FragmentHeader(58, offset=8, more=False, ident=7)
    assert FragmentHeader.parse(memoryview(frag.encode())) == frag


@pytest.mark.parametrize(
    ("opt_type", "expected"),
    [
        pytest.param(0x1E, None, id="00/skip"),
        pytest.param(0x5E, Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD, id="01/discard"),
        pytest.param(0x9E, ParamProblem(2, HEADER_LEN + 2, Drop.IPV6_UNRECOGNIZED_OPTION, True), id="10/pp"),
        pytest.param(0xDE, ParamProblem(2, HEADER_LEN + 2, Drop.IPV6_UNRECOGNIZED_OPTION), id="11/pp"),
    ],
)
def test_unrecognized_option_actions(opt_type: int, expected: object) -> None:
    result = walk(packet(PROTO_DEST_OPTS, options_header(UDP, option(opt_type, b"ab"))))
    if expected is None:
        assert isinstance(result, ExtChain)
        assert result.upper_proto == UDP
    else:
        assert result == expected


def test_unrecognized_option_11_to_multicast_is_silently_discarded() -> None:
    result = walk(packet(PROTO_DEST_OPTS, options_header(UDP, option(0xDE, b"ab"))), dst_is_multicast=True)
    assert result is Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD


def test_option_running_past_its_header_is_dropped() -> None:
    # Header length says 8 octets; the PadN option claims 10 data octets.
    raw = bytes([UDP, 0, ipv6_ext.OPT_PADN, 10, 0, 0, 0, 0])
    assert walk(packet(PROTO_DEST_OPTS, raw)) is Drop.IPV6_OPTION_TRUNCATED


def test_router_alert_with_wrong_length_is_dropped() -> None:
    raw = options_header(UDP, option(ipv6_ext.OPT_ROUTER_ALERT, b"\x00"))
    assert walk(packet(PROTO_HOP_BY_HOP, raw)) is Drop.IPV6_OPTION_TRUNCATED


@pytest.mark.parametrize("proto", [PROTO_HOP_BY_HOP, PROTO_DEST_OPTS, PROTO_ROUTING, PROTO_FRAGMENT])
def test_truncated_extension_header_at_every_length(proto: int) -> None:
    full = options_header(UDP, option(ipv6_ext.OPT_PADN, bytes(10)))
    if proto == PROTO_FRAGMENT:
        full = FragmentHeader(UDP, 0, False, 1).encode()
    for cut in range(len(full)):
        assert walk(packet(proto, full[:cut])) is Drop.IPV6_EXT_HEADER_TRUNCATED, cut


def test_long_chain_is_bounded() -> None:
    payload = b"".join(options_header(PROTO_DEST_OPTS, b"") for _ in range(180))
    assert walk(packet(PROTO_DEST_OPTS, payload)) is Drop.IPV6_TOO_MANY_EXT_HEADERS


def test_chain_at_the_limit_is_walked() -> None:
    n = ipv6_ext.MAX_EXT_HEADERS
    payload = b"".join(options_header(PROTO_DEST_OPTS if i < n - 1 else UDP, b"") for i in range(n))
    chain = walk(packet(PROTO_DEST_OPTS, payload))
    assert isinstance(chain, ExtChain)
    assert len(chain.headers) == n


def test_walker_is_total_over_arbitrary_bytes() -> None:
    # Every single-octet value at every position of a small chain must give a verdict.
    base = bytearray(
        build_packet(SRC.packed, DST.packed, PROTO_HOP_BY_HOP, options_header(PROTO_DEST_OPTS, option(0x1E, b"xy")) + options_header(UDP, b""))
    )
    for pos in range(6, len(base)):
        for value in (0, 1, 2, 4, 5, 0x2B, 0x2C, 0x3C, 0x80, 0xC0, 0xFF):
            mutated = bytearray(base)
            mutated[pos] = value
            result = walk(memoryview(bytes(mutated)))
            assert isinstance(result, (ExtChain, ParamProblem, Drop))
