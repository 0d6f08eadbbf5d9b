"""RFC 7323 sections 3-5: the Timestamps option (negotiated in the SYNs, then on every segment,
TSecr echoing the peer's TSval) and PAWS, which drops segments carrying an old TSval.
Timestamps are optional: a DUT that never answers the option skips what needs it."""

from __future__ import annotations

import itertools
from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, MUST, TCPConn, described, rfc
from harness.tcp_peer import TCPPeer, established, option

PORT: Final = 8300


def _negotiated(dut: DUT, **peer: object) -> tuple[TCPPeer, TCPConn]:
    tester, conn = established(dut, PORT, timestamps=True, **peer)  # type: ignore[arg-type]
    if not tester.ts_ok:
        pytest.skip("the DUT did not answer the peer's Timestamps option (RFC 7323 timestamps are optional)")
    return tester, conn


def _opened_by_dut(dut: DUT, behind: int = 1000) -> tuple[TCPPeer, TCPConn]:
    """A connection the DUT opened with timestamps; the peer's TSval clock starts ``behind`` ticks
    below the DUT's (where it starts is the peer's choice)."""
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    tester = TCPPeer.for_connection(dut, conn, timestamps=True)
    ts = option(tester.expect("S"), "Timestamp")
    if ts is None:
        pytest.skip("the DUT's SYN carries no Timestamps option (RFC 7323 timestamps are optional)")
    tester.ts_val = (int(ts[0]) - behind) % 2**32
    tester.send("SA", seq=tester.iss)
    tester.expect("A", ack=tester.snd_nxt)
    return tester, conn


@rfc("RFC7323-3.2-5")
def test_syn_ack_carries_no_timestamps_unless_offered(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    synack = TCPPeer(dut, dut_port=PORT).connect()
    assert option(synack, "Timestamp") is None


@rfc("RFC7323-3.2-2")
def test_syn_ack_echoes_the_syns_tsval(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, timestamps=True, ts_val=123_456)
    synack = peer.connect()
    ts = option(synack, "Timestamp")
    if ts is None:
        pytest.skip("the DUT did not answer the Timestamps option (RFC 7323 timestamps are optional)")
    assert ts[1] == 123_456, f"the SYN-ACK's TSecr is {ts[1]}, not the SYN's TSval 123456"


@rfc("RFC7323-3.2-6")
def test_every_segment_carries_timestamps_once_negotiated(dut: DUT) -> None:
    peer, conn = _negotiated(dut)
    peer.send_data(b"data")
    ack = peer.expect("A", ack=peer.snd_nxt)
    dut.tcp_send(conn, b"reply")
    data = peer.expect(data=b"reply")
    # Acknowledged, so the FIN does not wait behind it: had the DUT's retransmission timer run
    # out first (a loaded tester), its congestion window would be the one segment of the
    # retransmission (RFC 5681 3.1) until an ACK came.
    peer.send_ack()
    dut.tcp_shutdown(conn)
    fin = peer.expect("FA")
    for seg in (ack, data, fin):
        assert option(seg, "Timestamp") is not None, f"a segment ({seg.sprintf('%TCP.flags%')}) without TSopt"


@rfc("RFC7323-3.2-2")
def test_ack_echoes_the_tsval_of_the_data_it_acknowledges(dut: DUT) -> None:
    peer, _conn = _negotiated(dut)
    sent_ts = peer.ts_val
    peer.send_data(b"timestamped")
    ack = peer.expect("A", ack=peer.snd_nxt)
    assert option(ack, "Timestamp")[1] == sent_ts


@rfc("RFC7323-5.3-2", "RFC7323-5.3-1",
     quote="If there is a Timestamps option in the arriving segment, SEG.TSval < TS.Recent, TS.Recent is "
           "valid (see later discussion), and if the RST bit is not set, then treat the arriving segment as "
           "not acceptable: Send an acknowledgment in reply as specified in Section 3.9 of [RFC0793], page "
           "69, and drop the segment.")
@pytest.mark.parametrize(("opener", "older"), [("peer", 100_001), ("peer", 2**31 - 1), ("dut", 100_001)],
                         ids=["older", "oldest-by-5.2", "older/dut-opened"])
def test_segment_with_an_old_tsval_is_acknowledged_and_dropped(dut: DUT, opener: str, older: int) -> None:
    peer, conn = _negotiated(dut, ts_val=1_000_000) if opener == "peer" else _opened_by_dut(dut)
    fresh = peer.ts_val
    peer.send_data(b"fresh")
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"fresh"
    # Older than TS.Recent (the TSval of "fresh"): by 2^31 - 1 still "s < t" in RFC 7323 5.2's arithmetic.
    peer.ts_val = (fresh - older) % 2**32
    peer.send_data(b"stale", advance=False)
    peer.expect("A", ack=peer.snd_nxt, data=b"")
    peer.ts_val = (fresh + 1) % 2**32
    peer.send_data(b"current")  # positive control at the same sequence number
    assert dut.tcp_recv(conn) == b"current"


@described(7323, "4.1", MUST,
           "The difference between a received TSecr value and the current timestamp clock value provides an "
           "RTT measurement.")
def test_the_rtt_is_measured_from_the_echoed_timestamp(dut: DUT) -> None:
    # The peer's own TSval clock runs 100,000 ticks behind the DUT's: an RTT taken from the
    # peer's TSval instead of the TSecr it echoes would be about 100 s (at 1 ms per tick).
    peer, conn = _opened_by_dut(dut, behind=100_000)
    dut.tcp_send(conn, b"timed")
    peer.expect(data=b"timed")
    peer.send_ack()  # at once: a round trip of milliseconds
    dut.tcp_send(conn, b"then lost")
    data = peer.expect(data=b"then lost")
    again = peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=5.0, update=False)
    # RFC 6298 2.2-2.4: round trips of milliseconds give an RTO of 1 s (Linux: 200 ms plus the RTT).
    assert again.time - data.time < 3.0, f"the lost data came again after {again.time - data.time:.2f} s"


@described(7323, "5.2", MUST,
           "If s and t are timestamp values, s < t if 0 < (t - s) < 2^31, computed in unsigned 32-bit "
           "arithmetic.")
@pytest.mark.parametrize("later", [0x200, 2**31], ids=["past-the-wrap", "half-way"])
def test_tsval_comparison_wraps_around(dut: DUT, later: int) -> None:
    peer, conn = _negotiated(dut, ts_val=0xFFFF_FF00)
    peer.send_data(b"before the wrap")
    assert dut.tcp_recv(conn) == b"before the wrap"
    # After TS.Recent (the TSval of "before the wrap") modulo 2^32; "half-way": the difference is
    # 2^31, so SEG.TSval < TS.Recent does not hold either.
    peer.ts_val = (peer.ts_val - 1 + later) % 2**32
    peer.send_data(b"after the wrap")
    assert dut.tcp_recv(conn) == b"after the wrap"


@rfc("RFC7323-5.2-5",
     quote="When an <RST> segment is received, it MUST NOT be subjected to the PAWS check by verifying an "
           "acceptable value in SEG.TSval")
def test_rst_with_an_old_tsval_still_resets(dut: DUT) -> None:
    peer, conn = _negotiated(dut, ts_val=5_000_000)
    peer.ts_val = 1
    peer.send("R", options=[("NOP", None), ("NOP", None), ("Timestamp", (1, peer.ts_recent or 0))], advance=False)
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"


@rfc("RFC7323-3.2-9")
def test_segment_without_timestamps_does_not_abort_the_connection(dut: DUT) -> None:
    peer, conn = _negotiated(dut)
    peer.send_data(b"sent twice", options=[], advance=False)  # dropped (SHOULD) or taken: either way
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_data(b"sent twice")  # the same octets again, with TSopt: the stream goes on
    assert dut.tcp_recv(conn) == b"sent twice"


@rfc("RFC7323-3.2-8")
def test_segment_without_timestamps_is_dropped(dut: DUT) -> None:
    peer, conn = _negotiated(dut)
    peer.send_data(b"no timestamps here", options=[], advance=False)
    assert dut.tcp_recv(conn, within=0.5) is None, "a segment without the negotiated TSopt was delivered"
    peer.send_data(b"with timestamps")  # positive control at the same sequence number
    assert dut.tcp_recv(conn) == b"with timestamps"


@rfc("RFC7323-3.2-10")
def test_timestamps_on_a_connection_without_them_are_ignored(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_send(conn, b"timed")  # the segment below acknowledges it: its TSecr must not time it
    peer.expect(data=b"timed")
    # With a FIN too: a segment no header prediction (RFC 7323 5.6) can shortcut.
    peer.send_data(b"unexpected TSopt", flags="FPA",
                   options=[("NOP", None), ("NOP", None), ("Timestamp", (7, 12345))])
    assert dut.tcp_recv(conn) == b"unexpected TSopt"
    ack = peer.expect("A", ack=peer.snd_nxt)
    assert option(ack, "Timestamp") is None


@described(7323, "5.4", MUST,
           "The sender's timestamp clock is used as a source of monotonic non-decreasing values to stamp the "
           "segments.")
def test_tsval_of_the_duts_segments_never_decreases(dut: DUT) -> None:
    peer, conn = _negotiated(dut)
    values = [peer.dut_syn.timestamp[0]] if peer.dut_syn.timestamp else []
    for i in range(5):
        dut.tcp_send(conn, bytes([i]) * 10)
        seg = peer.expect(data=lambda d: len(d) > 0)
        values.append(option(seg, "Timestamp")[0])
        peer.send_ack()
        dut.wait(0.05)
    assert all((b - a) % 2**32 < 2**31 for a, b in itertools.pairwise(values)), f"TSvals went back: {values}"
