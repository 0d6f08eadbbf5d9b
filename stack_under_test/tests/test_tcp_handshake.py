"""Opening connections (RFC 9293 3.5, 3.10.7.1-3): LISTEN, SYN-SENT, SYN-RECEIVED, simultaneous
open, the option negotiation of RFC 7323 / RFC 2018 / RFC 9293 3.7.1, and RSTs for closed ports."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.stack.stack import StackError
from stack_under_test.tests._tcp_bench import TCPBench
from stack_under_test.transport.tcp import State, TCPError
from stack_under_test.wire.tcp import ACK, FIN, RST, SYN, TCPOptions, TCPSegment


@pytest.mark.parametrize("family", [4, 6])
def test_passive_open_answers_syn_with_syn_ack_then_establishes(family: int) -> None:
    bench = TCPBench(family)
    listener = bench.tcp.listen(bench.dut_text, 80)
    assert bench.inject(40000, 80, 1000, 0, SYN, options=TCPOptions(mss=1400)) is None
    synack = bench.one()
    assert synack.flags == SYN | ACK and synack.ack == 1001
    assert (synack.src_port, synack.dst_port) == (80, 40000)
    assert listener.accept() is None  # SYN-RECEIVED is not yet a connection to accept
    assert bench.inject(40000, 80, 1001, synack.seq + 1, ACK) is None
    conn = listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED
    assert bench.out() == []  # the handshake's last ACK needs no answer


@pytest.mark.parametrize("family", [4, 6])
def test_active_open_sends_syn_and_acknowledges_the_syn_ack(family: int) -> None:
    bench = TCPBench(family)
    conn = bench.tcp.connect(bench.peer_text, 80)
    assert conn.state is State.SYN_SENT
    syn = bench.one()
    assert syn.flags == SYN and syn.dst_port == 80 and syn.ack == 0
    assert bench.inject(80, syn.src_port, 7000, syn.seq + 1, SYN | ACK) is None
    final = bench.one()
    assert (final.flags, final.seq, final.ack) == (ACK, syn.seq + 1, 7001)
    assert conn.state is State.ESTABLISHED


def test_ipv4_segments_carry_dont_fragment() -> None:
    """RFC 9293 3.7.2: PMTUD "relies both on avoiding source fragmentation and setting the IPv4 DF
    (don't fragment) flag"."""
    bench = TCPBench(4)
    bench.tcp.connect(bench.peer_text, 80)
    assert [o.df for o in bench.out_frames()] == [True]


def test_syn_offers_mss_window_scale_sack_and_timestamps() -> None:
    bench = TCPBench(4)
    bench.tcp.connect(bench.peer_text, 80)
    opts = bench.one().options
    # RFC 9293 3.7.1: MSS = MTU - fixed IP and TCP headers = 1500 - 40.
    assert opts.mss == 1460
    assert opts.window_scale is not None and opts.sack_permitted
    assert opts.timestamps is not None and opts.timestamps[1] == 0  # RFC 7323 3.2: TSecr zero without ACK


def test_ipv6_mss_option_is_mtu_minus_sixty() -> None:
    bench = TCPBench(6)
    bench.tcp.connect(bench.peer_text, 80)
    assert bench.one().options.mss == 1440


def test_syn_ack_answers_only_the_options_the_syn_offered() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN, options=TCPOptions(mss=1460))
    opts = bench.one().options
    assert opts.mss is not None
    assert opts.window_scale is None and not opts.sack_permitted and opts.timestamps is None


def test_syn_ack_echoes_the_syns_timestamp() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN, options=TCPOptions(mss=1460, timestamps=(77, 0), window_scale=2))
    opts = bench.one().options
    assert opts.timestamps is not None and opts.timestamps[1] == 77
    assert opts.window_scale is not None


def test_window_scale_above_14_is_used_as_14() -> None:
    """RFC 7323 2.3: "the TCP SHOULD log the error but MUST use 14 instead of the specified value"."""
    bench = TCPBench(4)
    conn, _ = bench.accept_one(peer_options=TCPOptions(mss=1460, window_scale=20))
    assert conn.agreed is not None and conn.agreed.send_shift == 14


def test_without_window_scale_from_the_peer_neither_side_scales() -> None:
    bench = TCPBench(4)
    conn, _ = bench.accept_one(peer_options=TCPOptions(mss=1460))
    assert conn.agreed is not None and (conn.agreed.send_shift, conn.agreed.receive_shift) == (0, 0)


@pytest.mark.parametrize(("family", "default"), [(4, 536), (6, 1220)])
def test_without_mss_option_the_send_mss_is_the_default(family: int, default: int) -> None:
    """RFC 9293 3.7.1: "MUST assume a default send MSS of 536 (576 - 40) for IPv4 or 1220 (1280 - 60)
    for IPv6 (MUST-15)"."""
    bench = TCPBench(family)
    conn, _ = bench.accept_one(peer_options=TCPOptions())
    assert conn.sender is not None and conn.sender.smss == default


def test_effective_mss_leaves_room_for_timestamps() -> None:
    """RFC 9293 3.7.1: Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize."""
    bench = TCPBench(4)
    conn, _ = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(5, 0)))
    assert conn.sender is not None and conn.sender.smss == 1460 - 12


def test_data_waits_for_the_handshake_and_follows_it() -> None:
    """RFC 9293 3.10.2 SYN-SENT: "Queue the data for transmission after entering ESTABLISHED state"."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    assert conn.send(b"early") == 5
    assert bench.out() == []
    bench.inject(80, syn.src_port, 7000, syn.seq + 1, SYN | ACK)
    (data,) = bench.out()
    assert data.payload == b"early" and data.seq == syn.seq + 1 and data.flags & ACK


def test_simultaneous_open_goes_through_syn_received() -> None:
    """RFC 9293 3.5 Figure 8."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80, local_port=5555)
    syn = bench.one()
    assert bench.inject(80, 5555, 300, 0, SYN) is None
    assert conn.state is State.SYN_RECEIVED
    synack = bench.one()
    assert (synack.flags, synack.seq, synack.ack) == (SYN | ACK, syn.seq, 301)
    assert bench.inject(80, 5555, 300, syn.seq + 1, SYN | ACK) is None
    assert conn.state is State.ESTABLISHED


def test_rst_answering_the_syn_refuses_the_connection() -> None:
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    assert bench.inject(80, syn.src_port, 0, syn.seq + 1, RST | ACK) is None
    assert conn.state is State.CLOSED
    with pytest.raises(TCPError) as err:
        conn.recv(10)
    assert err.value.kind == "refused"


def test_rst_without_acceptable_ack_in_syn_sent_is_dropped() -> None:
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    assert bench.inject(80, syn.src_port, 0, 0, RST) is Drop.TCP_SYN_SENT_BAD_RST
    assert bench.inject(80, syn.src_port, 0, syn.seq + 9, RST | ACK) is Drop.TCP_SYN_SENT_BAD_ACK
    assert conn.state is State.SYN_SENT and bench.out() == []


def test_unacceptable_ack_in_syn_sent_draws_a_reset() -> None:
    """RFC 9293 3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset ... <SEQ=SEG.ACK><CTL=RST>"."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    assert bench.inject(80, syn.src_port, 7000, syn.seq, SYN | ACK) is Drop.TCP_SYN_SENT_BAD_ACK
    rst = bench.one()
    assert (rst.flags, rst.seq) == (RST, syn.seq)
    assert conn.state is State.SYN_SENT


def test_segment_without_syn_or_rst_in_syn_sent_is_dropped() -> None:
    bench = TCPBench(4)
    bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    assert bench.inject(80, syn.src_port, 7000, syn.seq + 1, ACK) is Drop.TCP_SYN_SENT_NO_SYN


def test_listener_ignores_rst_and_resets_ack() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    assert bench.inject(40000, 80, 10, 0, RST) is Drop.TCP_LISTEN_RST
    assert bench.out() == []
    assert bench.inject(40000, 80, 10, 4242, ACK) is Drop.TCP_LISTEN_ACK
    rst = bench.one()
    assert (rst.flags, rst.seq) == (RST, 4242)
    assert bench.inject(40000, 80, 10, 0, FIN) is Drop.TCP_LISTEN_NO_SYN


@pytest.mark.parametrize("family", [4, 6])
def test_closed_port_answers_syn_with_rst_ack(family: int) -> None:
    """RFC 9293 3.10.7.1: "If the ACK bit is off, sequence number zero is used,
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"."""
    bench = TCPBench(family)
    assert bench.inject(40000, 81, 100, 0, SYN, payload=b"abc") is Drop.TCP_NO_CONNECTION
    rst = bench.one()
    assert (rst.flags, rst.seq, rst.ack, rst.window) == (RST | ACK, 0, 104, 0)


def test_closed_port_answers_ack_with_rst_from_its_ack_number() -> None:
    bench = TCPBench(4)
    assert bench.inject(40000, 81, 100, 999, ACK) is Drop.TCP_NO_CONNECTION
    rst = bench.one()
    assert (rst.flags, rst.seq) == (RST, 999)


def test_closed_port_never_answers_a_rst() -> None:
    bench = TCPBench(4)
    assert bench.inject(40000, 81, 100, 999, RST | ACK) is Drop.TCP_RST_NO_CONNECTION
    assert bench.out() == []


def test_rst_echoes_the_offending_timestamp() -> None:
    """RFC 7323 5.2: "SEG.TSecr SHOULD be set to SEG.TSval from the incoming segment and SEG.TSval
    SHOULD be set to zero"."""
    bench = TCPBench(4)
    bench.inject(40000, 81, 100, 0, SYN, options=TCPOptions(timestamps=(1234, 0)))
    assert bench.one().options.timestamps == (0, 1234)


def test_segments_to_broadcast_are_silently_discarded() -> None:
    """RFC 9293 3.9.2.3: "A TCP implementation MUST silently discard an incoming SYN segment that is
    addressed to a broadcast or multicast address"."""
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    broadcast = bytes((198, 51, 100, 255))
    verdict = bench.inject(40000, 80, 1, 0, SYN, dst=broadcast, dst_mac=b"\xff" * 6)
    assert verdict is Drop.TCP_NOT_UNICAST and bench.out() == []


def test_bad_checksum_is_dropped_without_answer() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    raw = bytearray(TCPSegment(40000, 80, 1, 0, SYN, 100, 0, TCPOptions(), b"").encode(bench.peer, bench.dut))
    raw[16] ^= 0xFF
    assert bench.inject_raw(bytes(raw)) is Drop.TCP_BAD_CHECKSUM
    assert bench.out() == []


@pytest.mark.parametrize(("segment", "drop"), [
    (b"\x00" * 19, Drop.TCP_TRUNCATED),
    (b"\x00" * 12 + b"\x40" + b"\x00" * 7, Drop.TCP_BAD_DATA_OFFSET),
    (b"\x00" * 12 + b"\xf0" + b"\x00" * 7, Drop.TCP_BAD_DATA_OFFSET),
], ids=["truncated", "offset-4", "offset-beyond"])
def test_malformed_headers_are_counted_drops(segment: bytes, drop: Drop) -> None:
    bench = TCPBench(4)
    assert bench.inject_raw(segment) is drop
    assert bench.stats.drops[drop] == 1


def test_syn_ack_is_retransmitted_with_backoff_then_given_up() -> None:
    """RFC 6298 2.1 (RTO 1 s) and 5.5 (doubling); a half-open connection is dropped after Linux's
    tcp_synack_retries (5) retransmissions."""
    bench = TCPBench(4)
    listener = bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN)
    first = bench.one()
    start = bench.clock.now_ms
    for at in (1000, 3000, 7000, 15000, 31000):
        assert bench.advance(start + at - 1 - bench.clock.now_ms) == []
        (again,) = bench.advance(1)
        assert (again.flags, again.seq) == (SYN | ACK, first.seq)
    assert len(listener.half_open) == 1
    bench.advance(start + 63000 - 1 - bench.clock.now_ms)
    assert len(listener.half_open) == 1
    assert bench.advance(1) == []
    assert listener.half_open == {} and not bench.tcp.connections


def test_syn_is_retransmitted_at_1_3_7_seconds() -> None:
    bench = TCPBench(4)
    bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    times = []
    for _ in range(3):
        while not (segs := bench.advance(1)):
            pass
        (again,) = segs
        assert again.seq == syn.seq and again.flags == SYN
        times.append(bench.clock.now_ms - 5_000)
    assert times == [1000, 3000, 7000]


def test_syn_retransmissions_cover_three_minutes_before_giving_up() -> None:
    """RFC 9293 3.8.3: "R2 for a SYN segment MUST be set large enough to provide retransmission of the
    segment for at least 3 minutes (MUST-23)"."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    start = bench.clock.now_ms
    bench.out()
    last = start
    while conn.state is State.SYN_SENT:
        bench.clock.advance(1000)
        if bench.out():
            last = bench.clock.now_ms
    assert last - start >= 180_000
    with pytest.raises(TCPError) as err:
        conn.send(b"x")
    assert err.value.kind == "timed_out"


def test_duplicate_syn_in_syn_received_resends_the_syn_ack() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN)
    synack = bench.one()
    assert bench.inject(40000, 80, 1000, 0, SYN) is None
    again = bench.one()
    assert (again.flags, again.seq, again.ack) == (SYN | ACK, synack.seq, 1001)


def test_bad_ack_in_syn_received_draws_reset() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN)
    synack = bench.one()
    assert bench.inject(40000, 80, 1001, synack.seq + 5, ACK) is Drop.TCP_SYN_RECEIVED_BAD_ACK
    rst = bench.one()
    assert (rst.flags, rst.seq) == (RST, synack.seq + 5)


def test_rst_in_syn_received_returns_to_listen() -> None:
    bench = TCPBench(4)
    listener = bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 1000, 0, SYN)
    bench.one()
    assert bench.inject(40000, 80, 1001, 0, RST) is None
    assert listener.half_open == {} and (4, 80) in bench.tcp.listeners


def test_listen_rejects_bad_input() -> None:
    bench = TCPBench(4)
    bench.tcp.listen("0.0.0.0", 80)
    with pytest.raises(StackError):
        bench.tcp.listen("0.0.0.0", 80)
    with pytest.raises(StackError):
        bench.tcp.listen("203.0.113.9", 81)
    with pytest.raises(StackError):
        bench.tcp.listen("0.0.0.0", 0)


def test_connect_without_route_is_unreachable() -> None:
    bench = TCPBench(4)
    with pytest.raises(TCPError) as err:
        bench.tcp.connect("203.0.113.9", 80)
    assert err.value.kind == "unreachable"


def test_isn_differs_per_connection_and_moves_with_the_clock() -> None:
    """RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey)."""
    bench = TCPBench(4)
    a = bench.tcp.secrets.isn(bench.dut, 1, bench.peer, 80)
    b = bench.tcp.secrets.isn(bench.dut, 2, bench.peer, 80)
    assert a != b
    bench.clock.advance(1)
    assert (bench.tcp.secrets.isn(bench.dut, 1, bench.peer, 80) - a) & 0xFFFFFFFF == 250  # 4 µs ticks


def test_data_from_the_peer_is_received() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    start = peer.seq
    assert peer.send(ACK, b"12345") is None
    assert peer.seq == start + 5
    assert conn.recv(10) == b"12345"
    assert conn.recv(10) is None
