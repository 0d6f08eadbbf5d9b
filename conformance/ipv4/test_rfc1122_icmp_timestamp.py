"""Timestamps (RFC 792, RFC 1122 §3.2.2.8 and §3.2.1.8 (e), RFC 791 §3.1): the ICMP Timestamp
server, which a host MAY implement (its tests run on DUTs declaring ``icmp-timestamp``; on the
others they are reported "not implemented"), and the values a host puts in Timestamp options.

RFC 1122 3.2.2.8: the preferred value is "milliseconds since midnight Universal Time"; a value
with the high-order bit set is a non-standard one (RFC 791), to which the rules for a "standard
value" do not apply. Universal Time is read from this machine's clock, the DUT's reference.
"""

from __future__ import annotations

import time
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet
from scapy.utils import checksum

from harness import DUT, MUST, ExpectationFailed, described, echo4, rfc, with_ipv4_options
from harness.features import optional_feature, require_feature

MS_PER_DAY: Final = 86_400_000
NON_STANDARD: Final = 0x8000_0000  # RFC 791: the high-order bit marks a non-standard timestamp
FEW_MINUTES_MS: Final = 3 * 60_000  # RFC 1122 3.2.2.8 (b): "correct within a few minutes"
SECOND_ADDRESS: Final = "198.51.100.5"
HOP: Final = "198.51.100.10"
HOP_MAC: Final = "02:00:00:00:00:10"
NOP, RR, TS, LSRR = 1, 7, 68, 131
PORT: Final = 5050


def _ut_ms() -> int:
    """Now, in milliseconds since midnight UT, by this machine's clock."""
    return time.time_ns() // 1_000_000 % MS_PER_DAY


def _request(dut: DUT, ident: int, **ip: object) -> Packet:
    return dut.ipv4(**ip) / ICMP(type=13, id=ident, seq=1, ts_ori=_ut_ms(), ts_rx=0, ts_tx=0)


def _reply(dut: DUT, ident: int) -> Packet:
    """The DUT's Timestamp Reply to request ``ident`` (its tests run only on a DUT declaring a
    Timestamp server, so none is a failure)."""
    return dut.expect(ICMP(type=14, id=ident), within=2.0)


def _standard(value: int) -> int:
    if value & NON_STANDARD:
        pytest.skip(f"the DUT's timestamps are non-standard values (0x{value:08x}, high-order bit set), "
                    "to which the rules for a standard value do not apply")
    return value


def _off_by(value: int, reference: int) -> int:
    """How far a time of day is from another, across midnight."""
    d = abs(value - reference) % MS_PER_DAY
    return min(d, MS_PER_DAY - d)


@optional_feature("icmp-timestamp")
@described(792, "Timestamp or Timestamp Reply Message", MUST,
           "The data received (a timestamp) in the message is returned in the reply together with an additional "
           "timestamp.")
def test_timestamp_reply_returns_the_request_with_code_zero_and_a_valid_checksum(dut: DUT) -> None:
    request = _request(dut, 0xC31)
    dut.send(request)
    reply = _reply(dut, 0xC31)
    ip, icmp = reply[IP], reply[ICMP]
    # RFC 792: "Code 0"; the type changed to 14 "and the checksum recomputed".
    assert icmp.code == 0, f"Timestamp Reply with code {icmp.code}"
    assert (icmp.seq, icmp.ts_ori) == (1, request[ICMP].ts_ori), (
        f"sequence {icmp.seq} and originate timestamp {icmp.ts_ori} not returned ({request[ICMP].ts_ori} sent)")
    message = bytes(ip)[ip.ihl * 4 : ip.len]
    assert len(message) == 20 and checksum(message) == 0, f"checksum 0x{icmp.chksum:04x} does not verify"


@optional_feature("icmp-timestamp")
@rfc("RFC1122-3.2.2.8-5", "RFC1122-3.2.2.8-2")
def test_timestamp_reply_comes_from_the_request_destination(dut: DUT) -> None:
    dut.add_address(f"{SECOND_ADDRESS}/24")
    for n, dst in enumerate((SECOND_ADDRESS, str(dut.info.dut_ipv4.ip))):
        dut.send(_request(dut, 0xC01 + n, dst=dst))
        reply = _reply(dut, 0xC01 + n)
        assert reply[IP].src == dst, f"the Timestamp Reply to a request for {dst} came from {reply[IP].src}"


@optional_feature("icmp-timestamp")
@rfc("RFC1122-3.2.2.8-6")
def test_timestamp_reply_reverses_a_source_route(dut: DUT) -> None:
    dut.set_accept_source_route(True)
    route = bytes((LSRR, 7, 8)) + bytes(int(o) for o in HOP.split("."))  # came through HOP: {HOP >>}
    dut.send(with_ipv4_options(_request(dut, 0xC03), route + bytes((NOP,))))
    try:
        dut.expect(ARP(op=1, pdst=HOP), within=2.0)
    except ExpectationFailed:
        _reply(dut, 0xC03)  # a reply after all: it went straight back, the route was not used
        raise
    dut.send(Ether(src=HOP_MAC, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=HOP_MAC, psrc=HOP, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
    reply = _reply(dut, 0xC03)
    assert reply[IP].dst == HOP, f"the reply went to {reply[IP].dst}, not to the first hop back, {HOP}"
    options = bytes(reply[IP])[20 : reply[IP].ihl * 4]
    expected = bytes((LSRR, 7, 4)) + dut.info.tester_ipv4.packed
    assert expected in options, f"the reply's options {options.hex()} lack the reversed route {expected.hex()}"


@optional_feature("icmp-timestamp")
@rfc("RFC1122-3.2.2.8-7")
def test_timestamp_reply_carries_updated_record_route_and_timestamp(dut: DUT) -> None:
    options = bytes((RR, 7, 4)) + bytes(4) + bytes((TS, 8, 5, 0)) + bytes(4) + bytes((NOP,))
    dut.send(with_ipv4_options(_request(dut, 0xC04), options))
    reply = _reply(dut, 0xC04)
    got = bytes(reply[IP])[20 : reply[IP].ihl * 4]
    rr, ts = got.find(bytes((RR, 7))), got.find(bytes((TS, 8)))
    assert rr >= 0 and got[rr + 2] == 8 and got[rr + 3 : rr + 7] == dut.info.dut_ipv4.ip.packed, (
        f"the reply's Record Route does not hold the DUT's address: {got.hex()}")
    assert ts >= 0 and got[ts + 2] == 9, f"the reply's Timestamp option holds no timestamp of the DUT: {got.hex()}"


@optional_feature("icmp-timestamp")
@rfc("RFC1122-3.2.2.8-9")
def test_standard_value_is_updated_at_least_15_times_a_second(dut: DUT) -> None:
    # Requests 100 ms apart (by the DUT's clock): a value updated 15 times a second or more
    # changes between any two of them, and advances by about 100 ms (six bits, 64 ms, undefined).
    # Time elapsed at the DUT is measured by when its replies left (their arrival times at the
    # tester), not when the tester meant to send: a loaded tester can send one late.
    values, answered_at = [], []
    for n in range(5):
        if n:
            dut.wait(0.1)
        dut.send(_request(dut, 0xC10 + n))
        reply = _reply(dut, 0xC10 + n)
        values.append(_standard(reply[ICMP].ts_rx))
        answered_at.append(float(reply.time))
    for n in range(1, len(values)):
        step = (values[n] - values[n - 1]) % MS_PER_DAY
        elapsed = round((answered_at[n] - answered_at[n - 1]) * 1000)
        assert step > 0, f"the receive timestamp did not change in {elapsed} ms: {values}"
        assert abs(step - elapsed) <= 64 + 50, f"the timestamp moved {step} ms in {elapsed} ms: {values}"


@optional_feature("icmp-timestamp")
@rfc("RFC1122-3.2.2.8-10")
def test_standard_value_is_within_a_few_minutes_of_universal_time(dut: DUT) -> None:
    dut.send(_request(dut, 0xC20))
    reply = _reply(dut, 0xC20)
    for name in ("ts_rx", "ts_tx"):
        value = _standard(getattr(reply[ICMP], name))
        assert _off_by(value, _ut_ms()) <= FEW_MINUTES_MS, (
            f"{name} {value} ms is {_off_by(value, _ut_ms()) / 60_000:.1f} minutes from Universal Time")


@rfc("RFC1122-3.2.1.8-13")
def test_timestamp_option_value_follows_the_rules_for_timestamps(dut: DUT) -> None:
    # RFC 1122 3.2.1.8 (e): "Implementation of originating and processing the Timestamp option is OPTIONAL."
    require_feature(dut, "ipv4-timestamp")
    dut.send(with_ipv4_options(echo4(dut, 0xC30), bytes((TS, 8, 5, 0)) + bytes(4)))
    reply = dut.expect(ICMP(type=0, id=0xC30))
    options = bytes(reply[IP])[20 : reply[IP].ihl * 4]
    at = options.find(bytes((TS, 8)))
    assert at >= 0 and options[at + 2] == 9, f"the echo reply carries no timestamp of the DUT: {options.hex()}"
    value = int.from_bytes(options[at + 4 : at + 8], "big")
    if value & NON_STANDARD:
        return  # RFC 791: a non-standard value, flagged as such, is allowed
    assert value < MS_PER_DAY, f"timestamp {value} is more milliseconds than a day has"
    assert _off_by(value, _ut_ms()) <= FEW_MINUTES_MS, f"timestamp {value} is not within minutes of Universal Time"


# ---- Timestamp options the DUT originates ----------------------------------------------------------

def _sent_timestamp(dut: DUT, option: bytes) -> bytes:
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, b"timestamped", str(dut.info.tester_ipv4), 40050, options=option)
    sent = dut.expect(IP(dst=str(dut.info.tester_ipv4)), UDP(sport=PORT))
    got = bytes(sent[IP])[20 : sent[IP].ihl * 4]
    assert got[:2] == option[:2], f"the datagram's options {got.hex()} are not the Timestamp option asked for"
    return got[: option[1]]


@rfc("RFC1122-3.2.1.8-11", "RFC791-3.1-27", "RFC791-3.1-28")
def test_originating_host_records_its_timestamp(dut: DUT) -> None:
    sent = _sent_timestamp(dut, bytes((TS, 16, 5, 0)) + bytes(12))  # timestamps only, three slots
    assert sent[2] == 9, f"the originating host recorded no timestamp (pointer {sent[2]}): {sent.hex()}"
    # The rest of the area stays as composed: zero.
    assert set(sent[8:]) <= {0}, f"the unused timestamp data area is {sent[8:].hex()}, not zero"


@rfc("RFC1122-3.2.1.8-11", "RFC791-3.1-28",
     quote="whose first pre-specified address is the host's interface address.")
def test_originating_host_records_its_timestamp_where_prespecified(dut: DUT) -> None:
    me, tester = dut.info.dut_ipv4.ip.packed, dut.info.tester_ipv4.packed
    # Flag 3, prespecified: the DUT's address first, then the tester's, each with a zero stamp.
    sent = _sent_timestamp(dut, bytes((TS, 20, 5, 3)) + me + bytes(4) + tester + bytes(4))
    assert sent[2] == 13, f"the originating host recorded no timestamp beside its address: {sent.hex()}"
    assert sent[4:8] == me and sent[12:16] == tester and sent[16:20] == bytes(4), f"the pairs changed: {sent.hex()}"
