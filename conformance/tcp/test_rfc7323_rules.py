"""RFC 7323's finer rules: the Window Scale offer and its place (only on a SYN), TSecr on a
segment without ACK, which TSval an ACK echoes (Section 4.3), what TS.Recent may become, the
timestamps of a RST (Section 5.2), and the timestamp clock (Sections 4.1, 5.4, 7).

Window scaling and timestamps are optional: a test that needs one skips when the DUT does not
answer the peer's offer."""

from __future__ import annotations

import itertools
from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, TCPConn, rfc
from harness.rfc import TCP_MSL
from harness.tcp_peer import TCPPeer, established, option, seq_add

PORT: Final = 8350
TS: Final = "Timestamp"


def _timestamped(dut: DUT, **peer: object) -> tuple[TCPPeer, TCPConn]:
    tester, conn = established(dut, PORT, timestamps=True, **peer)  # type: ignore[arg-type]
    if not tester.ts_ok:
        pytest.skip("the DUT did not answer the peer's Timestamps option (RFC 7323 timestamps are optional)")
    return tester, conn


def _ts(seg: object, part: int) -> int:
    value = option(seg, TS)  # type: ignore[arg-type]
    assert value is not None, "a segment without the negotiated Timestamps option"
    return int(value[part])


def _with_ts(peer: TCPPeer, tsval: int) -> list[tuple[str, object]]:
    return [("NOP", None), ("NOP", None), (TS, (tsval, peer.ts_recent or 0))]


# ---- Window Scale (Section 2) ---------------------------------------------------------------
@rfc("RFC7323-2.2-2", "RFC7323-2.2-1")
def test_a_dut_that_scales_windows_offers_scaling_in_its_own_syn(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    answered = TCPPeer(dut, dut_port=PORT, wscale=7).connect()
    if option(answered, "WScale") is None:
        pytest.skip("the DUT does not answer a Window Scale option: it is not prepared to scale windows")
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT + 1)
    syn = TCPPeer.for_connection(dut, conn).expect("S")
    assert option(syn, "WScale") is not None, "the DUT scales windows but its SYN offers no Window Scale option"


@rfc("RFC7323-2.2-7")
def test_window_scale_option_after_the_syn_is_ignored(dut: DUT) -> None:
    peer, conn = established(dut, PORT, wscale=2, mss=1000, window=4000)  # field 1000 << 2
    if not peer.ws_ok:
        pytest.skip("the DUT did not agree to window scaling (RFC 7323 window scaling is optional)")
    # A segment repeating the option with shift 0: if the DUT took it, the field 1000 would mean
    # 1000 octets; ignored, it still means 4000.
    peer.send_ack(options=[("NOP", None), ("WScale", 0)], window=4000)
    dut.tcp_send(conn, bytes(8000))
    sent = 0
    while True:
        try:
            seg = peer.expect(data=lambda d: len(d) > 0, within=0.5)
        except AssertionError:
            break
        sent += len(seg[TCP].payload)
    assert sent > 1000, f"only {sent} octets went out: the Window Scale option of a non-SYN segment was used"
    assert sent <= 4000, f"{sent} octets went out into a 4000-octet window"


# ---- Timestamps: TSecr, and which TSval is echoed (Sections 3.2, 4.3) -------------------------
@rfc("RFC7323-3.2-1")
def test_the_duts_syn_carries_tsecr_zero(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    syn = TCPPeer.for_connection(dut, conn).expect("S")
    ts = option(syn, TS)
    if ts is None:
        pytest.skip("the DUT's SYN carries no Timestamps option (RFC 7323 timestamps are optional)")
    assert ts[1] == 0, f"the SYN (no ACK bit) carries TSecr {ts[1]}"


@rfc("RFC7323-3.2-4")
def test_tsecr_of_a_syn_is_ignored(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, timestamps=True, ts_val=5000)
    peer.send("S", seq=peer.iss, options=[("MSS", 1460), ("NOP", None), ("NOP", None), (TS, (5000, 0xDEADBEEF))])
    synack = peer.expect("SA", ack=seq_add(peer.iss, 1))
    ts = option(synack, TS)
    if ts is None:
        pytest.skip("the DUT did not answer the Timestamps option (RFC 7323 timestamps are optional)")
    assert ts[1] == 5000
    peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    peer.send_data(b"the handshake went on")
    assert dut.tcp_recv(conn) == b"the handshake went on"


@rfc("RFC7323-4.3-1")
def test_an_ack_echoes_the_tsval_of_the_earliest_segment_it_acknowledges(dut: DUT) -> None:
    peer, _conn = _timestamped(dut, ts_val=10_000)
    sent = []
    for n in range(4):
        sent.append((peer.snd_nxt, peer.ts_val))
        peer.send_data(b"segment %d" % n)
    acked_to = sent[0][0]
    while acked_to != peer.snd_nxt:
        ack = peer.expect("A", ack=lambda a, below=acked_to: a != below, data=b"", within=1.0)
        earliest = next(ts for start, ts in sent if start == acked_to)
        assert _ts(ack, 1) == earliest, (
            f"an ACK up to {ack[TCP].ack} echoes TSval {_ts(ack, 1)}, not {earliest} of the earliest segment it "
            "acknowledges")
        acked_to = ack[TCP].ack


@rfc("RFC7323-4.3-2")
def test_an_ack_for_data_beyond_a_hole_echoes_the_last_in_order_tsval(dut: DUT) -> None:
    peer, _conn = _timestamped(dut, ts_val=20_000)
    peer.send_data(b"in order")
    in_order_ts = peer.ts_val - 1
    peer.expect("A", ack=peer.snd_nxt)
    hole = peer.snd_nxt
    peer.ts_val += 100
    peer.send_data(b"beyond a hole", seq=seq_add(hole, 10), advance=False)
    dup = peer.expect("A", ack=hole, within=1.0)
    assert _ts(dup, 1) == in_order_ts, (
        f"the ACK of out-of-order data echoes {_ts(dup, 1)}, not {in_order_ts} of the last segment that "
        "advanced RCV.NXT")


@rfc("RFC7323-4.3-3")
def test_the_ack_of_the_segment_filling_a_hole_echoes_its_tsval(dut: DUT) -> None:
    peer, _conn = _timestamped(dut, ts_val=30_000)
    hole = peer.snd_nxt
    peer.ts_val = 30_100
    peer.send_data(b"x" * 10, seq=seq_add(hole, 10), advance=False)
    peer.expect("A", ack=hole, within=1.0)
    peer.ts_val = 30_050  # sent later than the out-of-order segment, but an older TSval
    peer.send_data(b"y" * 10)  # fills the hole
    peer.snd_nxt = seq_add(hole, 20)
    ack = peer.expect("A", ack=peer.snd_nxt, within=1.0)
    assert _ts(ack, 1) == 30_050, f"the ACK after the hole filled echoes {_ts(ack, 1)}, not 30050 of the filling segment"


@rfc("RFC7323-5.2-1")
def test_an_old_tsval_does_not_lower_what_is_echoed(dut: DUT) -> None:
    peer, _conn = _timestamped(dut, ts_val=40_000)
    fresh = peer.ts_val
    peer.send_data(b"fresh")
    assert _ts(peer.expect("A", ack=peer.snd_nxt), 1) == fresh
    peer.send_data(b"stale", options=_with_ts(peer, 30_000), advance=False)  # PAWS drops it
    answer = peer.expect("A", within=1.0)
    assert _ts(answer, 1) == fresh, f"after a segment with TSval 30000 the DUT echoes {_ts(answer, 1)}, not {fresh}"
    peer.ts_val = fresh + 10
    peer.send_data(b"newer")  # positive control: a newer TSval is taken
    assert _ts(peer.expect("A", ack=peer.snd_nxt), 1) == fresh + 10


# ---- RSTs (Section 5.2) ---------------------------------------------------------------------
@rfc("RFC7323-5.2-2", "RFC7323-5.2-3")
def test_rst_for_a_segment_with_timestamps_carries_them(dut: DUT) -> None:
    peer = TCPPeer(dut, dut_port=PORT + 9, timestamps=True, ts_val=777)  # no listener: RST
    peer.send_syn()
    rst = peer.expect("RA", ack=seq_add(peer.iss, 1))
    ts = option(rst, TS)
    assert ts is not None, "the RST answering a SYN with a Timestamps option carries none"
    assert ts[1] == 777 and ts[0] == 0, f"the RST's timestamps are TSval {ts[0]}, TSecr {ts[1]}; want 0 and 777"


@rfc("RFC7323-5.2-4")
def test_rst_of_an_abort_carries_timestamps(dut: DUT) -> None:
    peer, conn = _timestamped(dut)
    dut.tcp_abort(conn)
    rst = peer.expect("Ra", within=1.0)
    assert option(rst, TS) is not None, "the RST of an ABORT on a connection with timestamps carries none"


# ---- the timestamp clock (Sections 4.1, 5.4, 7) ----------------------------------------------
@rfc("RFC7323-4.1-1", "RFC7323-5.4-3")
def test_the_timestamp_clock_follows_real_time(dut: DUT) -> None:
    peer, conn = _timestamped(dut)
    marks = []
    for pause in (0.0, 1.0, 2.0):
        dut.wait(pause)
        dut.tcp_send(conn, b"tick")
        seg = peer.expect(data=b"tick")
        marks.append((seg.time, _ts(seg, 0)))
        peer.send_ack()
    (t0, v0), (t1, v1), (t2, v2) = marks
    rate1, rate2 = (v1 - v0) % 2**32 / (t1 - t0), (v2 - v1) % 2**32 / (t2 - t1)
    assert rate1 > 0 and rate2 > 0, f"the timestamp clock stood still: {marks}"
    assert 0.5 < rate2 / rate1 < 2.0, f"the clock ran at {rate1:.0f} then {rate2:.0f} ticks/s: not proportional to time"
    # Section 5.4: "The recycling time of the timestamp clock MUST be greater than MSL seconds."
    assert 2**32 / max(rate1, rate2) > TCP_MSL, f"at {max(rate1, rate2):.0f} ticks/s the clock recycles within an MSL"


@rfc("RFC7323-7-1", "RFC7323-7.1-1")
def test_each_connection_gets_its_own_timestamp_offset(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    stamps = []
    for _ in range(3):
        synack = TCPPeer(dut, dut_port=PORT, timestamps=True).connect()
        ts = option(synack, TS)
        if ts is None:
            pytest.skip("the DUT did not answer the Timestamps option (RFC 7323 timestamps are optional)")
        stamps.append(int(ts[0]))
    gaps = [abs(((b - a + 2**31) % 2**32) - 2**31) for a, b in itertools.pairwise(stamps)]
    assert min(gaps) > 10_000, (
        f"connections opened within milliseconds got TSvals {stamps}: one clock without a per-connection offset")
