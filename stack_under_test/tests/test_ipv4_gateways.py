"""IPv4 gateways (RFC 1122 3.2.2.2, 3.3.1.2-3.3.1.5): Redirects install a host route from the
current first hop only, and a gateway ARP could not re-validate gives way to another default."""

from __future__ import annotations

from stack_under_test import Drop
from stack_under_test.tests._ipv4_bench import DUT, TESTER, eth, icmp, ipv4, make_bench, parse_out, udp

GW1, GW2 = bytes((198, 51, 100, 11)), bytes((198, 51, 100, 12))
FAR = bytes((203, 0, 113, 5))
MAC1, MAC2 = bytes.fromhex("020000000011"), bytes.fromhex("020000000012")


def test_redirect_from_the_first_hop_installs_a_host_route() -> None:
    bench = make_bench()
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.11")
    bench.stack.add_static_neighbor("eth0", "198.51.100.11", MAC1)
    bench.stack.add_static_neighbor("eth0", "198.51.100.12", MAC2)
    quoted = ipv4(udp(7, 9, b"x", src=DUT, dst=FAR), proto=17, src=DUT, dst=FAR)
    redirect = icmp(5, 1, GW2, quoted)
    assert bench.inject(eth(ipv4(redirect, src=TESTER))) is Drop.ICMPV4_REDIRECT_NOT_FROM_FIRST_HOP
    assert bench.inject(eth(ipv4(icmp(5, 1, bytes((203, 0, 113, 9)), quoted), src=GW1))) is Drop.ICMPV4_REDIRECT_BAD_GATEWAY
    assert bench.inject(eth(ipv4(redirect, src=GW1))) is None
    route = bench.stack.find_route(FAR)
    assert route is not None and route.next_hop == GW2
    other = bench.stack.find_route(bytes((203, 0, 113, 6)))
    assert other is not None and other.next_hop == GW1  # a host route only (RFC 1122 3.3.1.2)


def test_failed_default_gateway_gives_way_to_the_next() -> None:
    bench = make_bench()
    bench.stack.add_route("0.0.0.0/0", "eth0", gateway="198.51.100.11")
    bench.stack.add_route("0.0.0.0/0", "eth0", gateway="198.51.100.12")
    route = bench.stack.find_route(FAR)
    assert route is not None and route.next_hop == GW1
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"x", "203.0.113.5", 9)  # GW1 never answers ARP
    bench.clock.advance(5_000)
    route = bench.stack.find_route(FAR)
    assert route is not None and route.next_hop == GW2
    assert parse_out(bench.sent()[-1]).ethertype == 0x0806  # the last of GW1's unanswered requests
