"""RFC 791 §3.1 options, RFC 1122 §3.2.1.8 and §3.2.2.6: well-formed options are processed
(an Echo Reply carries Record Route / Timestamp with the DUT's entry added), unknown options
are ignored, and source-routed datagrams are dropped unless the DUT is configured to take them.

Record Route and Timestamp are OPTIONAL for a host (RFC 1122 3.2.1.8 (d), (e)): their tests run
on DUTs that declare "ipv4-record-route" / "ipv4-timestamp" (``harness.features``); every DUT
must answer an echo carrying either, ignoring what it does not implement.

Options are written byte by byte (Scapy's option classes fill in lengths and pointers), so
each test says exactly which octets it sends.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.packet import Packet

from harness import DUT, MUST, described, echo4, rfc, with_ipv4_options
from harness.features import require_feature

SILENCE_S: Final = 1.0
EOL, NOP, RR, TS, LSRR, SSRR = 0, 1, 7, 68, 131, 137
TS_ONLY, TS_AND_ADDR, TS_PRESPEC = 0, 1, 3


def option_of(pkt: Packet, kind: int) -> bytes | None:
    """The first option of type ``kind`` in the IP header of ``pkt`` (type..end), or None."""
    ip = bytes(pkt[IP])
    opts, i = ip[20 : (ip[0] & 0x0F) * 4], 0
    while i < len(opts):
        if opts[i] == EOL:
            return None
        if opts[i] == NOP:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            return None
        if opts[i] == kind:
            return opts[i : i + opts[i + 1]]
        i += opts[i + 1]
    return None


def _addresses(data: bytes) -> list[str]:
    return [str(IPv4Address(data[i : i + 4])) for i in range(0, len(data) - 3, 4)]
DATA: Final = b"stackcheck options"


def _record_route(slots: int, pointer: int = 4, filled: bytes = b"") -> bytes:
    length = 3 + 4 * slots
    return bytes([RR, length, pointer]) + filled + bytes(length - 3 - len(filled))


def _timestamp(length: int, pointer: int, flag: int, overflow: int = 0, data: bytes = b"") -> bytes:
    return bytes([TS, length, pointer, (overflow << 4) | flag]) + data + bytes(length - 4 - len(data))


# ---- Record Route ------------------------------------------------------------------------------
@rfc("RFC1122-3.2.2.6-8")
def test_echo_reply_carries_record_route_with_the_dut_address(dut: DUT) -> None:
    require_feature(dut, "ipv4-record-route")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (d)
    dut.send(with_ipv4_options(echo4(dut, 0xA01, DATA), _record_route(slots=4)))
    reply = dut.expect(ICMP(type=0, id=0xA01))
    rr = option_of(reply, RR)
    assert rr is not None, "the Echo Reply carries no Record Route option"
    assert rr[1] == 3 + 16, f"the option's length changed from 19 to {rr[1]}"
    assert rr[2] > 4, f"nothing was recorded (pointer {rr[2]})"
    recorded = _addresses(rr[3 : rr[2] - 1])
    assert str(dut.info.dut_ipv4.ip) in recorded, f"recorded {recorded}, not the DUT's address"


@pytest.mark.parametrize("slots", [1, 0], ids=["one-slot", "no-slot"])
@described(791, "3.1", MUST,
           "If the route data area is already full (the pointer exceeds the length) the datagram is "
           "forwarded without inserting the address into the recorded route.")
def test_full_record_route_is_accepted_unchanged(dut: DUT, slots: int) -> None:
    require_feature(dut, "ipv4-record-route")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (d)
    # "no-slot": length 3, pointer 4: a route data area of no octets is full from the start.
    hop = IPv4Address("203.0.113.7").packed[: 4 * slots]
    full = _record_route(slots=slots, pointer=4 + 4 * slots, filled=hop)
    dut.send(with_ipv4_options(echo4(dut, 0xA02, DATA), full + bytes([NOP]) * (-len(full) % 4)))
    reply = dut.expect(ICMP(type=0, id=0xA02))
    rr = option_of(reply, RR)
    assert rr is None or rr == full, f"the full Record Route {full.hex()} came back as {rr.hex() if rr else ''}"
    dut.expect_none(ICMP(type=12), within=0)


# ---- Timestamp -----------------------------------------------------------------------------
@rfc("RFC1122-3.2.1.8-12")
def test_echo_reply_carries_timestamp_only_entry(dut: DUT) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    dut.send(with_ipv4_options(echo4(dut, 0xA11, DATA), _timestamp(length=12, pointer=5, flag=TS_ONLY)))
    reply = dut.expect(ICMP(type=0, id=0xA11))
    ts = option_of(reply, TS)
    assert ts is not None, "the Echo Reply carries no Timestamp option"
    assert ts[3] & 0x0F == TS_ONLY
    assert ts[2] >= 9, f"no timestamp was added (pointer {ts[2]})"


@described(791, "3.1", MUST,
           "1 -- each timestamp is preceded with internet address of the registering entity,")
def test_echo_reply_carries_address_and_timestamp_entry(dut: DUT) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    dut.send(with_ipv4_options(echo4(dut, 0xA12, DATA), _timestamp(length=20, pointer=5, flag=TS_AND_ADDR)))
    reply = dut.expect(ICMP(type=0, id=0xA12))
    ts = option_of(reply, TS)
    assert ts is not None, "the Echo Reply carries no Timestamp option"
    assert ts[2] >= 13, f"no address/timestamp pair was added (pointer {ts[2]})"
    # "points to the octet beginning the space for next timestamp": pairs are 8 octets from octet 5.
    assert (ts[2] - 5) % 8 == 0, f"pointer {ts[2]} is not at the start of an address/timestamp pair"
    registered = [str(IPv4Address(ts[i : i + 4])) for i in range(4, ts[2] - 1, 8)]
    assert str(dut.info.dut_ipv4.ip) in registered, f"registered {registered}, not the DUT's address"


@described(791, "3.1", MUST,
           "3 -- the internet address fields are prespecified. An IP module only registers its timestamp if "
           "it matches its own address with the next specified internet address.")
def test_prespecified_timestamp_is_registered_for_the_dut_address(dut: DUT) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    data = dut.info.dut_ipv4.ip.packed + bytes(4)
    dut.send(with_ipv4_options(echo4(dut, 0xA13, DATA), _timestamp(length=12, pointer=5, flag=TS_PRESPEC, data=data)))
    reply = dut.expect(ICMP(type=0, id=0xA13))
    ts = option_of(reply, TS)
    assert ts is not None, "the Echo Reply carries no Timestamp option"
    assert ts[2] >= 13, f"the DUT registered no timestamp for its own address (pointer {ts[2]})"
    # "The Pointer is the number of octets from the beginning of this option to the end of
    # timestamps plus one": the one pair registered, it is 13, past the 12-octet option.
    assert ts[2] == 13, f"pointer {ts[2]} after the one address/timestamp pair, not 13"
    assert ts[4:8] == dut.info.dut_ipv4.ip.packed, f"the prespecified address changed to {ts[4:8].hex()}"


@described(791, "3.1", MUST,
           "3 -- the internet address fields are prespecified. An IP module only registers its timestamp if "
           "it matches its own address with the next specified internet address.")
def test_prespecified_timestamp_for_another_address_is_left_alone(dut: DUT) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    data = IPv4Address("203.0.113.9").packed + bytes(4)
    dut.send(with_ipv4_options(echo4(dut, 0xA14, DATA), _timestamp(length=12, pointer=5, flag=TS_PRESPEC, data=data)))
    reply = dut.expect(ICMP(type=0, id=0xA14))
    ts = option_of(reply, TS)
    if ts is not None:
        assert ts[2] == 5, f"the DUT registered a timestamp for 203.0.113.9 (pointer {ts[2]})"
        assert ts[8:12] == bytes(4), "a timestamp was written for another host's address"


@described(791, "3.1", MUST,
           "If the timestamp data area is already full (the pointer exceeds the length) the datagram is "
           "forwarded without inserting the timestamp, but the overflow count is incremented by one.")
@pytest.mark.parametrize("slots", [1, 0], ids=["one-slot", "no-slot"])
def test_full_timestamp_increments_the_overflow_count(dut: DUT, slots: int) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    # "no-slot": length 4, pointer 5: a data area of no octets is full from the start.
    data = b"\x00\x00\x00\x2a"[: 4 * slots]
    full = _timestamp(length=4 + 4 * slots, pointer=5 + 4 * slots, flag=TS_ONLY, overflow=2, data=data)
    dut.send(with_ipv4_options(echo4(dut, 0xA15, DATA), full))
    reply = dut.expect(ICMP(type=0, id=0xA15))
    ts = option_of(reply, TS)
    assert ts is not None, "the Echo Reply carries no Timestamp option"
    assert ts[3] >> 4 == 3, f"overflow count {ts[3] >> 4}, expected 2 + 1"
    assert ts[1:3] == full[1:3], f"length and pointer {ts[1]}, {ts[2]} changed from {full[1]}, {full[2]}"
    assert ts[4:] == data, "a timestamp was written into the full data area"


# ---- options in general ----------------------------------------------------------------------
@pytest.mark.parametrize("option", [bytes([30, 4, 0xAB, 0xCD]), bytes([30, 2, NOP, NOP])], ids=["length-4", "length-2"])
@pytest.mark.parametrize("copies", [1, 2], ids=["once", "twice"])
@rfc("RFC1122-3.2.1.8-3", "RFC791-3.2-22")
def test_unknown_option_is_ignored(dut: DUT, copies: int, option: bytes) -> None:
    # Type 30 (not copied, class 0, number 30): assigned to nothing any host implements. RFC 791's
    # "Appears at most once in a datagram" is said of the options it defines, not of this one.
    # "length-2": no data, the option-length octet counting just the type and length octets.
    ident = 0xA20 + copies
    dut.send(with_ipv4_options(echo4(dut, ident, DATA), option * copies))
    dut.expect(ICMP(type=0, id=ident))
    dut.expect_none(ICMP(type=12), within=0)


@rfc("RFC791-3.1-13")
def test_no_operation_and_end_of_option_list_are_accepted(dut: DUT) -> None:
    require_feature(dut, "ipv4-timestamp")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (e)
    options = bytes([NOP, NOP, NOP]) + _timestamp(length=12, pointer=5, flag=TS_ONLY) + bytes([EOL])
    dut.send(with_ipv4_options(echo4(dut, 0xA22, DATA), options))
    reply = dut.expect(ICMP(type=0, id=0xA22))
    ts = option_of(reply, TS)
    assert ts is not None and ts[2] >= 9, "the Timestamp option after the NOPs was not processed"


@rfc("RFC1122-3.2.1.8-2")
def test_record_route_and_timestamp_together_are_both_processed(dut: DUT) -> None:
    require_feature(dut, "ipv4-record-route", "ipv4-timestamp")  # both OPTIONAL: RFC 1122 3.2.1.8
    options = _record_route(slots=2) + bytes([NOP]) + _timestamp(length=12, pointer=5, flag=TS_ONLY)
    dut.send(with_ipv4_options(echo4(dut, 0xA23, DATA), options))
    reply = dut.expect(ICMP(type=0, id=0xA23))
    rr, ts = option_of(reply, RR), option_of(reply, TS)
    assert rr is not None and rr[2] > 4, "the Record Route option was not processed"
    assert ts is not None and ts[2] > 5, "the Timestamp option was not processed"


@pytest.mark.parametrize("option", ["record-route", "timestamp"])
@rfc("RFC1122-3.2.1.8-3")
def test_record_route_or_timestamp_is_processed_or_silently_ignored(dut: DUT, option: str) -> None:
    # Every host: one that implements the option (OPTIONAL, RFC 1122 3.2.1.8 (d), (e)) answers with
    # it updated (the tests above), one that does not ignores it -- the echo is answered either way
    # and neither may answer a well-formed option with a Parameter Problem.
    sent = _record_route(slots=2) if option == "record-route" else _timestamp(length=12, pointer=5, flag=TS_ONLY)
    dut.send(with_ipv4_options(echo4(dut, 0xA24, DATA), sent))
    dut.expect(ICMP(type=0, id=0xA24))
    dut.expect_none(ICMP(type=12), within=0)


# ---- source routes ---------------------------------------------------------------------------
@pytest.mark.parametrize("completed", [False, True], ids=["route-ahead", "route-completed"])
@pytest.mark.parametrize("kind", [LSRR, SSRR], ids=["lsrr", "ssrr"])
@rfc("RFC7126-4.3.5-1")
def test_source_routed_datagram_is_dropped_by_default(dut: DUT, kind: int, completed: bool) -> None:
    # "route-ahead": the next hop (another host) would come after the DUT. "route-completed": the
    # tester was the one hop, the DUT is the final destination; the option is there all the same.
    if completed:
        route = bytes([kind, 7, 8]) + dut.info.tester_ipv4.packed
    else:
        route = bytes([kind, 7, 4]) + dut.info.other_ipv4.packed
    dut.set_accept_source_route(False)
    dut.send(with_ipv4_options(echo4(dut, 0xA31, DATA), route))
    dut.expect_none(ICMP(id=0xA31), within=SILENCE_S, barrier=True)
    dut.send(echo4(dut, 0xA32, DATA))  # control: the same echo without the option is answered
    dut.expect(ICMP(type=0, id=0xA32))


@pytest.mark.parametrize("hops", [1, 0], ids=["one-hop", "no-hop"])
@rfc("RFC1122-3.2.1.8-5")
def test_completed_source_route_is_delivered_when_accepted(dut: DUT, hops: int) -> None:
    dut.set_accept_source_route(True)
    # Completed loose route (pointer beyond the route data): the tester's own address was the
    # one hop recorded, so the DUT is the final destination. "no-hop": length 3, pointer 4, a
    # route of no addresses (RFC 791: "If the pointer is greater than the length, the source
    # route is empty").
    route = bytes([LSRR, 3 + 4 * hops, 4 + 4 * hops]) + dut.info.tester_ipv4.packed[: 4 * hops]
    dut.send(with_ipv4_options(echo4(dut, 0xA33, DATA), route + bytes([NOP]) * (-len(route) % 4)))
    dut.expect(ICMP(type=0, id=0xA33))
    dut.expect_none(ICMP(type=12), within=0)
