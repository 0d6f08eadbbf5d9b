"""wire/ipv4_options.process(): every option kind, each malformed variant and its pointer (RFC 791
3.1; the octet named follows Linux __ip_options_compile), and the four uses."""

from __future__ import annotations

import pytest

from stack_under_test.wire.ipv4_options import (
    ParamProblem,
    Processed,
    Usage,
    advance_source_route,
    process,
    reverse_source_route,
    source_route_next_hop,
)

US = bytes((198, 51, 100, 1))
OTHER = bytes((203, 0, 113, 9))
STAMP = 0x01020304


def run(opts: bytes, usage: Usage = Usage.RECEIVE, ours: bool = False) -> Processed | ParamProblem:
    return process(opts, usage, US, STAMP, lambda a: ours and a == US)


def rr(length: int = 11, ptr: int = 4, data: bytes | None = None) -> bytes:
    body = bytes(length - 3) if data is None else data
    return bytes((7, length, ptr)) + body


def ts(length: int = 12, ptr: int = 5, flag: int = 0, overflow: int = 0, data: bytes | None = None) -> bytes:
    body = bytes(length - 4) if data is None else data
    return bytes((68, length, ptr, overflow << 4 | flag)) + body


# ---- valid options -------------------------------------------------------------------------------
def test_nop_and_eol_pass_unchanged() -> None:
    result = run(b"\x01\x01\x01\x00")
    assert isinstance(result, Processed) and result.options == b"\x01\x01\x01\x00" and not result.changed


def test_record_route_records_our_address_and_advances_the_pointer() -> None:
    result = run(rr() + b"\x00")
    assert isinstance(result, Processed)
    assert result.options == bytes((7, 11, 8)) + US + bytes(4) + b"\x00" and result.changed


def test_record_route_full_passes_unchanged_without_error() -> None:
    full = rr(7, 8, OTHER)  # pointer 8 > length 7: full
    result = run(full + b"\x00")
    assert isinstance(result, Processed) and result.options == full + b"\x00"


def test_timestamp_flag0_inserts_time_since_midnight() -> None:
    result = run(ts(12, 5, 0))
    assert isinstance(result, Processed)
    assert result.options == bytes((68, 12, 9, 0)) + STAMP.to_bytes(4, "big") + bytes(4)


def test_timestamp_flag1_inserts_address_and_time() -> None:
    result = run(ts(12, 5, 1))
    assert isinstance(result, Processed)
    assert result.options == bytes((68, 12, 13, 1)) + US + STAMP.to_bytes(4, "big")


def test_timestamp_flag3_stamps_only_our_prespecified_address() -> None:
    mine = ts(12, 5, 3, data=US + bytes(4))
    result = run(mine, ours=True)
    assert isinstance(result, Processed)
    assert result.options == bytes((68, 12, 13, 3)) + US + STAMP.to_bytes(4, "big")
    theirs = ts(12, 5, 3, data=OTHER + bytes(4))
    result = run(theirs, ours=True)
    assert isinstance(result, Processed) and result.options == theirs


def test_timestamp_full_increments_the_overflow_counter() -> None:
    result = run(ts(8, 9, 0, overflow=2, data=bytes(4)))
    assert isinstance(result, Processed) and result.options[3] == 3 << 4 | 0


def test_timestamp_flag3_full_is_left_alone() -> None:
    opt = ts(12, 13, 3, overflow=15, data=US + bytes(4))
    result = run(opt)
    assert isinstance(result, Processed) and result.options == opt


def test_unknown_option_is_kept_on_receive_and_forward_and_removed_in_echo() -> None:
    opts = b"\x88\x04\xaa\xbb" + rr(7) + b"\x00"
    for usage in (Usage.RECEIVE, Usage.FORWARD):
        result = run(opts, usage)
        assert isinstance(result, Processed) and result.options[:4] == b"\x88\x04\xaa\xbb"
    echo = run(opts, Usage.ECHO)
    assert isinstance(echo, Processed)
    assert echo.options == bytes((7, 7, 8)) + US + b"\x00"  # only RR, processed, padded


def test_verify_changes_nothing() -> None:
    opts = rr() + b"\x00"
    result = run(opts, Usage.VERIFY)
    assert isinstance(result, Processed) and result.options == opts and not result.changed


def test_source_routes_are_found_and_walked() -> None:
    lsrr = bytes((131, 11, 4)) + OTHER + US + b"\x00"
    result = run(lsrr, Usage.VERIFY)
    assert isinstance(result, Processed) and result.source_route == 0 and not result.strict
    assert source_route_next_hop(lsrr, 0) == OTHER
    moved = advance_source_route(lsrr, 0, US)
    assert moved[2] == 8 and moved[3:7] == US and source_route_next_hop(moved, 0) == US
    done = advance_source_route(moved, 0, US)
    assert source_route_next_hop(done, 0) is None


def test_completed_source_route_reverses_for_a_reply() -> None:
    g1, g2, src = bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2)), bytes((198, 51, 100, 2))
    completed = bytes((131, 11, 12)) + g1 + g2
    first, option = reverse_source_route(completed, 0, src)  # type: ignore[misc]
    assert first == g2 and option == bytes((131, 11, 4)) + g1 + src


# ---- malformed options: the pointer (from the start of the IP header) ------------------------------
@pytest.mark.parametrize(
    ("opts", "pointer"),
    [
        (b"\x07", 20),  # type octet with no length: Linux "if (l < 2) pp_ptr = optptr"
        (b"\x01\x07", 21),
        (b"\x07\x01\x00\x00", 20),  # length < 2: the type octet
        (b"\x07\x09\x04\x00", 20),  # runs past the header: the type octet
        (rr(7) + rr(7) + b"\x00\x00", 27),  # duplicate RR: the second one's type octet
        (ts(8) + ts(8), 28),  # duplicate TS
        (b"\x82\x04\x00\x00\x82\x04\x00\x00", 24),  # a repeated Security option (RFC 791: at most once)
        (bytes((131, 7, 4)) + OTHER + bytes((137, 7, 4)) + OTHER + b"\x00\x00", 27),  # LSRR then SSRR
        (b"\x07\x02\x00\x00", 21),  # RR length < 3: the length octet
        (rr(7, 3) + b"\x00", 22),  # RR pointer < 4: the pointer octet
        (rr(8, 6) + b"", 22),  # RR room for part of an address: the pointer octet
        (b"\x44\x03\x05\x00", 21),  # TS length 3: the length octet
        (ts(8, 4), 22),  # TS pointer < 5
        (ts(10, 9), 22),  # TS flag 0 with a partial slot: the pointer octet
        (ts(12, 9, 1), 22),  # TS flag 1 without room for address+time
        (ts(8, 9, 0, overflow=15), 23),  # TS full and the overflow counter full: the flags octet
        (ts(8, 5, 2), 23),  # TS flag 2 is undefined: the flags octet
        (bytes((131, 2)) + b"\x00\x00", 21),  # LSRR length < 3
        (bytes((137, 7, 3)) + OTHER + b"\x00", 22),  # SSRR pointer < 4
        (b"\x94\x02\x00\x00", 21),  # Router Alert length < 4 (Linux)
        (bytes((131, 6, 4)) + bytes(3) + b"\x00\x00", 22),  # LSRR with room for part of an address
    ],
    ids=[
        "type-at-end", "no-length-after-nop", "length-1", "past-header", "rr-twice", "ts-twice", "security-twice",
        "two-source-routes", "rr-length-2", "rr-pointer-3", "rr-partial-slot", "ts-length-3",
        "ts-pointer-4", "ts-partial-slot", "ts1-partial-pair", "ts-overflow-15", "ts-flag-2", "lsrr-length-2",
        "ssrr-pointer-3", "ra-length-2", "lsrr-partial-slot",
    ],
)
def test_malformed_option_names_the_offending_octet(opts: bytes, pointer: int) -> None:
    for usage in Usage:
        assert run(opts, usage) == ParamProblem(pointer)


def test_repeated_stream_identifier_is_ignored() -> None:
    # RFC 1122 3.2.1.8 (b): "it MUST be silently ignored if received", repeated or not.
    opts = b"\x88\x04\x00\x00\x88\x04\x00\x00"
    for usage in Usage:
        assert isinstance(run(opts, usage), Processed)
