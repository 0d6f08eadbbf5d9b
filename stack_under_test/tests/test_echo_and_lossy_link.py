"""The host's echo services (``python -m stack_under_test --udp-echo/--tcp-echo``) and the lossy
link (``--link-loss``) the real-client tests run over. No DUT verb starts an echo service, so
these tests are the only ones that can see a fault in them."""

from __future__ import annotations

import random

from stack_under_test.echo import TCPEcho, UDPEcho
from stack_under_test.link.channel import ChannelEndpoint
from stack_under_test.link.lossy import LossyEndpoint
from stack_under_test.tests._ipv4_bench import DUT, TESTER, eth, ipv4, make_bench, parse_out, udp
from stack_under_test.tests._tcp_bench import Peer, TCPBench
from stack_under_test.wire.tcp import ACK, FIN, SYN


class _Counting:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)


def test_lossy_link_loses_its_share_both_ways_and_passes_the_rest() -> None:
    inner = ChannelEndpoint(mac=b"\x02\x00\x00\x00\x00\x01")
    link = LossyEndpoint(inner, 0.25, random.Random(7))
    nic = _Counting()
    link.attach(nic)  # type: ignore[arg-type]
    for i in range(2000):
        inner.inject_inbound(b"in %d" % i)
        assert link.write_frame(b"out %d" % i)  # the NIC is never told of a loss
    out = inner.drain()
    assert 1300 < len(nic.frames) < 1700 and len(nic.frames) + link.lost_inbound == 2000
    assert 1300 < len(out) < 1700 and len(out) + link.lost_outbound == 2000
    assert len(set(nic.frames)) == len(nic.frames)  # passed unchanged, once each


def test_tcp_echo_sends_back_what_arrives_and_closes_after_the_peers_fin() -> None:
    bench = TCPBench(4)
    echo = TCPEcho(bench.stack, 7)
    peer = Peer(bench, sport=40000, dport=7, seq=1000)
    peer.send(SYN)
    peer.learn_synack(bench.one())
    peer.send(ACK)
    echo.poll()  # accepts
    peer.send(ACK, b"hello, echo")
    echo.poll()
    assert peer.read([s for s in bench.out() if s.payload]) == b"hello, echo"
    peer.send(ACK | FIN)
    echo.poll()
    segs = bench.out()
    assert any(s.flags & FIN for s in segs), "the echo service did not close after the peer's FIN"
    assert echo.connections == []


def test_udp_echo_sends_each_datagram_back_to_its_source_port() -> None:
    bench = make_bench()
    echo = UDPEcho(bench.stack, 7)
    assert len(echo.sockets) == 1, "an IPv4-only stack binds the IPv4 wildcard only"
    for data in (b"first", b"second"):
        assert bench.inject(eth(ipv4(udp(40001, 7, data), proto=17))) is None
    echo.poll()
    replies = [parse_out(f) for f in bench.sent()]
    assert [r.payload[8:] for r in replies] == [b"first", b"second"]
    for r in replies:
        assert (r.src, r.dst, r.proto) == (DUT, TESTER, 17)
        assert r.payload[:4] == (7).to_bytes(2, "big") + (40001).to_bytes(2, "big")
    echo.poll()
    assert bench.sent() == [], "a datagram was echoed twice"


def test_udp_echo_binds_both_families_on_a_dual_stack_host() -> None:
    bench = make_bench(ipv6=True)
    assert len(UDPEcho(bench.stack, 7).sockets) == 2
