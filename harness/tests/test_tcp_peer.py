"""The tester-side TCP peer (harness/tcp_peer.py) and the state driver (harness/tcp_states.py),
against our stack in-process: sequence arithmetic, the flags language, expectations that hold
the segments they skip, state kept from the DUT's segments, both handshakes and both families."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scapy.layers.inet import ICMP, IP, TCP, IPerror, TCPerror
from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from harness.backends.inprocess import InProcessDUT
from harness.dut import ExpectationFailed
from harness.tcp_peer import (
    TCPPeer,
    established,
    flags_are,
    opened_by_dut,
    payload,
    seq_add,
    seq_diff,
    seq_lt,
    skip_unless_tiny_rtt_sample,
)
from harness.tcp_states import SYNCHRONIZED, connection_in


@pytest.fixture
def dut() -> Iterator[InProcessDUT]:
    d = InProcessDUT()
    yield d
    d.close()


def test_sequence_arithmetic_is_modulo_2_to_the_32() -> None:
    assert seq_add(2**32 - 1, 2) == 1
    assert seq_diff(1, 2**32 - 1) == 2 and seq_diff(2**32 - 1, 1) == -2
    assert seq_lt(2**32 - 10, 5) and not seq_lt(5, 2**32 - 10)


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("SA", 0x12, True), ("SA", 0x1A, True), ("SA", 0x02, False), ("A", 0x11, False),
    ("Ra", 0x04, True), ("Ra", 0x14, True), ("Ra", 0x10, False), ("PA", 0x10, False), ("PA", 0x18, True),
    ("", 0x00, True), ("", 0x08, True),
])
def test_flags_language(pattern: str, value: int, matches: bool) -> None:
    assert flags_are(pattern)(value) is matches


def test_payload_ignores_ethernet_padding() -> None:
    frame = Ether(bytes(Ether() / IP(dst="198.51.100.1") / TCP() / Raw(b"ab")) + b"\x00" * 10)
    assert payload(frame) == b"ab"


@pytest.mark.parametrize("family", [4, 6])
def test_connect_learns_the_duts_syn_options_and_acknowledges(dut: InProcessDUT, family: int) -> None:
    peer, conn = established(dut, 80, family, wscale=7, timestamps=True, sack_permitted=True)  # type: ignore[arg-type]
    assert peer.irs is not None and peer.rcv_nxt == seq_add(peer.irs, 1)
    assert peer.ws_ok and peer.ts_ok and peer.sack_ok and peer.dut_syn.mss == dut.info.mtu - (40 if family == 4 else 60)
    assert dut.tcp_state(conn) == "ESTABLISHED" and conn.remote_port == peer.port


@pytest.mark.parametrize(("rtt", "skips"), [(0.0, False), (0.3, False), (0.34, True)])
def test_a_late_handshake_ack_skips_a_test_that_times_the_1_s_rto(dut: InProcessDUT, rtt: float,
                                                                  skips: bool) -> None:
    # RFC 6298 2.2: the first sample R gives an RTO of R + 4 x R/2 = 3R, the 1-s floor only while
    # 3R stays under it (less the timer's allowed earliness).
    dut.tcp_listen(81)
    peer = TCPPeer(dut, dut_port=81)
    synack = peer.connect(rtt=rtt)
    if skips:
        with pytest.raises(pytest.skip.Exception, match=r"SYN,ACK 0\.340 s after"):
            skip_unless_tiny_rtt_sample(peer, synack)
    else:
        skip_unless_tiny_rtt_sample(peer, synack)


def test_sent_data_moves_snd_nxt_and_the_duts_ack_is_tracked(dut: InProcessDUT) -> None:
    peer, conn = established(dut, 80)
    start = peer.snd_nxt
    peer.send_data(b"12345")
    assert peer.snd_nxt == seq_add(start, 5)
    peer.expect("A", ack=peer.snd_nxt)
    assert peer.acked == peer.snd_nxt
    assert dut.tcp_recv(conn) == b"12345"
    peer.send_data(b"again", seq=start)  # an explicit old sequence number does not move SND.NXT
    assert peer.snd_nxt == seq_add(start, 5)


def test_expect_holds_the_segments_it_skips_for_the_next_expectation(dut: InProcessDUT) -> None:
    peer, conn = established(dut, 80)
    dut.tcp_set_option(conn, "nodelay", True)
    dut.tcp_send(conn, b"one")
    dut.tcp_send(conn, b"two")
    second = peer.expect(data=b"two")  # skips (and holds) "one"
    first = peer.expect(data=b"one")
    assert seq_lt(first[TCP].seq, second[TCP].seq)
    assert first.time <= second.time


def test_expect_none_fails_on_a_held_match_and_reports_the_segments(dut: InProcessDUT) -> None:
    peer, conn = established(dut, 80)
    dut.tcp_send(conn, b"data")
    with pytest.raises(ExpectationFailed, match=r"data=14 octets.*\n.*len=4  \[data=4 not 14\]"):
        peer.expect(data=b"something else", within=0.1)
    with pytest.raises(ExpectationFailed, match="len=4"):
        peer.expect_none(data=b"data", within=0.1)


def test_receive_collects_in_order_data_and_fin(dut: InProcessDUT) -> None:
    peer, conn = established(dut, 80)
    data = bytes(range(256)) * 20
    dut.tcp_send(conn, data)
    dut.tcp_close(conn)
    assert peer.receive(len(data)) == data
    if not peer.fin_received:
        peer.expect("FA")
    assert peer.fin_received and peer.received == data


def test_active_open_is_accepted_by_the_peer(dut: InProcessDUT) -> None:
    peer, conn = opened_by_dut(dut, 5555, 6)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    assert (peer.family, peer.port, peer.dut_port) == (6, 5555, conn.local_port)


def test_put_back_and_take_all(dut: InProcessDUT) -> None:
    peer, conn = established(dut, 80)
    dut.tcp_send(conn, b"x")
    seg = peer.expect(data=b"x", update=False)
    peer.put_back(seg)
    assert [payload(s) for s in peer.take_all()] == [b"x"]
    assert peer.rcv_nxt == seq_add(seg[TCP].seq, 1)
    peer.expect_none(within=0.1)


def test_window_and_timestamps_follow_the_negotiated_options(dut: InProcessDUT) -> None:
    peer, _conn = established(dut, 80, wscale=4, window=64_000, timestamps=True)
    seg = peer.segment("A")
    assert seg[TCP].window == 64_000 >> 4
    assert dict(seg[TCP].options)["Timestamp"] == (peer.ts_val, peer.ts_recent)
    assert "Timestamp" not in dict(peer.segment("R")[TCP].options)  # RFC 7323 3.2: not on a RST


@pytest.mark.parametrize("state", SYNCHRONIZED)
def test_connection_in_reaches_every_synchronized_state(dut: InProcessDUT, state: str) -> None:
    _peer, conn = connection_in(dut, state, 80)  # type: ignore[arg-type]
    assert dut.tcp_state(conn) == state


def test_icmp_errors_quote_the_segment_for_both_families(dut: InProcessDUT) -> None:
    peer4, conn4 = established(dut, 80)
    dut.tcp_send(conn4, b"v4")
    error4 = peer4.icmp_error(peer4.expect(data=b"v4"), type=3, code=4, mtu=1000)
    assert error4[ICMP].nexthopmtu == 1000 and error4[TCPerror].dport == peer4.port and IPerror in error4
    peer6, conn6 = established(dut, 81, 6)
    dut.tcp_send(conn6, b"v6")
    error6 = peer6.icmp_error(peer6.expect(data=b"v6"), mtu=1280)
    assert error6[ICMPv6PacketTooBig].mtu == 1280 and error6[IPv6].dst == peer6.dut_addr
