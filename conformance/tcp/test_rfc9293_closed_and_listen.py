"""RFC 9293 3.10.7.1 and 3.10.7.2: segments to a closed port and to a listening socket."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Raw

from harness import DUT, MUST, described, multicast_mac
from harness.tcp_peer import TCPPeer, seq_add

PORT: Final = 7100  # listened on by the tests that need a listener
CLOSED: Final = 7199  # never listened on
SILENCE: Final = 1.0
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


@pytest.mark.parametrize("family", FAMILIES)
@described(9293, "3.10.7.1", MUST,
           "An incoming segment not containing a RST causes a RST to be sent in response. ... If the ACK bit "
           "is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>")
def test_syn_to_a_closed_port_draws_rst_ack_acknowledging_it(dut: DUT, family: int) -> None:
    peer = TCPPeer(dut, family, dut_port=CLOSED)  # type: ignore[arg-type]
    peer.send_syn()
    peer.expect("RA", seq=0, ack=seq_add(peer.iss, 1))


@described(9293, "3.10.7.1", MUST,
           "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>")
def test_rst_to_a_segment_without_ack_acknowledges_its_data_and_fin(dut: DUT) -> None:
    peer = TCPPeer(dut, dut_port=CLOSED)
    peer.send("F", b"twelve bytes", seq=5000)  # SEG.LEN counts the 12 data octets and the FIN
    peer.expect("RA", seq=0, ack=5000 + 12 + 1)


@pytest.mark.parametrize("family", FAMILIES)
@described(9293, "3.10.7.1", MUST, "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>")
def test_ack_to_a_closed_port_draws_rst_from_its_ack_field(dut: DUT, family: int) -> None:
    peer = TCPPeer(dut, family, dut_port=CLOSED)  # type: ignore[arg-type]
    peer.send_data(b"stray data", seq=1234, ack=0xDEADBEEF)
    peer.expect("R", seq=0xDEADBEEF)


@described(9293, "3.10.7.1", MUST, "An incoming segment containing a RST is discarded.")
def test_rst_to_a_closed_port_draws_nothing(dut: DUT) -> None:
    peer = TCPPeer(dut, dut_port=CLOSED)
    peer.send_rst(seq=1)
    peer.send("RA", seq=2, ack=3, advance=False)
    peer.expect_none(within=SILENCE)
    peer.send_syn()  # positive control: the same port does answer a SYN
    peer.expect("RA")


@described(9293, "3.10.7.2", MUST,
           "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control or text should be queued "
           "for processing later. ISS should be selected and a SYN segment sent of the form: "
           "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>")
@pytest.mark.parametrize("family", FAMILIES)
def test_syn_to_a_listener_draws_syn_ack_acknowledging_it(dut: DUT, family: int) -> None:
    dut.tcp_listen(PORT, family)  # type: ignore[arg-type]
    peer = TCPPeer(dut, family, dut_port=PORT)  # type: ignore[arg-type]
    peer.send_syn()
    synack = peer.expect("SA", ack=seq_add(peer.iss, 1))
    assert synack[TCP].window > 0, "a SYN-ACK offering no receive window"


@described(9293, "3.10.7.2", MUST,
           "An incoming RST segment could not be valid since it could not have been sent in response to "
           "anything sent by this incarnation of the connection. An incoming RST should be ignored.")
def test_rst_to_a_listener_is_ignored(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_rst(seq=100)
    peer.expect_none(within=SILENCE)
    assert dut.tcp_accept(PORT, within=0.1) is None
    peer.connect()  # positive control: the listener still takes connections
    assert dut.tcp_accept(PORT) is not None


@described(9293, "3.10.7.2", MUST,
           "An incoming RST segment could not be valid since it could not have been sent in response to "
           "anything sent by this incarnation of the connection. An incoming RST should be ignored.")
def test_rst_ack_to_a_listener_draws_no_rst(dut: DUT) -> None:
    # The RST comes first: a listener that took the ACK bit of a RST,ACK for an ACK to a
    # listener (the third check) would answer a reset with a reset.
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_rst(seq=100, ack=0x12345678, flags="RA")
    peer.expect_none(within=SILENCE)
    assert dut.tcp_accept(PORT, within=0.1) is None
    peer.send_ack(seq=100, ack=0x12345678)  # positive control: the same ACK without RST is answered
    peer.expect("R", seq=0x12345678)


@pytest.mark.parametrize("octets", [pytest.param(12, id="ports-and-numbers-only"), pytest.param(19, id="one-short")])
@described(9293, "3.1", MUST,
           "The number of 32-bit words in the TCP header. This indicates where the data begins. "
           "The TCP header (even one including options) is an integer multiple of 32 bits long.")
def test_segment_shorter_than_a_tcp_header_is_discarded(dut: DUT, octets: int) -> None:
    # A SYN to a listener cut short: fewer octets than the 20 of the fixed header hold no valid
    # Data Offset, so there is no segment to answer, with a SYN-ACK or a RST.
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    syn = bytes(peer.segment("S")[TCP])
    dut.send(peer.ip(proto=6) / Raw(syn[:octets]))
    dut.expect_none(TCP(sport=PORT), within=SILENCE, barrier=True)
    peer.send_syn()  # positive control: the whole SYN is answered
    peer.expect("SA", ack=seq_add(peer.iss, 1))


@pytest.mark.parametrize("group", [
    pytest.param("224.0.0.1", id="ipv4-multicast"), pytest.param("255.255.255.255", id="limited-broadcast"),
    pytest.param("subnet", id="subnet-broadcast"), pytest.param("ff02::1", id="ipv6-multicast"),
])
@described(9293, "3.9.2.3", MUST,
           "A TCP implementation MUST silently discard an incoming SYN segment | that is addressed to a "
           "broadcast or multicast address [(MUST-57)].")
def test_syn_to_a_broadcast_or_multicast_address_is_discarded(dut: DUT, group: str) -> None:
    family = 6 if ":" in group else 4
    address = str(dut.info.dut_ipv4.network.broadcast_address) if group == "subnet" else group
    mac = "ff:ff:ff:ff:ff:ff" if address.endswith("255") else multicast_mac(address)
    dut.tcp_listen(PORT, family)  # type: ignore[arg-type]
    # A listener on the wildcard address: a DUT that took the SYN would answer it from PORT.
    syn = TCPPeer(dut, family, dut_port=PORT, dut_addr=address).segment("S")  # type: ignore[arg-type]
    syn.dst = mac  # the link-layer address the group or the broadcast goes to
    dut.send(syn)
    dut.expect_none(TCP(sport=PORT), within=SILENCE, barrier=True)
    assert dut.tcp_accept(PORT, family, within=0.1) is None  # type: ignore[arg-type]
    peer = TCPPeer(dut, family, dut_port=PORT)  # type: ignore[arg-type]
    peer.send_syn()  # positive control: the same SYN to the DUT's unicast address
    peer.expect("SA", ack=seq_add(peer.iss, 1))


@described(9293, "3.10.7.2", MUST,
           "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An acceptable "
           "reset segment should be formed for any arriving ACK-bearing segment. The RST should be formatted "
           "as follows: <SEQ=SEG.ACK><CTL=RST>")
def test_ack_to_a_listener_draws_rst_from_its_ack_field(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_ack(seq=777, ack=0x12345678)
    peer.expect("R", seq=0x12345678)
    assert dut.tcp_accept(PORT, within=0.1) is None


@described(9293, "3.10.7.2", MUST,
           "Fourth, other data or control: - This should not be reached. Drop the segment and return.")
def test_segment_without_syn_ack_or_rst_to_a_listener_is_dropped(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send("P", b"no control bits", seq=900)
    peer.send("F", seq=950)
    peer.expect_none(within=SILENCE)
    peer.connect()  # positive control: the listener answers a SYN
    assert dut.tcp_accept(PORT) is not None


@described(9293, "3.5.2", MUST,
           "If the connection does not exist (CLOSED), then a reset is sent in response to any incoming "
           "segment except another reset. A SYN segment that does not match an existing connection is "
           "rejected by this means.")
def test_syn_to_a_closed_listener_is_rejected_with_rst(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    dut.tcp_close_listener(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    peer.expect("RA", seq=0, ack=seq_add(peer.iss, 1))


@described(9293, "3.5", MUST,
           "Although these examples do not show connection synchronization using data-carrying segments, this "
           "is perfectly legitimate, so long as the receiving TCP endpoint doesn't deliver the data to the user "
           "until it is clear the data is valid")
def test_data_on_a_syn_is_delivered_once_after_the_handshake(dut: DUT) -> None:
    # RFC 9293 3.10.7.2 has LISTEN queue the text ("any other control or text should be queued for
    # processing later", a lower-case should), and 3.4 leaves it a "trade-off between memory and
    # messages": a DUT may keep the text or leave it unacknowledged for the peer to send again (Linux
    # without a Fast Open cookie). Either way the text reaches the application once, after the handshake.
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send("S", b"early", seq=peer.iss)
    taken, left = seq_add(peer.iss, 6), seq_add(peer.iss, 1)
    synack = peer.expect("SA", ack=lambda ack: ack in (taken, left))
    assert dut.tcp_accept(PORT, within=0.2) is None, "a connection was handed over before the handshake completed"
    if synack[TCP].ack == left:  # the text is not acknowledged: the peer sends it again, as TCP does
        peer.snd_nxt = left
        peer.send_ack()
        peer.send_data(b"early")
    else:
        peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    assert dut.tcp_recv(conn, within=1.0) == b"early", "the text of the SYN was not delivered"
    if synack[TCP].ack == left:
        peer.expect("A", ack=taken)
    assert dut.tcp_recv(conn, within=0.3) is None, "the text of the SYN was delivered twice"


@described(9293, "3.10.7.2", MUST,
           "If the listen was not fully specified (i.e., the remote socket was not fully specified), then "
           "the unspecified fields should be filled in now.")
def test_listener_serves_several_remote_sockets_at_once(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    first, second = TCPPeer(dut, dut_port=PORT), TCPPeer(dut, dut_port=PORT)
    a = first.connect_accepted()
    b = second.connect_accepted()
    first.send_data(b"from the first")
    second.send_data(b"from the second")
    assert dut.tcp_recv(b) == b"from the second"
    assert dut.tcp_recv(a) == b"from the first"
