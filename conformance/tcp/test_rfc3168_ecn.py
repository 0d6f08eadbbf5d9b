"""RFC 3168 section 6.1 as far as every TCP is bound, ECN-capable or not: the ECN-setup
handshake is answered only when offered, SYNs and pure ACKs never carry an ECT codepoint, and
data carries one only on a connection that set ECN up. (An ECN-capable DUT's reactions to
congestion marks need the DUT to negotiate ECN; see the catalog's untested entries.)"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness import DUT, rfc
from harness.tcp_peer import TCPPeer, established, seq_add

PORT: Final = 8450
ECE: Final = 0x40
CWR: Final = 0x80


def _ecn_field(seg: Packet) -> int:
    """The two ECN bits of the IP header (RFC 3168 5): 0 is Not-ECT."""
    return int(seg[IP].tos & 3) if IP in seg else int(seg[IPv6].tc & 3)


def _tcp_flags(seg: Packet) -> int:
    return int(seg.getlayer("TCP").flags)


@rfc("RFC3168-6.1.1-2")
def test_a_syn_without_ecn_setup_draws_no_ecn_setup_syn_ack(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("Sae", ack=seq_add(peer.iss, 1))  # ECE may show; checked below
    assert not _tcp_flags(synack) & ECE, "a SYN without ECE and CWR drew an ECN-setup SYN-ACK (ECE set)"


@pytest.mark.parametrize("tos", [pytest.param(None, id="default"), pytest.param(0x03, id="application-tos-with-ecn-bits")])
@rfc("RFC3168-6.1.1-3", "RFC3168-6.1.1-4")
def test_data_of_a_connection_without_ecn_is_not_ect(dut: DUT, tos: int | None) -> None:
    peer, conn = established(dut, PORT)
    if tos is not None:
        # IP_TOS with both ECN bits set: the ECN field is TCP's, which set no ECN up (the
        # application's octet sets the Differentiated Services field only, RFC 9293 3.9.1.9).
        dut.tcp_set_option(conn, "tos", tos)
    dut.tcp_send(conn, b"data without ECN")
    data = peer.expect(data=b"data without ECN")
    assert _ecn_field(data) == 0, f"data on a connection that never set ECN up carries ECN field {_ecn_field(data)}"


@rfc("RFC3168-6.1.1-7")
def test_the_duts_syn_sets_ece_and_cwr_together_or_neither(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    syn = TCPPeer.for_connection(dut, conn).expect("Sec")
    both = _tcp_flags(syn) & (ECE | CWR)
    assert both in (0, ECE | CWR), "the DUT's SYN sets one of ECE and CWR: neither ECN-setup nor clearly without ECN"


@rfc("RFC3168-6.1.1-8")
def test_a_syn_with_only_cwr_is_handled_as_a_syn_without_ecn(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send("SC", seq=peer.iss)  # CWR without ECE: a non-ECN-setup SYN
    synack = peer.expect("Sae", ack=seq_add(peer.iss, 1))
    assert not _tcp_flags(synack) & ECE, "a SYN with CWR alone drew an ECN-setup SYN-ACK"
    peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    peer.send_data(b"after an odd SYN")
    assert dut.tcp_recv(conn) == b"after an odd SYN"


@rfc("RFC3168-6.1.1-9")
def test_syn_and_syn_ack_are_not_ect(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send("SEC", seq=peer.iss)  # an ECN-setup SYN: an ECN-capable DUT answers in kind
    synack = peer.expect("Sae", ack=seq_add(peer.iss, 1))
    assert _ecn_field(synack) == 0, f"the SYN-ACK carries ECN field {_ecn_field(synack)}"
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT + 1)
    syn = TCPPeer.for_connection(dut, conn).expect("Sec")
    assert _ecn_field(syn) == 0, f"the DUT's SYN carries ECN field {_ecn_field(syn)}"


@rfc("RFC3168-6.1.4-1", "RFC3168-5.2-2")
def test_pure_acks_are_not_ect_even_when_ecn_is_set_up(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send("SEC", seq=peer.iss)
    synack = peer.expect("Sae", ack=seq_add(peer.iss, 1))
    ecn = bool(_tcp_flags(synack) & ECE)
    peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    data = peer.segment("PA", b"marked ECT(0)" if ecn else b"not marked")
    if ecn:
        (data[IP] if IP in data else data[IPv6]).tos = 2  # ECT(0) on the peer's data, as ECN allows
    peer.send_segment(data)
    ack = peer.expect("Ae", ack=peer.snd_nxt, data=b"", within=1.0)
    # Without ECN set up (an ECN-incapable DUT) the rule holds as RFC 3168 6.1.1-3 does; with it,
    # the DUT marks its data ECT but never its pure ACKs.
    assert _ecn_field(ack) == 0, f"a pure ACK carries ECN field {_ecn_field(ack)} (ECN {'' if ecn else 'not '}set up)"
