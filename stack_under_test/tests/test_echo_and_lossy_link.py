"""The host's echo services (``python -m stack_under_test --tcp-echo``) and the lossy link
(``--link-loss``) the real-client tests run over."""

from __future__ import annotations

import random

from stack_under_test.echo import TCPEcho
from stack_under_test.link.channel import ChannelEndpoint
from stack_under_test.link.lossy import LossyEndpoint
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
