"""The TCP header and options (RFC 9293 3.1-3.2, RFC 7323, RFC 2018): parsing, encoding, and the
way malformed options end the option list without ending the segment."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire.tcp import (
    ACK,
    SYN,
    TCPOptions,
    TCPSegment,
    TCPView,
    encode_sack,
    encode_timestamps,
    verify_checksum,
)

SRC, DST = bytes((198, 51, 100, 2)), bytes((198, 51, 100, 1))


def test_options_parse_with_nops_and_end_of_list() -> None:
    raw = bytes([1, 2, 4, 5, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 9, 9, 9])
    opts = TCPOptions.parse(raw)
    assert (opts.mss, opts.window_scale, opts.sack_permitted, opts.timestamps) == (1460, 7, True, (1, 2))
    assert not opts.malformed  # what follows End of Option List is padding, never parsed


def test_unknown_options_are_skipped_by_their_length() -> None:
    """RFC 9293 3.1: "A TCP implementation MUST (MUST-6) ignore without error any TCP Option it does not
    implement, assuming that the option has a length field"."""
    opts = TCPOptions.parse(bytes([30, 6, 1, 2, 3, 4, 2, 4, 1, 0]))
    assert opts.mss == 256 and not opts.malformed


@pytest.mark.parametrize("raw", [bytes([2, 0, 5, 0xB4]), bytes([2, 1]), bytes([8, 40, 0, 0]), bytes([3])],
                         ids=["zero-length", "length-1", "past-the-end", "no-length"])
def test_an_illegal_length_ends_the_options(raw: bytes) -> None:
    """RFC 9293 3.1: "TCP implementations MUST be prepared to handle an illegal option length (e.g.,
    zero)" (MUST-7); like Linux we stop there and keep the segment."""
    opts = TCPOptions.parse(bytes([1, 3, 3, 2]) + raw)
    assert opts.malformed and opts.window_scale == 2


def test_known_option_with_the_wrong_length_is_ignored() -> None:
    opts = TCPOptions.parse(bytes([2, 3, 5, 3, 3, 9]))
    assert opts.mss is None and opts.window_scale == 9 and not opts.malformed


def test_sack_blocks_parse() -> None:
    opts = TCPOptions.parse(encode_sack([(10, 20), (30, 40)]))
    assert opts.sack_blocks == ((10, 20), (30, 40))


def test_syn_options_encode_in_linux_order_and_round_trip() -> None:
    opts = TCPOptions(mss=1460, window_scale=7, sack_permitted=True, timestamps=(100, 0))
    raw = opts.encode()
    assert raw.hex() == "020405b40402080a000000640000000001030307"
    assert TCPOptions.parse(raw) == opts


def test_timestamps_encode_nop_aligned() -> None:
    assert encode_timestamps(1, 2) == bytes([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])


def test_segment_round_trip_and_checksum() -> None:
    seg = TCPSegment(40000, 80, 0xFFFFFFF0, 7, SYN | ACK, 1000, 0, TCPOptions(mss=536), b"hello")
    raw = seg.encode(SRC, DST)
    assert verify_checksum(raw, SRC, DST)
    assert not verify_checksum(raw, DST, bytes((198, 51, 100, 9)))
    assert TCPSegment.parse(raw) == seg
    view = TCPView(raw)
    assert view.check() is None and view.header_len() == 24 and view.seq == 0xFFFFFFF0


def test_odd_length_payload_checksum_pads_with_zero() -> None:
    """RFC 9293 3.1: "If a segment contains an odd number of header and text octets, alignment can be
    achieved by padding the last octet with zeros on its right"."""
    seg = TCPSegment(1, 2, 3, 4, ACK, 5, 0, TCPOptions(), b"abc")
    assert verify_checksum(seg.encode(SRC, DST), SRC, DST)


@pytest.mark.parametrize(("raw", "drop"), [
    (b"\x00" * 10, Drop.TCP_TRUNCATED),
    (bytes(12) + b"\x30" + bytes(7), Drop.TCP_BAD_DATA_OFFSET),
    (bytes(12) + b"\x60" + bytes(7), Drop.TCP_BAD_DATA_OFFSET),
])
def test_parse_returns_a_drop_for_broken_headers(raw: bytes, drop: Drop) -> None:
    assert TCPSegment.parse(raw) is drop
    assert TCPView(raw).check() is drop
