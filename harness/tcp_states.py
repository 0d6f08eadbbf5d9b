"""Bring a DUT's TCP connection into a given RFC 9293 3.3.2 state, from the tester's side.

``connection_in(dut, "CLOSING", port)`` returns the peer and the DUT's connection in that
state (checked with ``tcp_state``), reached the way RFC 9293 3.6 draws it: the DUT's
application half-closes (``tcp_shutdown``) or closes, and the peer acknowledges and sends
FINs, or holds them back. The DUT's side closes with ``tcp_shutdown`` where it can, so the
handle still reads and the DUT keeps the connection as long as a test needs.
"""

from __future__ import annotations

from typing import Any, Final

from harness.dut import DUT, Family, TCPConn, TCPState
from harness.tcp_peer import TCPPeer, established

# RFC 9293 3.10.7.4 (SEGMENT ARRIVES), quoted by the tests of several states.
UNACCEPTABLE_SEGMENT_IS_ACKED: Final = (
    "If an incoming segment is not acceptable, an acknowledgment should be sent in reply "
    "(unless the RST bit is set, if so drop the segment and return): "
    "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> o After sending the acknowledgment, drop the "
    "unacceptable segment and return.")
SEND_WINDOW_UPDATE: Final = (
    "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 < "
    "SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set "
    "SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK.")

SYNCHRONIZED: Final[tuple[TCPState, ...]] = (
    "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
)


def connection_in(dut: DUT, state: TCPState, port: int, family: Family = 4, **peer: Any) -> tuple[TCPPeer, TCPConn]:
    """A connection of the DUT in ``state`` (one of ``SYNCHRONIZED``) with its peer."""
    tester, conn = established(dut, port, family, **peer)
    if state in ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "TIME-WAIT"):
        dut.tcp_shutdown(conn)  # case 1: the local user closes (for sending)
        fin = tester.expect("FA")
        if state == "FIN-WAIT-2":
            tester.send_ack()
        elif state == "CLOSING":
            tester.send_fin(ack=fin.seq)  # figure 13: a FIN that does not acknowledge the DUT's
            tester.expect("A", ack=tester.snd_nxt)
        elif state == "TIME-WAIT":
            tester.send_fin()  # acknowledges the DUT's FIN and ends the peer's direction
            tester.expect("A", ack=tester.snd_nxt)
    elif state in ("CLOSE-WAIT", "LAST-ACK"):
        tester.send_fin()  # case 2: the FIN comes from the network
        tester.expect("A", ack=tester.snd_nxt)
        if state == "LAST-ACK":
            dut.tcp_shutdown(conn)
            tester.expect("FA")
    elif state != "ESTABLISHED":
        raise ValueError(f"connection_in: {state} is not a synchronized state")
    dut.wait(0.05)
    now = dut.tcp_state(conn)
    assert now == state, f"the DUT's connection is in {now}, not in {state}, after the exchange that leads there"
    return tester, conn

