"""Loss recovery in a transfer that runs both ways (each side's ACKs ride on its data): SACK blocks
come out of the segment's data room (RFC 6691 2), an ACK with new SACK information counts as a
duplicate even when it carries data (RFC 5681 2), three duplicates after a timeout may still start
fast retransmit (RFC 6582 4.1), and the ACK of text our zero window cannot take is still used
(RFC 9293 3.10.7.4). Each was a retransmission timeout on a real lossy link before."""

from __future__ import annotations

from stack_under_test.tests._tcp_bench import PEER_OPTIONS, TCPBench
from stack_under_test.transport.tcp import SocketOptions
from stack_under_test.transport.tcp.congestion import DupAckAction, NewReno
from stack_under_test.wire.tcp import ACK, TCPOptions

BULK = bytes(range(256)) * 200  # 51,200 octets
SACK_TS = TCPOptions(mss=1460, sack_permitted=True, timestamps=(1000, 0))


def test_segments_carrying_sack_blocks_still_fit_the_mtu() -> None:
    """RFC 6691 2: "the sender MUST reduce the TCP data length to account for any IP or TCP options
    that it is including in the packets that it sends" -- SACK blocks too, not only timestamps."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=SACK_TS)
    base = peer.seq
    for offset in (100, 300, 500):  # three ranges held out of order: three SACK blocks
        peer.send(ACK, b"x" * 10, seq=base + offset)
    bench.out()
    conn.send(BULK)
    sent = [o for o in bench.out_frames() if o.seg.payload]
    assert sent, "no data went out"
    assert all(len(o.seg.options.sack_blocks) == 3 for o in sent)
    assert all(len(o.packet) <= 1500 for o in sent), [len(o.packet) for o in sent]
    assert bench.tcp.tx_drops == {} and not bench.stats.tx_drops


def test_a_data_segment_with_new_sack_information_counts_as_a_duplicate_ack() -> None:
    """RFC 5681 2: "a TCP that utilizes selective acknowledgments (SACKs) [RFC2018, RFC2883] can
    leverage the SACK information to determine when an incoming ACK is a "duplicate" (e.g., if the
    ACK contains previously unknown SACK information)"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1000, sack_permitted=True, timestamps=(1000, 0)))
    conn.send(BULK)  # SMSS 988: an initial window of four segments
    flight = [s for s in bench.out() if s.payload]
    assert len(flight) >= 4
    una = flight[0].seq
    for n, seg in enumerate(flight[1:4], 1):  # the first segment was lost; the peer's data SACKs the rest
        end = (seg.seq + len(seg.payload)) & 0xFFFFFFFF
        sack = TCPOptions(timestamps=(2000 + n, 0), sack_blocks=((flight[1].seq, end),))
        peer.send(ACK, b"peer data %d" % n, ack=una, options=sack)
    resent = [s for s in bench.out() if s.payload and s.seq == una]
    assert resent, "three data-carrying ACKs with new SACK blocks did not start a fast retransmit"


def test_ack_heuristic_lets_duplicates_below_recover_start_a_fast_retransmit() -> None:
    """RFC 6582 4.1: below recover, "check to see if the congestion window is greater than SMSS
    bytes and the difference between highest_ack and prev_highest_ack is at most 4*SMSS bytes.
    If true, duplicate ACKs indicate a lost segment (enter fast retransmit)"."""
    cc = NewReno(1000, 0)
    cc.on_timeout(8000, 8001, True)  # recover = 8000
    cc.cwnd = 4000
    cc.on_new_ack(1001, 1000, 7000)
    cc.on_new_ack(2001, 1000, 6000)  # highest_ack - prev_highest_ack = 1000 <= 4*SMSS
    actions = [cc.on_duplicate_ack(2001, 6000, 8001) for _ in range(3)]
    assert actions[-1] is DupAckAction.FAST_RETRANSMIT
    # A jump of more than four segments says the duplicates come from needless retransmissions.
    cc = NewReno(1000, 0)
    cc.on_timeout(8000, 8001, True)
    cc.cwnd = 4000
    cc.on_new_ack(1001, 1000, 7000)
    cc.on_new_ack(6001, 5000, 2000)
    actions = [cc.on_duplicate_ack(6001, 2000, 8001) for _ in range(3)]
    assert actions[-1] is DupAckAction.NOTHING


def test_the_ack_of_text_a_zero_window_cannot_take_is_used() -> None:
    """RFC 9293 3.10.7.4: "If the RCV.WND is zero, no segments will be acceptable, but special
    allowance should be made to accept valid ACKs, URGs, and RSTs.\""""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=PEER_OPTIONS, options=SocketOptions(rcvbuf=2048))
    assert conn.receiver is not None and conn.sender is not None
    peer.send(ACK, b"f" * conn.receiver.window)  # fills our window: it is zero now
    assert conn.receiver.window == 0
    conn.send(b"our data")
    (ours,) = [s for s in bench.out() if s.payload]
    end = (ours.seq + len(ours.payload)) & 0xFFFFFFFF
    unread = conn.receiver.unread
    # The peer's next text (at RCV.NXT) acknowledges our data; the text itself cannot be taken.
    assert peer.send(ACK, b"more", ack=end, seq=peer.seq) is not None
    assert conn.sender.snd_una == end, "the ACK on text our zero window refused was ignored"
    assert conn.receiver.unread == unread
    assert bench.out()[-1].ack == peer.seq  # the text was not taken: RCV.NXT stays
