"""RFC 6528 and RFC 9293 3.4.1: initial sequence numbers, as far as a black box shows them:
a clock that ticks about every 4 microseconds, plus a pseudorandom offset per connection-id, so
connections with different ports get unrelated ISNs and one connection-id's ISN climbs with time."""

from __future__ import annotations

import itertools
from typing import Final

from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, rfc
from harness.tcp_peer import TCPPeer, seq_add, seq_diff

PORT: Final = 8800
SAMPLES: Final = 6
TICKS_PER_SECOND: Final = 250_000  # "roughly every 4 microseconds"


def _synack(dut: DUT, port: int | None = None, isn: int | None = None) -> Packet:
    """The DUT's SYN-ACK to a SYN from ``port`` (sequence number ``isn``); its ``time`` is about
    when the DUT chose its ISN."""
    peer = TCPPeer(dut, dut_port=PORT, port=port, isn=isn)
    peer.send_syn()
    synack = peer.expect("SA", ack=seq_add(peer.iss, 1))
    peer.send_rst(seq=peer.snd_nxt)  # the listener forgets the half-open connection
    return synack


def _isn(dut: DUT, port: int | None = None) -> int:
    return int(_synack(dut, port)[TCP].seq)


@rfc("RFC9293-3.4.1-1", quote="SHOULD generate its initial sequence numbers with the expression")
def test_isns_of_different_connection_ids_are_unrelated(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    isns = [_isn(dut) for _ in range(SAMPLES)]  # each from a fresh source port, back to back
    steps = [seq_diff(b, a) for a, b in itertools.pairwise(isns)]
    assert len(set(isns)) == SAMPLES, f"repeated ISNs: {isns}"
    assert len(set(steps)) == len(steps), f"ISNs step by a constant: {steps}"
    assert max(abs(s) for s in steps) > 2**24, f"ISNs of different connections lie close together: {steps}"


@rfc("RFC9293-3.4.1-1")
def test_isn_of_one_connection_id_climbs_with_the_clock(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    port = TCPPeer(dut, dut_port=PORT).port
    first = _synack(dut, port)
    dut.wait(1.0)
    # Another ISN of the peer's: the SYN-ACK answering it is no retransmission of the first one
    # (the DUT's timer sends that again when a loaded tester's RST comes late).
    second = _synack(dut, port, isn=seq_add(int(first[TCP].ack), 100_000))
    # Timed at the DUT, from one SYN-ACK's arrival to the other's, not from the tester's clock
    # around its own work (a loaded tester may be late anywhere in between).
    elapsed = float(second.time) - float(first.time)
    advance = seq_diff(int(second[TCP].seq), int(first[TCP].seq))
    assert advance > 0, f"the same connection-id got an ISN {-advance} lower after {elapsed:.2f} s"
    expected = elapsed * TICKS_PER_SECOND
    assert expected / 2 <= advance <= expected * 2, (
        f"the ISN advanced {advance} in {elapsed:.2f} s; a clock ticking every 4 us advances about {expected:.0f}")
