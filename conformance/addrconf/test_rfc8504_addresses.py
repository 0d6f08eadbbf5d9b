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
# RFC 4862 5.4: Duplicate Address Detection "MUST be performed on all unicast addresses prior to
# assigning them". The baseline turns it off where a DUT lets it (accept_dad=0), not everywhere:
# a DUT that runs it holds an autoconfigured address tentative for up to
# MAX_RTR_SOLICITATION_DELAY (1 s, 5.4.2) plus DupAddrDetectTransmits x RetransTimer (1 x 1 s),
# and one that runs its timers on a one-second tick may take one more.
DAD_LIMIT_S: Final = 3.5


def _wait_while_tentative(dut: DUT, address: IPv6Address) -> None:
    """Return once ``address`` is held and, if the DUT runs DAD on it, no longer tentative."""
    waited = 0.0
    while True:
        held = {a.interface.ip: a.state for a in dut.ipv6_addresses()}
        assert address in held, f"no address {address}: the DUT holds {[str(a) for a in held]}"
        if held[address] != "tentative":
            return
        assert waited < DAD_LIMIT_S, f"{address} is still tentative after {waited:.1f} s"
        dut.wait(0.1)
        waited += 0.1


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
    _wait_while_tentative(dut, address)
    _answers_from(dut, address, 1)
