"""RFC 9293 on what the DUT sends and takes beyond the state machine: the form of its options
(3.1), PUSH and full-sized segments (3.9.1.2), IP options on arriving segments (3.9.2), the OPEN
call's checks (3.9.1.1), the report of a soft error (3.9.1.8), and the Differentiated Services
field and TTL the application sets (3.9.1.9, 3.9.2)."""

from __future__ import annotations

import contextlib
from typing import Final

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness import DUT, MUST, TCPError, described, rfc
from harness.frames import with_ipv4_options
from harness.tcp_peer import TCPPeer, established, payload, seq_add

PORT: Final = 8950
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def _option_bytes(seg: Packet) -> bytes:
    tcp = seg[TCP]
    return bytes(tcp)[20:tcp.dataofs * 4]


def _well_formed(options: bytes) -> str | None:
    """Why ``options`` break RFC 9293 3.1's rule, or None: every option but End of Option List
    (0) and No-Operation (1) has a length octet, at least 2, that stays inside the header."""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            return None
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(options):
            return f"option kind {kind} at offset {i} has no length octet"
        length = options[i + 1]
        if length < 2 or i + length > len(options):
            return f"option kind {kind} at offset {i} has length {length}"
        i += length
    return None


@rfc("RFC9293-3.1-8")
def test_every_option_the_dut_sends_has_a_length_field(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, wscale=7, sack_permitted=True, timestamps=True)
    segments = [peer.connect()]
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    out = dut.tcp_connect(str(dut.info.tester_ipv4), PORT + 1)
    segments.append(TCPPeer.for_connection(dut, out).expect("S"))  # the DUT's own SYN
    dut.tcp_send(conn, b"data with options")
    segments.append(peer.expect(data=b"data with options"))
    for seg in segments:
        problem = _well_formed(_option_bytes(seg))
        assert problem is None, f"{seg.sprintf('%TCP.flags%')} segment: {problem}"


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.9.1.2-2", quote="(2) MUST set the PSH bit in the last buffered segment (i.e., when there is no more "
                                  "queued data to be sent) (MUST-61)")
def test_the_last_segment_of_a_send_carries_psh(dut: DUT, family: int) -> None:
    peer, conn = established(dut, PORT, family, mss=536)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, bytes(range(256)) * 10) == 2560
    got = 0
    last = None
    while got < 2560:
        # (1): not buffered indefinitely. New data only: a retransmission (the DUT's timer ran
        # before a loaded tester's ACK) is not the SEND's next segment and would end the count early.
        last = peer.expect(seq=peer.rcv_nxt, data=lambda d: len(d) > 0, within=2.0)
        got += len(payload(last))
        peer.send_ack()
    assert last is not None and "P" in last.sprintf("%TCP.flags%"), "the segment ending the SEND carries no PSH"


@pytest.mark.parametrize("sack", [pytest.param(False, id="no-options"), pytest.param(True, id="with-sack-blocks")])
@rfc("RFC9293-3.9.1.2-5")
def test_segments_are_full_sized_where_the_data_allows(dut: DUT, sack: bool) -> None:
    peer, conn = established(dut, PORT, mss=1000, sack_permitted=sack)
    if sack:
        # The peer's data above a hole: while the DUT holds it, its segments may carry SACK blocks
        # (RFC 2018 4), and a full-sized segment is then Eff.snd.MSS = 1000 less those options
        # (3.7.1: TCPhdrsize counts "any options").
        if not peer.sack_ok:
            pytest.skip("the DUT did not answer SACK-Permitted (RFC 2018 SACK is optional)")
        peer.send_data(b"above a hole", seq=seq_add(peer.snd_nxt, 100), advance=False)
        peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_send(conn, bytes(5500)) == 5500
    sizes = []
    while sum(size for size, _ in sizes) < 5500:
        seg = peer.expect(data=lambda d: len(d) > 0, within=2.0)
        sizes.append((len(payload(seg)), seg[TCP].dataofs * 4 - 20))
        peer.send_ack()
    assert all(size + options == 1000 for size, options in sizes[:-1]), (
        f"5500 octets went out as {sizes} (data, option octets) with MSS 1000")


@rfc("RFC9293-3.9.2-3")
def test_a_segment_with_an_ip_option_tcp_does_not_know_is_taken(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    # IPv4 option type 30 (not copied, class 0): assigned to nothing a host implements.
    dut.send(with_ipv4_options(peer.segment("PA", b"with an IP option"), bytes([30, 4, 0xAB, 0xCD])))
    peer.snd_nxt = (peer.snd_nxt + len(b"with an IP option")) % 2**32
    assert dut.tcp_recv(conn) == b"with an IP option", "the text of a segment with an unknown IP option was lost"
    peer.expect("A", ack=peer.snd_nxt)


@pytest.mark.parametrize("address", [
    pytest.param("224.0.0.1", id="ipv4-multicast"), pytest.param("255.255.255.255", id="limited-broadcast"),
    pytest.param("198.51.100.255", id="subnet-broadcast"), pytest.param("ff02::1", id="ipv6-multicast"),
])
@rfc("RFC9293-3.9.1.1-6")
def test_open_to_a_broadcast_or_multicast_address_is_refused(dut: DUT, address: str) -> None:
    with pytest.raises((TCPError, ValueError)):
        dut.tcp_connect(address, PORT)
    dut.expect_none(TCP(flags="S"), within=0.3)
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)  # positive control: a unicast address
    TCPPeer.for_connection(dut, conn).expect("S")


@rfc("RFC9293-3.9.1.1-1")
def test_a_new_listen_leaves_an_established_connection_alone(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_close_listener(PORT)
    with contextlib.suppress(TCPError, ValueError):
        dut.tcp_listen(PORT)  # a new passive OPEN on the same port: a new record, or an error
    peer.send_data(b"still here")
    assert dut.tcp_recv(conn) == b"still here"
    dut.tcp_send(conn, b"and answering")
    peer.expect(data=b"and answering")
    assert dut.tcp_state(conn) == "ESTABLISHED"


@rfc("RFC9293-3.9.1.8-1")
def test_a_soft_error_is_what_the_application_hears_when_the_connection_times_out(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_set_option(conn, "user_timeout", 3.0)
    dut.tcp_send(conn, b"never acknowledged")
    data = peer.expect(data=b"never acknowledged")
    dut.send(peer.icmp_error(data, type=3, code=1))  # Host Unreachable: a soft error
    with pytest.raises(TCPError) as failure:
        for _ in range(20):
            dut.tcp_recv(conn, within=1.0)
    assert failure.value.kind == "unreachable", (
        f"the connection failed as {failure.value.kind!r}; the soft error (host unreachable) was not reported")


@rfc("RFC9293-3.9.1.2-3")
def test_successive_pushed_sends_are_collapsed_into_one_segment(dut: DUT) -> None:
    # A 0.3-s handshake keeps the DUT's retransmission timer near a second (RFC 6298 2.2), longer
    # than a loaded tester takes for the five SENDs below.
    peer, conn = established(dut, PORT, mss=1000, rtt=0.3)
    assert dut.tcp_send(conn, b"f" * 100) == 100
    peer.expect(data=b"f" * 100)  # left unacknowledged: the sends below queue behind it
    for i in range(5):
        assert dut.tcp_send(conn, bytes([0x30 + i]) * 40) == 40  # five SENDs, each one PUSHed
    dut.wait(0.05)
    peer.send_ack()
    seg = peer.expect(seq=peer.rcv_nxt, data=lambda d: len(d) > 0, within=1.0)
    # "collapse successive bits when it packetizes data, to send the largest possible segment":
    # the five PUSHed SENDs travel together, not as five small segments.
    assert len(payload(seg)) == 200, f"five queued 40-octet SENDs left in a segment of {len(payload(seg))} octets"


@rfc("RFC9293-3.9.1.1-2")
def test_listen_on_the_local_port_of_a_connection_in_syn_sent(dut: DUT) -> None:
    local = PORT + 20
    out = dut.tcp_connect(str(dut.info.tester_ipv4), PORT + 21, sport=local)
    TCPPeer.for_connection(dut, out).expect("S")  # left unanswered: the connection stays in SYN-SENT
    dut.tcp_listen(local)  # MUST-42: a LISTEN on the same local port is allowed
    peer = TCPPeer(dut, dut_port=local)
    peer.connect()
    assert dut.tcp_accept(local) is not None, "the listener beside a SYN-SENT connection accepted nothing"
    assert dut.tcp_state(out) == "SYN-SENT"


def _ds_field(seg: Packet) -> int:
    """The Differentiated Services field (the six high bits of TOS / Traffic Class)."""
    return int(seg[IP].tos >> 2) if IP in seg else int(seg[IPv6].tc >> 2)


def _ttl(seg: Packet) -> int:
    return int(seg[IP].ttl) if IP in seg else int(seg[IPv6].hlim)


AF11: Final = 10  # DSCP AF11 (RFC 2597), in the IP_TOS octet as 10 << 2
EF: Final = 46  # DSCP EF (RFC 3246)
LE: Final = 1  # DSCP LE (RFC 8622): the lowest bit of the field set


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.9.1.9-1", "RFC9293-3.9.1.9-3")
def test_the_application_sets_the_ds_field_of_every_segment(dut: DUT, family: int) -> None:
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    dut.tcp_send(conn, b"default")
    before = peer.expect(data=b"default")
    assert _ds_field(before) != AF11, "the DS field is AF11 before the application asked for it: no control"
    peer.send_ack()
    dut.tcp_set_option(conn, "tos", AF11 << 2)
    dut.tcp_send(conn, b"marked")
    segments = [peer.expect(data=b"marked")]
    peer.send_data(b"an ACK follows")
    segments.append(peer.expect("A", ack=peer.snd_nxt, data=b""))
    dut.tcp_shutdown(conn)
    segments.append(peer.expect("FA"))
    for seg in segments:  # data, a pure ACK and the FIN: the value passes to IP unchanged
        assert _ds_field(seg) == AF11, (
            f"a {seg.sprintf('%TCP.flags%')} segment carries DS field {_ds_field(seg)}, not AF11 ({AF11}) as set")


@rfc("RFC9293-3.9.1.9-2")
def test_the_ds_field_can_change_during_the_connection(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_set_option(conn, "tos", AF11 << 2)
    dut.tcp_send(conn, b"first")
    assert _ds_field(peer.expect(data=b"first")) == AF11
    peer.send_ack()
    for dscp, data in ((EF, b"then"), (LE, b"and then")):
        dut.tcp_set_option(conn, "tos", dscp << 2)
        dut.tcp_send(conn, data)
        seg = peer.expect(data=data)
        assert _ds_field(seg) == dscp, f"after a change to {dscp} the DS field is {_ds_field(seg)}"
        peer.send_ack()


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.9.2-1")
def test_the_ttl_of_the_segments_is_configurable(dut: DUT, family: int) -> None:
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    dut.tcp_send(conn, b"default")
    default = _ttl(peer.expect(data=b"default"))
    peer.send_ack()
    chosen = 17 if default != 17 else 18
    dut.tcp_set_option(conn, "ttl", chosen)
    dut.tcp_send(conn, b"configured")
    seg = peer.expect(data=b"configured")
    assert _ttl(seg) == chosen, f"TTL {_ttl(seg)} after the application set {chosen} (default {default})"


@rfc("RFC9293-3.9.1.1-5")
def test_every_segment_of_a_connection_comes_from_its_local_address(dut: DUT) -> None:
    info = dut.info
    primary = str(info.dut_ipv6.ip)
    added = str(info.dut_ipv6.network.network_address + 5)  # same /64: source selection cannot tell them apart
    dut.add_address(f"{added}/64")
    dut.tcp_listen(PORT, 6)
    peer = TCPPeer(dut, 6, dut_port=PORT, dut_addr=added)
    peer.connect()  # to the added address; the peer matches the DUT's segments by that source
    conn = dut.tcp_accept(PORT, 6)
    assert conn is not None
    dut.tcp_send(conn, b"from the address the peer chose")
    peer.expect(data=b"from the address the peer chose")
    peer.send_ack()
    # Nothing of this connection may leave from the other address (MUST-45) ...
    dut.tcp_send(conn, b"and again")
    dut.expect_none(IPv6(src=primary, dst=peer.addr), TCP(sport=PORT, dport=peer.port), within=0.3)
    peer.expect(data=b"and again")  # ... while it goes on from the added one (positive control)


@described(9293, "3.4", MUST,
           "A fundamental notion in the design is that every octet of data sent over a TCP connection has a "
           "sequence number.")
def test_a_long_stream_arrives_octet_for_octet(dut: DUT) -> None:
    # Several times 64 KiB, the peer acknowledging as it goes: each octet must come at its own
    # sequence number however the DUT keeps what it has sent (a buffer cut as ACKs come, say).
    total = 300_000
    data = bytes((7 * i) % 251 for i in range(total))
    peer, conn = established(dut, PORT, window=65535)
    sent = 0
    got = bytearray()
    while len(got) < total:
        if sent < total:
            sent += dut.tcp_send(conn, data[sent:])
        assert sent > len(got), "the DUT's send buffer took nothing while all it held was acknowledged"
        got += peer.receive(sent - len(got), within=10.0)
    first_bad = next((i for i in range(total) if got[i] != data[i]), None)
    assert first_bad is None, f"the stream differs from what the application sent from octet {first_bad} on"


@described(9293, "3.4", MUST,
           "A fundamental notion in the design is that every octet of data sent over a TCP connection has a "
           "sequence number.")
def test_a_long_stream_to_the_dut_is_read_octet_for_octet(dut: DUT) -> None:
    # The other direction: the application reads well over 64 KiB as it comes, so the DUT's
    # receive buffer is cut as it is read.
    total = 200_000
    data = bytes((5 * i) % 241 for i in range(total))
    peer, conn = established(dut, PORT)
    sent = 0
    got = bytearray()
    while len(got) < total:
        while sent < total:
            n = min(peer.mss, total - sent, peer.dut_window)  # each segment is acknowledged before the next
            if n <= 0:
                break
            peer.send_data(data[sent:sent + n])
            sent += n
            peer.expect("A", ack=peer.snd_nxt, within=2.0)
        more = dut.tcp_recv(conn, max=30_000, within=2.0)
        assert more, f"the application read nothing with {sent - len(got)} octets sent and unread"
        got += more
        if sent < total and peer.dut_window < peer.mss:
            # The read opened the window: the DUT's update says by how much (RFC 9293 3.8.6.2.2).
            peer.expect("A", window=lambda w: w > 0, within=2.0)
    first_bad = next((i for i in range(total) if got[i] != data[i]), None)
    assert first_bad is None, f"the application read other data than the peer sent from octet {first_bad} on"
