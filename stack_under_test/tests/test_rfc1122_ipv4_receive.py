"""The IPv4 receive path (RFC 1122 3.2.1): each malformed or misaddressed datagram is dropped
with its own counted reason; every frame gets exactly one verdict and one count."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    LIMITED_BROADCAST,
    SUBNET_BROADCAST,
    TESTER,
    echo_request,
    eth,
    ipv4,
    make_bench,
    parse_out,
)

ECHO = echo_request()

CASES = [
    ("truncated", eth(ipv4(ECHO)[:19]), Drop.IPV4_TRUNCATED),
    ("version-6", eth(ipv4(ECHO, version_ihl=0x65)), Drop.IPV4_BAD_VERSION),
    ("ihl-4", eth(ipv4(ECHO, version_ihl=0x44)), Drop.IPV4_BAD_IHL),
    ("total-length-beyond-frame", eth(ipv4(ECHO, total_length=20 + len(ECHO) + 1)), Drop.IPV4_BAD_TOTAL_LENGTH),
    ("total-length-below-ihl", eth(ipv4(ECHO, total_length=16)), Drop.IPV4_BAD_TOTAL_LENGTH),
    ("bad-checksum", eth(ipv4(ECHO, good_checksum=False)), Drop.IPV4_BAD_CHECKSUM),
    ("source-limited-broadcast", eth(ipv4(ECHO, src=LIMITED_BROADCAST)), Drop.IPV4_BAD_SOURCE),
    ("source-subnet-broadcast", eth(ipv4(ECHO, src=SUBNET_BROADCAST)), Drop.IPV4_BAD_SOURCE),
    ("source-multicast", eth(ipv4(ECHO, src=bytes((224, 0, 0, 5)))), Drop.IPV4_BAD_SOURCE),
    ("source-loopback", eth(ipv4(ECHO, src=bytes((127, 0, 0, 1)))), Drop.IPV4_BAD_SOURCE),
    ("not-our-address", eth(ipv4(ECHO, dst=bytes((198, 51, 100, 9)))), Drop.IPV4_NOT_FOR_US),
    ("unjoined-group", eth(ipv4(ECHO, dst=bytes((224, 1, 2, 3)))), Drop.IPV4_NOT_FOR_US),
    ("link-broadcast-unicast-ip", eth(ipv4(ECHO), dst=BROADCAST_MAC), Drop.IPV4_LINK_BROADCAST_UNICAST),
    ("empty-fragment", eth(ipv4(b"", flags_frag=0x2000)), Drop.FRAGMENT_EMPTY),
    ("fragment-past-65535", eth(ipv4(ECHO, flags_frag=0x1FFF)), Drop.IPV4_FRAGMENT_BAD),
    ("bad-option-length", eth(ipv4(ECHO, options=b"\x07\x01\x00\x00")), Drop.IPV4_BAD_OPTIONS),
    ("ethernet-truncated", b"\x02\0\0\0\0\x01\x02", Drop.ETHERNET_TRUNCATED),
    ("ethernet-not-for-us", eth(ipv4(ECHO), dst=bytes.fromhex("020000000009")), Drop.ETHERNET_NOT_FOR_US),
    ("unknown-ethertype", eth(ipv4(ECHO), ethertype=0x88B5), Drop.ETHERNET_UNKNOWN_ETHERTYPE),
]


@pytest.mark.parametrize(("frame", "drop"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_bad_datagram_is_dropped_and_counted_once(frame: bytes, drop: Drop) -> None:
    bench = make_bench()
    assert bench.inject(frame) is drop
    stats = bench.stack.stats
    assert stats.rx_frames == 1 and stats.rx_accepted == 0
    assert stats.drops == {drop: 1}
    assert bench.nic_stats.drops == {drop: 1}


def test_bad_option_length_earns_a_parameter_problem_pointing_at_it() -> None:
    bench = make_bench()
    bench.inject(eth(ipv4(ECHO, options=b"\x07\x01\x00\x00")))
    out = parse_out(bench.one())
    assert out.proto == 1 and out.payload[0] == 12 and out.payload[1] == 0
    # Linux __ip_options_compile: "if (optlen < 2 || optlen > l) { pp_ptr = optptr; ..." names the
    # option's type octet, header offset 20.
    assert out.payload[4] == 20


def test_ethernet_padding_beyond_total_length_is_trimmed() -> None:
    bench = make_bench()
    assert bench.inject(eth(ipv4(ECHO) + b"\0" * 20)) is None
    out = parse_out(bench.one())
    assert out.payload[0] == 0 and out.payload[8:] == b"ping-data"


@pytest.mark.parametrize("dst", [LIMITED_BROADCAST, SUBNET_BROADCAST, bytes((224, 0, 0, 1))], ids=["limited", "directed", "all-hosts"])
def test_broadcast_and_all_hosts_destinations_are_accepted_for_udp(dst: bytes) -> None:
    from stack_under_test.tests._ipv4_bench import udp

    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    mac = BROADCAST_MAC if dst[0] != 224 else bytes.fromhex("01005e000001")
    assert bench.inject(eth(ipv4(udp(1, 7, b"x", dst=dst), proto=17, dst=dst), dst=mac)) is None
    assert sock.recv() == (b"x", "198.51.100.2", 1)


def test_joined_group_is_accepted_and_left_group_is_not() -> None:
    from stack_under_test.tests._ipv4_bench import udp

    bench = make_bench()
    group = bytes((224, 1, 2, 3))
    frame = eth(ipv4(udp(1, 7, b"x", dst=group), proto=17, dst=group), dst=bytes.fromhex("01005e010203"))
    bench.stack.udp_bind("0.0.0.0", 7)
    bench.stack.join_group("eth0", "224.1.2.3")
    assert bench.inject(frame) is None
    bench.stack.leave_group("eth0", "224.1.2.3")
    assert bench.inject(frame) is Drop.IPV4_NOT_FOR_US


def test_every_frame_gets_one_verdict_and_one_count() -> None:
    bench = make_bench()
    frames = [c[1] for c in CASES] + [eth(ipv4(ECHO))] * 3
    verdicts = [bench.inject(f) for f in frames]
    stats = bench.stack.stats
    assert stats.rx_frames == len(frames)
    assert stats.rx_accepted == sum(v is None for v in verdicts) == 3
    assert sum(stats.drops.values()) == sum(v is not None for v in verdicts)


def test_disabled_nic_drops_everything() -> None:
    bench = make_bench()
    bench.stack.disable_nic("eth0")
    assert bench.inject(eth(ipv4(ECHO))) is Drop.NIC_DISABLED
    assert bench.sent() == []


def test_weak_host_model_accepts_an_address_of_another_nic() -> None:
    bench = make_bench()
    bench.bench.add_nic("eth1", bytes.fromhex("020000000011"))
    bench.stack.add_address("eth1", "203.0.113.1/24")
    assert bench.inject(eth(ipv4(ECHO, dst=bytes((203, 0, 113, 1))))) is None
    out = parse_out(bench.one())
    assert out.src == bytes((203, 0, 113, 1)) and out.dst == TESTER and out.src != DUT
