"""RFC 8504 §6.2: a host holds several global addresses at once (RFC 7934) and takes a prefix of
its own from a router (RFC 8273: the router advertises a unique /64 to one host, in a Router
Advertisement sent to that host alone).

Each address is shown in use: it answers an echo request, and the reply leaves from it.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from harness import DUT, eui64_address, rfc
from harness.router_discovery import pio, ra

PREFIX_A: Final = IPv6Network("2001:db8:2::/64")
PREFIX_B: Final = IPv6Network("2001:db8:3::/64")


def _answers_from(dut: DUT, address: IPv6Address, seq: int) -> None:
    dut.send(dut.ipv6(dst=str(address)) / ICMPv6EchoRequest(id=0x8504, seq=seq))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x8504, seq=seq), within=1.0)
    assert reply[IPv6].src == str(address), f"the echo to {address} was answered from {reply[IPv6].src}"


@rfc("RFC8504-6.2-2")
def test_host_holds_and_uses_several_global_addresses(dut: DUT) -> None:
    # A static one (the baseline's and one more), one from each of two prefixes by SLAAC, and a
    # temporary one: six global addresses on one interface.
    dut.set_ipv6_option("use_tempaddr", 1)
    dut.add_address("2001:db8:1::8504/64")
    for prefix in (PREFIX_A, PREFIX_B):
        dut.send(ra(dut, pio(autonomous=1, valid=600, preferred=300, prefix=str(prefix.network_address)), lifetime=0))
    dut.wait(0.5)
    found = [a for a in dut.ipv6_addresses() if not a.interface.ip.is_link_local and a.state == "preferred"]
    addresses = [a.interface.ip for a in found]
    assert len(addresses) >= 6, f"expected six global addresses, the DUT holds {[str(a) for a in addresses]}"
    assert any(a.temporary for a in found), "no temporary address among them"
    for seq, address in enumerate(addresses, start=1):
        _answers_from(dut, address, seq)


@rfc("RFC8504-6.2-3")
def test_prefix_advertised_to_this_host_alone_gives_it_an_address(dut: DUT) -> None:
    unicast = ra(dut, pio(autonomous=1, valid=600, preferred=300, prefix=str(PREFIX_A.network_address)), lifetime=0)
    unicast[Ether].dst = dut.info.dut_mac
    unicast[IPv6].dst = str(dut.info.dut_ipv6_ll)
    dut.send(unicast)
    dut.wait(0.5)
    address = eui64_address(PREFIX_A, dut.info.dut_mac)
    assert address in [a.interface.ip for a in dut.ipv6_addresses()], (
        f"no address in the prefix advertised to this host alone: {[str(a.interface) for a in dut.ipv6_addresses()]}")
    _answers_from(dut, address, 1)
