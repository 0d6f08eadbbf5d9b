"""RFC 2018: the SACK-Permitted option and the SACK blocks a data receiver reports for data
it holds above a hole. SACK is optional: tests that need it skip when the DUT does not answer
SACK-Permitted, and the rules that bind every TCP (never SACK unless permitted) always run."""

from __future__ import annotations

from typing import Final

import pytest

from harness import DUT, TCPConn, rfc
from harness.tcp_peer import TCPPeer, established, option, seq_add

PORT: Final = 8600


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


@rfc("RFC2018-4-3")
def test_no_sack_blocks_without_sack_permitted(dut: DUT) -> None:
    peer, _conn = established(dut, PORT)
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


@rfc("RFC2018-4-7")
def test_every_held_block_is_reported(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    for offset in (100, 300, 500):
        peer.send_data(b"x" * 10, seq=seq_add(base, offset), advance=False)
        dup = peer.expect("A", ack=base)
    reported = set(_blocks(dup))
    wanted = {(seq_add(base, o), seq_add(base, o + 10)) for o in (100, 300, 500)}
    assert wanted <= reported, f"held blocks {sorted(wanted)}, reported {sorted(reported)}"


@rfc("RFC2018-4-6")
def test_adjacent_out_of_order_segments_merge_into_one_block(dut: DUT) -> None:
    peer, _conn = _sack_connection(dut)
    base = peer.snd_nxt
    peer.send_data(b"a" * 10, seq=seq_add(base, 100), advance=False)
    peer.expect("A", ack=base)
    peer.send_data(b"b" * 10, seq=seq_add(base, 110), advance=False)
    dup = peer.expect("A", ack=base)
    assert _blocks(dup)[:1] == [(seq_add(base, 100), seq_add(base, 120))]
