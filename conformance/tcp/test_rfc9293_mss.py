"""RFC 9293 3.7.1-3.7.2, RFC 6691, RFC 1191 and RFC 8201: the MSS option the DUT announces,
the effective send MSS it uses (the peer's MSS or the default, the link and the path MTU), and
Path MTU Discovery shrinking its segments after Fragmentation Needed / Packet Too Big."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness import DUT, SHOULD, TCPConn, described, rfc
from harness.rfc import TCP_DEFAULT_MSS, TCP_IP_HEADERS
from harness.tcp_peer import TCPPeer, datagram_size, established, option, payload, resent_smaller, seq_add

PORT: Final = 8400
BULK: Final = bytes(i % 256 for i in range(12_000))
# Where a message must reach the DUT before its retransmission timer runs out, the peer's
# handshake ACK waits this long: the timer then runs about three times it (RFC 6298 2.2).
HANDSHAKE_RTT: Final = 0.5
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def _largest_segment(peer: TCPPeer, octets: int = 4000) -> int:
    """The largest data length among the DUT's segments carrying the next ``octets`` octets."""
    start = len(peer.received)
    largest = 0
    while len(peer.received) - start < octets:
        seg = peer.expect(data=lambda d: len(d) > 0, within=5.0)
        largest = max(largest, len(payload(seg)))
        peer.send_ack()
    return largest


def _bulk(dut: DUT, family: int = 4, **peer: object) -> tuple[TCPPeer, TCPConn]:
    tester, conn = established(dut, PORT, family, **peer)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, BULK) > 0
    return tester, conn


def _require_ipv4_pmtud(seg: Packet) -> None:
    """RFC 1191's rules for a Datagram Too Big bind a host that does Path MTU Discovery, which
    sends with DF; no router sends the message about a datagram it may fragment. Whether the
    DUT sets DF is test_segments_are_sent_with_dont_fragment's question (RFC 1191 2, SHOULD)."""
    if not seg[IP].flags.DF:
        pytest.skip("the DUT's TCP segments do not carry DF: it does not do IPv4 Path MTU Discovery "
                    "(optional for a host), so RFC 1191's rules for it do not apply")


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.7.1-2", "RFC9293-3.7.1-1")
def test_syn_ack_announces_an_mss(dut: DUT, family: int) -> None:
    dut.tcp_listen(PORT, family)  # type: ignore[arg-type]
    synack = TCPPeer(dut, family, dut_port=PORT).connect()  # type: ignore[arg-type]
    assert option(synack, "MSS") is not None, "a 1500-octet link, and no MSS option in the SYN-ACK"


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC1191-3.1-1", "RFC8200-8.3-2")
def test_announced_mss_is_the_link_mtu_less_fixed_headers(dut: DUT, family: int) -> None:
    dut.tcp_listen(PORT, family)  # type: ignore[arg-type]
    synack = TCPPeer(dut, family, dut_port=PORT, timestamps=True).connect()  # type: ignore[arg-type]
    assert option(synack, "MSS") == dut.info.mtu - TCP_IP_HEADERS[family]


@rfc("RFC9293-3.7.1-5",
     quote="The MSS value to be sent in an MSS Option must be less than or equal to: MMS_R - 20")
def test_mss_of_an_active_open_fits_the_link(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    syn = TCPPeer.for_connection(dut, conn).expect("S")
    mss = option(syn, "MSS")
    assert mss is not None and mss <= dut.info.mtu - TCP_IP_HEADERS[4], f"the SYN announces MSS {mss}"


@rfc("RFC9293-3.7.3-1")
def test_announced_mss_follows_a_smaller_link_mtu(dut: DUT) -> None:
    dut.set_link_mtu(1280)
    dut.tcp_listen(PORT)
    synack = TCPPeer(dut, dut_port=PORT).connect()
    assert option(synack, "MSS") == 1280 - TCP_IP_HEADERS[4]


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.7.1-3")
def test_default_send_mss_without_an_mss_option(dut: DUT, family: int) -> None:
    peer, _conn = _bulk(dut, family, mss=None)
    largest = _largest_segment(peer)
    assert largest <= TCP_DEFAULT_MSS[family], f"segments of {largest} octets to a peer that announced no MSS"


@pytest.mark.parametrize("mss", [1, 300, 536, 1000])
@rfc("RFC9293-3.7.1-4", "RFC9293-3.7.1-1", "RFC8201-5.4-3")
def test_segments_respect_the_peers_mss(dut: DUT, mss: int) -> None:
    peer, _conn = _bulk(dut, mss=mss)
    largest = _largest_segment(peer, min(4000, 20 * mss))
    assert largest <= mss, f"segments of {largest} octets to a peer that announced MSS {mss}"


@rfc("RFC9293-3.7.1-4")
def test_segments_fit_the_link_when_the_peers_mss_is_larger(dut: DUT) -> None:
    peer, _conn = _bulk(dut, mss=9000)
    largest = _largest_segment(peer)
    assert largest <= dut.info.mtu - TCP_IP_HEADERS[4], f"segments of {largest} octets on a {dut.info.mtu}-octet link"


@pytest.mark.parametrize("kind", [pytest.param("timestamps", id="timestamps"),
                                  pytest.param("sack", id="sack-blocks")])
@rfc("RFC9293-3.7.1-4", quote="Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize")
def test_tcp_options_come_out_of_the_mss(dut: DUT, kind: str) -> None:
    if kind == "timestamps":
        peer, _conn = _bulk(dut, mss=1000, timestamps=True)
    else:
        # The peer's data above a hole: while the DUT holds it, its segments may carry SACK
        # blocks (RFC 2018 4), which take room from the data as any option does.
        peer, conn = established(dut, PORT, mss=1000, sack_permitted=True)
        if not peer.sack_ok:
            pytest.skip("the DUT did not answer SACK-Permitted (RFC 2018 SACK is optional)")
        peer.send_data(b"above a hole", seq=seq_add(peer.snd_nxt, 100), advance=False)
        peer.expect("A", ack=peer.snd_nxt)
        assert dut.tcp_send(conn, BULK) > 0
    for _ in range(3):
        seg = peer.expect(data=lambda d: len(d) > 0, within=2.0)
        options = seg[TCP].dataofs * 4 - 20
        assert len(payload(seg)) + options <= 1000, (
            f"{len(payload(seg))} data octets with {options} octets of options exceed the MSS of 1000")
        peer.send_ack()


@rfc("RFC9293-3.2-2")
def test_mss_option_is_sent_only_on_syn_segments(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_send(conn, b"data")
    data = peer.expect(data=b"data")
    peer.send_data(b"more")
    ack = peer.expect("A", ack=peer.snd_nxt)
    for seg in (data, ack):
        assert option(seg, "MSS") is None, f"an MSS option on a {seg.sprintf('%TCP.flags%')} segment"


@rfc("RFC9293-3.1-4",
     quote="Note that the list of options may be shorter than the Data Offset field might imply.")
def test_option_padding_is_zeros(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, wscale=2, sack_permitted=True, timestamps=True)
    segments = [peer.connect()]
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    dut.tcp_send(conn, b"data")
    segments.append(peer.expect(data=b"data"))
    for seg in segments:
        header = bytes(seg[TCP])[20:seg[TCP].dataofs * 4]
        i = 0
        while i < len(header) and header[i] != 0:  # walk the options up to End of Option List
            i += 1 if header[i] == 1 else max(2, header[i + 1] if i + 1 < len(header) else 2)
        assert set(header[i:]) <= {0}, f"non-zero octets after the options: {header[i:].hex()}"


@described(1191, "2", SHOULD,
           "The basic idea is that a source host initially assumes that the PMTU of a path is the (known) "
           "MTU of its first hop, and sends all datagrams on that path with the DF bit set.")
def test_segments_are_sent_with_dont_fragment(dut: DUT) -> None:
    peer, _conn = _bulk(dut)
    seg = peer.expect(data=lambda d: len(d) > 0)
    assert seg[IP].flags.DF, "a TCP segment without DF: Path MTU Discovery cannot work"


@rfc("RFC1191-3-1", "RFC7323-5.7-1")
def test_fragmentation_needed_shrinks_the_segments(dut: DUT) -> None:
    peer, _conn = _bulk(dut)
    big = peer.expect(data=lambda d: len(d) > 1000)
    _require_ipv4_pmtud(big)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=1000))
    resent, _ = resent_smaller(peer, big)
    assert datagram_size(resent) <= 1000, f"after Fragmentation Needed (MTU 1000) a {datagram_size(resent)}-octet datagram"


@rfc("RFC8201-4-4", "RFC8201-5.2-10", "RFC8201-5.4-1", "RFC8201-5.4-5")
def test_packet_too_big_shrinks_the_segments(dut: DUT) -> None:
    peer, _conn = _bulk(dut, 6)
    big = peer.expect(data=lambda d: len(d) > 1220)
    dut.send(peer.icmp_error(big, mtu=1300))
    resent, _ = resent_smaller(peer, big)
    assert datagram_size(resent) <= 1300, f"after Packet Too Big (MTU 1300) a {datagram_size(resent)}-octet packet"


@rfc("RFC8201-4-2", "RFC8201-5.5-1", "RFC8201-4-3")
def test_packet_too_big_below_1280_does_not_shrink_below_1280(dut: DUT) -> None:
    peer, _conn = _bulk(dut, 6)
    big = peer.expect(data=lambda d: len(d) > 1220)
    dut.send(peer.icmp_error(big, mtu=1000))
    peer.send_ack()  # more of the bulk data follows, in full-sized segments
    for _ in range(3):
        seg = peer.expect(data=lambda d: len(d) > 0, within=3.0)
        size = len(bytes(seg[IPv6]))
        assert size >= 1280, f"a {size}-octet packet after Packet Too Big (MTU 1000): below the 1280 minimum"


@rfc("RFC9293-3.7.1-4", quote="Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize")
def test_route_mtu_limits_the_segments(dut: DUT) -> None:
    dut.add_route(f"{dut.info.tester_ipv4}/32", mtu=1100)
    peer, _conn = _bulk(dut)
    largest = _largest_segment(peer)
    assert largest <= 1100 - TCP_IP_HEADERS[4], f"segments of {largest} octets on a path of MTU 1100"


@rfc("RFC1191-6.4-1")
def test_fragmentation_needed_that_lowers_nothing_draws_no_retransmission(dut: DUT) -> None:
    # A handshake of 0.5 s puts the DUT's retransmission timeout well above a second (RFC 6298
    # 2.3), so a segment sent again in the look below answers the message, not that timer.
    peer, _conn = _bulk(dut, rtt=HANDSHAKE_RTT)
    big = peer.expect(data=lambda d: len(d) > 1000, update=False)
    _require_ipv4_pmtud(big)
    # The Next-Hop MTU is the link's own, which the DUT has used all along: nothing to lower.
    # The look opens before the message leaves: the DUT's answer can come before send() returns.
    message = peer.icmp_error(big, type=3, code=4, mtu=dut.info.mtu)
    sent = dut.now()
    dut.send(message)
    barrier_reply = dut.barrier()
    quiet = (barrier_reply - sent) if barrier_reply is not None else 0.15
    peer.expect_none(seq=big[TCP].seq, data=lambda d: len(d) > 0, within=quiet, since=sent)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=1000))  # positive control: one that lowers it
    resent_smaller(peer, big, within=1.0)


@rfc("RFC1191-6.4-1")
def test_several_fragmentation_needed_messages_draw_one_retransmission(dut: DUT) -> None:
    # The handshake's round trip puts the DUT's retransmission timer about three times it after
    # the data (RFC 6298 2.2), not at Linux's 200-ms floor, which a loaded tester can miss.
    peer, _conn = _bulk(dut, rtt=HANDSHAKE_RTT)
    flight = [peer.expect(data=lambda d: len(d) > 1000, update=False) for _ in range(3)]
    _require_ipv4_pmtud(flight[0])
    # A burst of oversized segments gives rise to one Datagram Too Big each; only the first
    # lowers the estimate, and the data goes again once, not once per message. What answers the
    # messages is smaller (MTU 1000); a copy as large as before is the timer's, sent before the
    # messages were taken in, and no answer to them.
    messages = [peer.icmp_error(seg, type=3, code=4, mtu=1000) for seg in flight]
    sent = dut.now()
    dut.send(*messages)
    first = flight[0][TCP].seq
    again, _ = resent_smaller(peer, flight[0])
    # Retransmissions answering the other two messages would follow within milliseconds, timed
    # from the retransmission itself however late it is read. The look must end before the
    # DUT's retransmission timer could send the data again, whether or not the answer restarted it:
    # 3 R after a first round-trip sample R (RFC 6298 2.2), less a tenth of a second for the
    # segment's own way to the tester.
    look = 0.15
    timer = 3 * HANDSHAKE_RTT - 0.1
    if float(again.time) + look > float(flight[0].time) + timer:
        pytest.skip(f"the messages left {sent - float(flight[0].time):.2f} s after the segment and its data went "
                    f"again {float(again.time) - float(flight[0].time):.2f} s after it (a loaded tester, or a DUT that "
                    f"did not answer them at once), within "
                    f"{look:g} s of when the DUT's retransmission timer could run (about {timer:g} s after a "
                    f"{HANDSHAKE_RTT:g}-s handshake, RFC 6298 2.2): a copy in the look could be the timer's")
    peer.expect_none(seq=first, data=lambda d: len(d) > 0, within=look, since=again.time)
