"""IPv4 reassembly and fragmentation through the whole stack (RFC 791 3.2, RFC 815, RFC 1122 3.3.2).

Frames in through the channel link, verdicts and frames out; time is the bench's VirtualClock.
"""

from __future__ import annotations

import random
import struct

from stack_under_test import Drop, VirtualClock
from stack_under_test.network.fragmentation import Reassembled, Reassembler
from stack_under_test.testing import Bench, reassemblers
from stack_under_test.tests._ipv4_bench import (
    DUT,
    TESTER,
    TESTER_MAC,
    IPv4Bench,
    echo_request,
    eth,
    ipv4,
    make_bench,
    parse_out,
    udp,
)

TIMEOUT = 30_000  # RFC 1122 3.3.2 / Linux ipfrag_time


def frag(payload: bytes, offset: int, length: int, more: bool, ident: int = 0x77, proto: int = 1,
         options: bytes = b"", dst: bytes = DUT) -> bytes:
    """One fragment frame carrying ``payload[offset:offset + length]``."""
    flags = (0x2000 if more else 0) | offset >> 3
    return eth(ipv4(payload[offset : offset + length], proto=proto, ident=ident, flags_frag=flags, options=options,
                    dst=dst))


def cut(payload: bytes, size: int, ident: int = 0x77, proto: int = 1) -> list[bytes]:
    return [frag(payload, o, size, o + size < len(payload), ident, proto) for o in range(0, len(payload), size)]


def reassemble_out(frames: list[bytes]) -> tuple[bytes, bytes]:
    """What the stack sent, put back together: (first header, payload)."""
    r = Reassembler(VirtualClock(), lambda: TIMEOUT)
    header, result = b"", None
    for f in frames:
        out = parse_out(f)
        ff = int.from_bytes(out.header[6:8], "big")
        if ff & 0x1FFF == 0:
            header = out.header
        result = r.add(out.ident, (ff & 0x1FFF) * 8, out.payload, bool(ff & 0x2000))
    assert isinstance(result, Reassembled), result
    return header, result.payload


def echo_reply_data(bench: IPv4Bench) -> bytes:
    header, payload = reassemble_out(bench.sent())
    assert header[12:16] == DUT and header[16:20] == TESTER and header[9] == 1
    assert payload[0] == 0  # Echo Reply
    return payload[8:]


DATA = bytes(range(256)) * 12  # 3,072 octets: the reply must be fragmented too


def test_fragmented_echo_request_in_order_is_answered() -> None:
    bench = make_bench()
    request = echo_request(data=DATA)
    verdicts = [bench.inject(f) for f in cut(request, 1000)]
    assert verdicts == [None] * 4
    assert echo_reply_data(bench) == DATA
    assert bench.nic_stats.events["ipv4_reassembled"] == 1


def test_fragmented_echo_request_reversed_and_shuffled_is_answered() -> None:
    for seed in (None, 1, 2):
        bench = make_bench()
        frames = cut(echo_request(data=DATA), 512)
        if seed is None:
            frames.reverse()
        else:
            random.Random(seed).shuffle(frames)
        assert all(bench.inject(f) is None for f in frames)
        assert echo_reply_data(bench) == DATA


def test_tiny_8_octet_fragments_are_reassembled() -> None:
    bench = make_bench()
    request = echo_request(data=b"tiny fragments, eight octets each")
    frames = cut(request, 8)
    random.Random(3).shuffle(frames)
    assert all(bench.inject(f) is None for f in frames)
    assert echo_reply_data(bench) == b"tiny fragments, eight octets each"


def test_duplicates_are_dropped_alone_and_answered_once() -> None:
    bench = make_bench()
    frames = cut(echo_request(data=DATA), 1000)
    assert bench.inject(frames[0]) is None
    assert bench.inject(frames[0]) is Drop.FRAGMENT_DUPLICATE
    assert bench.inject(frames[2]) is None
    assert bench.inject(frames[2]) is Drop.FRAGMENT_DUPLICATE
    assert [bench.inject(f) for f in (frames[1], frames[3])] == [None, None]
    assert echo_reply_data(bench) == DATA
    assert bench.inject(frames[3]) is None  # a new datagram starts; it never completes
    assert bench.sent() == []


def test_overlap_discards_the_datagram_silently_including_later_fragments() -> None:
    bench = make_bench()
    request = echo_request(data=bytes(120))  # 128 octets
    assert bench.inject(frag(request, 0, 72, True)) is None
    assert bench.inject(frag(request, 64, 64, False)) is Drop.FRAGMENT_OVERLAP
    # RFC 5722 4 (Linux for IPv4 alike): the rest of the datagram is discarded when it arrives.
    assert bench.inject(frag(request, 72, 56, False)) is Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
    bench.clock.advance(TIMEOUT + 1)
    assert bench.sent() == []  # no reply and no Time Exceeded


def test_missing_last_fragment_times_out_with_time_exceeded_quoting_fragment_zero() -> None:
    bench = make_bench()
    request = echo_request(data=DATA)
    first = frag(request, 0, 1000, True)
    assert bench.inject(first) is None
    assert bench.inject(frag(request, 1000, 1000, True)) is None
    bench.clock.advance(TIMEOUT - 1)
    assert bench.sent() == []
    assert reassemblers(bench.stack)[4].pending_keys()
    bench.clock.advance(1)
    out = parse_out(bench.one())
    assert out.dst == TESTER and out.proto == 1
    assert out.payload[:2] == b"\x0b\x01"  # Time Exceeded, fragment reassembly time exceeded
    quoted = out.payload[8:]
    # RFC 792: "Internet Header + 64 bits of Original Data Datagram" of fragment zero.
    assert quoted[:28] == first[14 : 14 + 28]
    assert bench.nic_stats.events["ipv4_reassembly_timeout"] == 1


def test_missing_first_fragment_times_out_silently() -> None:
    bench = make_bench()
    request = echo_request(data=DATA)
    assert bench.inject(frag(request, 1000, 1000, True)) is None
    assert bench.inject(frag(request, 2000, len(request) - 2000, False)) is None
    bench.clock.advance(TIMEOUT)
    assert bench.sent() == []


def test_set_timer_changes_the_reassembly_timeout() -> None:
    bench = make_bench()
    bench.stack.set_timer("ipv4_reassembly_timeout", 2_000)
    assert bench.inject(frag(echo_request(data=DATA), 0, 1000, True)) is None
    bench.clock.advance(1_999)
    assert bench.sent() == []
    bench.clock.advance(1)
    assert parse_out(bench.one()).payload[:2] == b"\x0b\x01"


def test_ping_of_death_is_never_delivered() -> None:
    bench = make_bench()
    # Offset 65,528 plus 16 octets plus the header: beyond 65,535 (RFC 791 3.1).
    assert bench.inject(frag(bytes(65_600), 65_528, 16, False)) is Drop.IPV4_FRAGMENT_BAD
    assert bench.inject(frag(bytes(65_600), 65_504, 8, True)) is None  # 65,512 + 20 octets: fine alone
    assert bench.sent() == []


def test_zero_payload_fragment_is_dropped() -> None:
    bench = make_bench()
    assert bench.inject(frag(b"", 0, 0, True)) is Drop.FRAGMENT_EMPTY


def test_options_of_a_fragment_are_verified_before_it_is_queued() -> None:
    bench = make_bench()
    bad = bytes([7, 1, 0, 0])  # Record Route with length 1
    assert bench.inject(frag(echo_request(data=DATA), 0, 1000, True, options=bad)) is Drop.IPV4_BAD_OPTIONS
    reassembler = reassemblers(bench.stack)[4]
    assert len(reassembler) == 0


def test_memory_thresholds_come_from_stack_options_and_evict_the_oldest() -> None:
    bench = Bench(ipv6=False, reassembly_high_thresh=20_000, reassembly_low_thresh=10_000, max_fragments_per_datagram=3)
    reassembler = reassemblers(bench.stack)[4]
    for ident in range(40):
        assert bench.inject(frag(bytes(1000), 0, 800, True, ident=ident))[0] is None
        assert reassembler.queued_bytes <= 20_000
    assert reassembler.counters["evicted"] > 0 and 0 not in reassembler.pending_keys()
    assert (TESTER, DUT, 1, 39) in reassembler.pending_keys()
    bench.check_invariants()
    # The per-datagram cap: a fourth fragment discards the datagram.
    for i in range(3):
        assert bench.inject(frag(bytes(64), i * 8, 8, True, ident=999))[0] is None
    assert bench.inject(frag(bytes(64), 24, 8, True, ident=999))[0] is Drop.FRAGMENT_TOO_MANY


def test_reassembled_udp_reaches_the_socket() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    data = random.Random(8).randbytes(5_000)
    frames = cut(udp(1234, 7, data), 1480, proto=17)
    random.Random(9).shuffle(frames)
    assert all(bench.inject(f) is None for f in frames)
    assert sock.recv() == (data, "198.51.100.2", 1234)


def test_udp_send_larger_than_the_mtu_is_fragmented() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    data = random.Random(10).randbytes(4_000)
    sock.sendto(data, "198.51.100.2", 9)
    frames = bench.sent()
    assert len(frames) == 3 and all(len(f) - 14 <= 1500 for f in frames)
    assert all(f[:6] == TESTER_MAC for f in frames)
    idents = {parse_out(f).ident for f in frames}
    assert len(idents) == 1
    header, payload = reassemble_out(frames)
    assert header[9] == 17 and payload[8:] == data
    assert struct.unpack("!HHH", payload[:6]) == (7, 9, 8 + len(data))


def test_route_mtu_limits_fragment_size() -> None:
    bench = make_bench()
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.2", mtu=576)
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(bytes(1_400), "203.0.113.9", 9)
    frames = bench.sent()
    assert len(frames) == 3 and all(len(f) - 14 <= 576 for f in frames)


def test_reassembled_datagram_beyond_65535_with_the_first_fragments_options_is_dropped() -> None:
    bench = make_bench()
    payload = bytes(65_512)  # 65,512 + a 20-octet header = 65,532: every fragment alone is fine
    nop_options = bytes([1, 1, 1, 1]) * 4  # the first fragment's 36-octet header makes it 65,548
    frames = [frag(payload, 0, 1480, True, options=nop_options)]
    frames += [frag(payload, o, 1480, o + 1480 < len(payload)) for o in range(1480, len(payload), 1480)]
    verdicts = [bench.inject(f) for f in frames]
    assert verdicts[:-1] == [None] * (len(frames) - 1)
    assert verdicts[-1] is Drop.FRAGMENT_REASSEMBLED_TOO_LONG
    assert bench.sent() == []


def test_dont_fragment_sets_df_and_refuses_a_datagram_over_the_route_mtu() -> None:
    # The IPEndpoint contract transports use for Path MTU Discovery (RFC 1191 3).
    bench = make_bench()
    route = bench.stack.find_route(TESTER)
    assert route is not None
    assert route.endpoint.write_packet(route, 253, bytes(1480), dont_fragment=True) is None
    out = parse_out(bench.one())
    assert out.header[6:8] == b"\x40\x00"  # DF, offset 0
    assert route.endpoint.write_packet(route, 253, bytes(1481), dont_fragment=True) is Drop.PACKET_TOO_BIG
    assert bench.sent() == [] and bench.stack.stats.tx_drops[Drop.PACKET_TOO_BIG] == 1
    assert route.endpoint.write_packet(route, 253, bytes(1481)) is None  # without: fragmented
    assert len(bench.sent()) == 2
