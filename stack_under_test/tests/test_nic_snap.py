"""RFC 1122 2.3.3: IP received in IEEE 802.3 frames with an RFC 1042 LLC/SNAP header."""

from __future__ import annotations

import struct

from stack_under_test import Drop
from stack_under_test.tests._ipv4_bench import DUT_MAC, TESTER_MAC, echo_request, ipv4, make_bench, parse_out

LLC_SNAP_IP = b"\xaa\xaa\x03\x00\x00\x00\x08\x00"


def _dot3(payload: bytes) -> bytes:
    return DUT_MAC + TESTER_MAC + struct.pack("!H", len(payload)) + payload


def test_echo_request_in_a_snap_frame_is_answered() -> None:
    bench = make_bench()
    assert bench.inject(_dot3(LLC_SNAP_IP + ipv4(echo_request()))) is None
    assert parse_out(bench.one()).payload[0] == 0  # an Echo Reply (sent as Ethernet II)


def test_truncated_or_foreign_802_3_frames_are_dropped() -> None:
    bench = make_bench()
    assert bench.inject(_dot3(LLC_SNAP_IP[:7])) is Drop.ETHERNET_UNKNOWN_ETHERTYPE
    assert bench.inject(_dot3(b"\x06\x06\x03" + ipv4(echo_request()))) is Drop.ETHERNET_UNKNOWN_ETHERTYPE
    assert bench.sent() == []
