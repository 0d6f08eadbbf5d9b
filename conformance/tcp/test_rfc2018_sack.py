"""RFC 2018: the SACK-Permitted option and the SACK blocks a data receiver reports for data
it holds above a hole. SACK is optional: tests that need it skip when the DUT does not answer
SACK-Permitted, and the rules that bind every TCP (never SACK unless permitted) always run."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, MUST, TCPConn, described, rfc
from harness.tcp_peer import TCPPeer, established, option, payload, seq_add, seq_end

PORT: Final = 8600
OPT_SACK: Final = 5  # RFC 2018 3: the SACK option's kind


def _sack_connection(dut: DUT) -> tuple[TCPPeer, TCPConn]:
    peer, conn = established(dut, PORT, sack_permitted=True)
    if not peer.sack_ok:
        pytest.skip("the DUT did not answer SACK-Permitted (RFC 2018 SACK is optional); nothing to check")
    return peer, conn


def _blocks(seg: object) -> list[tuple[int, int]]:
    values = option(seg, "SAck")  # type: ignore[arg-type]
    if values is None:
        return []
    return [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]


def _raw_options(seg: Packet) -> list[tuple[int, bytes]]:
    """The options of ``seg`` as sent: (kind, the whole option's octets), EOL ending the list."""
    raw = bytes(seg[TCP])[20:seg[TCP].dataofs * 4]
    out, i = [], 0
    while i < len(raw) and raw[i] != 0:
        if raw[i] == 1:
            i += 1
            continue
        size = raw[i + 1] if i + 1 < len(raw) else 0
        out.append((raw[i], raw[i:i + max(size, 2)]))
        i += max(size, 2)
    return out


def _duts_syn(dut: DUT, opener: str) -> Packet:
    """The DUT's SYN (``opener`` "dut") or its SYN-ACK to a SYN with the options ``opener`` names."""
    if opener == "dut":
        conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
        return TCPPeer.for_connection(dut, conn).expect("S")
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, sack_permitted="sack" in opener, timestamps="ts" in opener,
                   wscale=7 if "ws" in opener else None)
    peer.send_syn()
    return peer.expect("SA", ack=seq_add(peer.iss, 1))


OPENERS: Final = [pytest.param(o, id=o) for o in ("dut", "mss", "sack", "ts", "sack-ts-ws")]


@pytest.mark.parametrize("opener", OPENERS)
@rfc("RFC2018-4-3")
def test_no_sack_option_on_a_syn(dut: DUT, opener: str) -> None:
    # A SYN, or a SYN-ACK, comes before the DUT can have any data to report.
    syn = _duts_syn(dut, opener)
    kinds = [kind for kind, _ in _raw_options(syn)]
    assert OPT_SACK not in kinds, f"the DUT's {syn.sprintf('%TCP.flags%')} carries a SACK option: {kinds}"


# The lengths the options' definitions give: RFC 9293 3.2 (MSS), RFC 7323 2.2 and 3.2 (Window
# Scale, Timestamps), RFC 2018 2 (SACK-Permitted).
OPTION_LENGTHS: Final = {2: 4, 3: 3, 4: 2, 8: 10}


@pytest.mark.parametrize("opener", OPENERS)
@described(9293, "3.1", MUST,
           "The option-length counts the two octets of option-kind and option-length as well as the "
           "option-data octets.")
def test_options_of_the_duts_syn_have_their_defined_lengths(dut: DUT, opener: str) -> None:
    syn = _duts_syn(dut, opener)
    for kind, octets in _raw_options(syn):
        if kind in OPTION_LENGTHS:
            assert len(octets) == octets[1] == OPTION_LENGTHS[kind], (
                f"option kind {kind} of the DUT's {syn.sprintf('%TCP.flags%')} is {octets.hex()}: "
                f"length {octets[1]}, not {OPTION_LENGTHS[kind]}")


@rfc("RFC2018-2-1")
def test_rst_carries_no_sack_permitted(dut: DUT) -> None:
    # No listener: the SYN (with SACK-Permitted and Timestamps, which the RST echoes, RFC 7323
    # 5.2) draws a RST, a segment that is no SYN.
    peer = TCPPeer(dut, dut_port=PORT + 1, sack_permitted=True, timestamps=True)
    peer.send_syn()
    rst = peer.expect("RA", ack=seq_add(peer.iss, 1))
    assert option(rst, "SAckOK") is None, "SACK-Permitted on a RST"


@pytest.mark.parametrize("options", [pytest.param(True, id="mss"), pytest.param(False, id="no-options")])
@rfc("RFC2018-4-3")
def test_no_sack_blocks_without_sack_permitted(dut: DUT, options: bool) -> None:
    # A SYN with no options at all, as well as one with others but not SACK-Permitted.
    peer, _conn = established(dut, PORT) if options else established(dut, PORT, mss=None)
    peer.send_data(b"above a hole", seq=seq_add(peer.snd_nxt, 100), advance=False)
    dup = peer.expect("A", ack=peer.snd_nxt)
    assert option(dup, "SAck") is None, "a SACK option on a connection that never permitted SACK"


@rfc("RFC2018-2-1")
def test_sack_permitted_appears_only_on_the_syn(dut: DUT) -> None:
    peer, conn = established(dut, PORT, sack_permitted=True)
    dut.tcp_send(conn, b"data")
    data = peer.expect(data=b"data")
    peer.send_data(b"more")
    ack = peer.expect("A", ack=peer.snd_nxt)
    for seg in (data, ack):
        assert option(seg, "SAckOK") is None, "SACK-Permitted on a segment without SYN"


@rfc("RFC2018-4-4", "RFC2018-4-2")
def test_data_above_a_hole_is_reported_in_a_sack_block(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    left = seq_add(peer.snd_nxt, 100)
    peer.send_data(b"above a hole", seq=left, advance=False)
    dup = peer.expect("A", ack=peer.snd_nxt)
    assert (left, seq_add(left, 12)) in _blocks(dup), f"SACK blocks {_blocks(dup)} do not report [{left}, {left + 12})"


@described(2018, "3", MUST, "A SACK option that specifies n blocks will have a length of 8*n+2 bytes")
def test_sack_option_length_counts_its_blocks(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    for offset in (100, 300):
        peer.send_data(b"z" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base)
        sacks = [octets for kind, octets in _raw_options(dup) if kind == OPT_SACK]
        assert len(sacks) == 1, f"{len(sacks)} SACK options in the duplicate ACK"
        length = sacks[0][1]
        assert length >= 10 and (length - 2) % 8 == 0 and len(sacks[0]) == length, (
            f"a SACK option of length {length} ({sacks[0].hex()})")


@rfc("RFC2018-4-6", "RFC2018-8-2")
def test_first_sack_block_reports_the_newest_segment(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    peer.send_data(b"A" * 10, seq=seq_add(base, 100), advance=False)
    peer.expect("A", ack=base)
    peer.send_data(b"B" * 10, seq=seq_add(base, 300), advance=False)
    dup = peer.expect("A", ack=base)
    blocks = _blocks(dup)
    assert blocks and blocks[0] == (seq_add(base, 300), seq_add(base, 310)), f"first SACK block {blocks[:1]}"


@rfc("RFC2018-4-7", "RFC2018-4-8")
def test_every_held_block_is_reported(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    for offset in (100, 300, 500):
        peer.send_data(b"x" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base)
    reported = set(_blocks(dup))
    wanted = {(seq_add(base, o), seq_add(base, o + 10)) for o in (100, 300, 500)}
    assert wanted <= reported, f"held blocks {sorted(wanted)}, reported {sorted(reported)}"
    # RFC 2018 4: the option repeats the recent blocks "that are not subsets of a SACK block already
    # included in the SACK option being constructed": none twice.
    assert len(_blocks(dup)) == len(reported), f"a block reported twice in one SACK option: {_blocks(dup)}"


@pytest.mark.parametrize("offsets", [(100, 110), (110, 100)], ids=["upper-second", "lower-second"])
@rfc("RFC2018-4-6")
def test_adjacent_out_of_order_segments_merge_into_one_block(dut: DUT, offsets: tuple[int, int]) -> None:
    # Two pieces of 10 octets, [100, 110) and [110, 120) above RCV.NXT, in either order: the second
    # starts where the held one ends, or ends where it starts.
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    first, second = offsets
    peer.send_data(bytes([first]) * 10, seq=seq_add(base, first), advance=False)
    peer.expect("A", ack=base)
    peer.send_data(bytes([second]) * 10, seq=seq_add(base, second), advance=False)
    dup = peer.expect("A", ack=base)
    assert _blocks(dup)[:1] == [(seq_add(base, 100), seq_add(base, 120))], f"blocks {_blocks(dup)}"


@rfc("RFC2018-4-5")
def test_every_out_of_order_segment_draws_an_ack_with_sack_blocks(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    for offset in (100, 200, 300):
        peer.send_data(b"o" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base, within=1.0)
        assert _blocks(dup), f"the duplicate ACK for the segment at +{offset} carries no SACK option"


@rfc("RFC2018-4-8")
def test_blocks_that_do_not_fit_are_the_oldest_reported(dut: DUT) -> None:
    peer, _conn = established(dut, PORT, sack_permitted=True, timestamps=True)
    if not peer.sack_ok or not peer.ts_ok:
        pytest.skip("the DUT did not agree to SACK and timestamps (both optional): no room limit to see")
    base = peer.snd_nxt
    for offset in (100, 200, 300, 400):  # four blocks; with timestamps three fit (RFC 2018 3)
        peer.send_data(b"b" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base, within=1.0)
    reported = _blocks(dup)
    newest = [(seq_add(base, o), seq_add(base, o + 10)) for o in (400, 300, 200)]
    assert reported == newest, f"with four blocks held the DUT reported {reported}, not the three most recent {newest}"


@rfc("RFC2018-4-7", "RFC2018-4-8")
def test_without_timestamps_four_blocks_fit_and_the_newest_are_reported(dut: DUT) -> None:
    # RFC 2018 3: "the 40 bytes available for TCP options can specify a maximum of 4 blocks"; with
    # five held, the four most recent (4-8), and no more than fit.
    peer, _conn = _sack_connection(dut)  # no timestamps offered: the whole option space is free
    base = peer.snd_nxt
    offsets = (100, 200, 300, 400, 500)
    for offset in offsets:
        peer.send_data(b"f" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base, within=1.0)
    reported = _blocks(dup)
    newest = [(seq_add(base, o), seq_add(base, o + 10)) for o in reversed(offsets[1:])]
    assert reported == newest, f"with five blocks held the DUT reported {reported}, not the four most recent {newest}"


def _sack_sender(dut: DUT, rtt: float = 0.0) -> tuple[TCPPeer, TCPConn, list[object]]:
    """A SACK connection on which the DUT has sent a flight of data (at least four segments);
    its handshake takes ``rtt`` seconds (``TCPPeer.connect``)."""
    peer, conn = established(dut, PORT, sack_permitted=True, mss=536, rtt=rtt)
    if not peer.sack_ok:
        pytest.skip("the DUT did not answer SACK-Permitted (RFC 2018 SACK is optional); nothing to check")
    dut.tcp_send(conn, bytes(range(256)) * 40)
    flight = [peer.expect(data=lambda d: len(d) > 0, within=1.0, update=False)]
    while True:
        try:
            # Each segment where the last one ended: a retransmission (the DUT's timer ran while a
            # loaded tester was still reading) is no part of the flight.
            flight.append(peer.expect(seq=seq_end(flight[-1]), data=lambda d: len(d) > 0, within=0.1,
                                      update=False))
        except AssertionError:
            return peer, conn, flight


def _sack(left: int, right: int) -> list[tuple[str, object]]:
    return [("NOP", None), ("NOP", None), ("SAck", (left, right))]


def _span(seg: object) -> tuple[int, int]:
    tcp = seg[TCP]  # type: ignore[index]
    return tcp.seq, seq_add(tcp.seq, len(payload(seg)))  # type: ignore[arg-type]


@rfc("RFC2018-5-1")
def test_sacked_segments_are_not_retransmitted(dut: DUT) -> None:
    # The duplicate ACKs must reach the DUT before its retransmission timer runs out: a 300-ms
    # handshake makes that about 0.9 s (RFC 6298 2.2), not Linux's 200-ms floor.
    peer, _conn, flight = _sack_sender(dut, rtt=0.3)
    if len(flight) < 4:
        pytest.skip(f"the DUT's first flight was {len(flight)} segments: too few for three duplicate ACKs")
    una = _span(flight[0])[0]
    for seg in flight[1:4]:  # the first segment is lost; each later one is SACKed as it arrives
        peer.send_ack(ack=una, options=_sack(_span(flight[1])[0], _span(seg)[1]))
    peer.expect(seq=una, data=lambda d: len(d) > 0, within=1.0, update=False)  # fast retransmit
    sacked = {_span(s)[0] for s in flight[1:4]}
    peer.expect_none(seq=lambda s: s in sacked, data=lambda d: len(d) > 0, within=0.5)


@rfc("RFC2018-5-1")
def test_every_block_of_a_sack_option_is_recorded(dut: DUT) -> None:
    # Two holes (the first and the third segment lost): each duplicate ACK carries two blocks, the
    # newest first (RFC 2018 4), so the segment between the holes is only ever in the second.
    peer, _conn, flight = _sack_sender(dut, rtt=0.3)
    if len(flight) < 4:
        pytest.skip(f"the DUT's first flight was {len(flight)} segments: too few for two holes")
    una = _span(flight[0])[0]
    blocks = (*_span(flight[3]), *_span(flight[1]))
    for _ in range(3):
        peer.send_ack(ack=una, options=[("NOP", None), ("NOP", None), ("SAck", blocks)])
    peer.expect(seq=una, data=lambda d: len(d) > 0, within=1.0, update=False)  # the first hole goes again
    sacked = {_span(s)[0] for s in (flight[1], flight[3])}
    peer.expect_none(seq=lambda s: s in sacked, data=lambda d: len(d) > 0, within=0.5)


@rfc("RFC2018-5.1-2", "RFC2018-5-2", "RFC2018-5-3", "RFC2018-8-5")
def test_after_a_timeout_sacked_data_is_sent_again_if_the_ack_does_not_cover_it(dut: DUT) -> None:
    # The SACK must reach the DUT before its retransmission timer runs out, for the timeout to come
    # after it: a 0.5-s handshake makes that timer about 1.5 s (RFC 6298 2.2), not Linux's 200-ms
    # floor or a 1-s minimum a loaded tester can miss.
    peer, _conn, flight = _sack_sender(dut, rtt=0.5)
    if len(flight) < 2:
        pytest.skip("the DUT's first flight was one segment: nothing to SACK")
    una = _span(flight[0])[0]
    # Every segment but the first is SACKed, in one ACK (one duplicate: no fast retransmit).
    peer.send_ack(ack=una, options=_sack(_span(flight[1])[0], _span(flight[-1])[1]))
    sacked = peer.last_sent
    # The timeout's retransmission:
    again = peer.expect(seq=una, data=lambda d: len(d) > 0, within=5.0, update=False)
    if float(again.time) < sacked:
        pytest.skip(f"the DUT's retransmission timer ran {sacked - float(again.time):.2f} s before the "
                    "tester sent its SACK: a loaded tester, later than the DUT's timeout; the SACKed bits "
                    "came after the timeout, which then had nothing to turn off")
    # The receiver has reneged: it acknowledges the first segment and not the SACKed ones. The
    # second goes again at once, not only when the (backed-off, 2 s or more) timer runs out again.
    peer.send_ack(ack=_span(flight[0])[1])
    peer.expect(seq=_span(flight[1])[0], data=lambda d: len(d) > 0, within=1.0, update=False)
