"""RFC 6724 §1 and §4: a source address the application chose is used as chosen, and one that is
not a candidate for the destination is an error.

The DUT has its baseline address ``dut.info.dut_ipv6`` and 2001:db8:2::1/64; the destination
2001:db8:2::9 gets a /128 route through the tester's link-local address (a static neighbor), so the
datagram leaves at once and the tester reads its source. Left to the DUT, Rule 8 (longest matching
prefix) picks 2001:db8:2::1 for it: each explicit source below is one the selection rules would
not pick, so a DUT that applied them over the application's choice fails.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6

from harness import DUT, rfc

SPORT: Final = 46725
DPORT: Final = 9
ADDED: Final = "2001:db8:2::1"
DESTINATION: Final = "2001:db8:2::9"


def _setup(dut: DUT) -> None:
    dut.add_address(f"{ADDED}/64")
    dut.add_route(f"{DESTINATION}/128", via=str(dut.info.tester_ipv6_ll))
    dut.udp_bind(SPORT, family=6)


def _source(dut: DUT, src: str | None) -> str:
    """Send to DESTINATION from the wildcard-bound socket, from ``src`` (None: the DUT's choice)."""
    dut.udp_sendmsg(SPORT, b"rfc6724", DESTINATION, DPORT, src=src)
    pkt = dut.expect(IPv6(dst=DESTINATION), UDP(sport=SPORT, dport=DPORT), within=1.0)
    return str(ipaddress.IPv6Address(pkt[IPv6].src))


# "baseline": a global address Rule 8 ranks lower (46 common bits against 64); "link-local": an
# address of the outgoing interface (a candidate, RFC 6724 §4) that Rule 2 (appropriate scope)
# ranks below both global ones.
@pytest.mark.parametrize("which", ["baseline", "link-local"])
@rfc("RFC6724-4-9", "RFC6724-1-1")
def test_explicit_source_is_used_as_chosen(dut: DUT, which: str) -> None:
    _setup(dut)
    assert _source(dut, None) == ADDED, "control: left to the DUT, Rule 8 picks the address of the destination's /64"
    chosen = str(dut.info.dut_ipv6.ip if which == "baseline" else dut.info.dut_ipv6_ll)
    got = _source(dut, chosen)
    assert ipaddress.IPv6Address(got) == ipaddress.IPv6Address(chosen), (
        f"the application chose the source {chosen}; the datagram left from {got}")


# Neither address is assigned to the DUT, so neither is in any candidate set (RFC 6724 §4: "the
# set of unicast addresses assigned to the interface"): one of the DUT's own /64, one the tester's.
@pytest.mark.parametrize("which", ["unassigned", "tester"])
@rfc("RFC6724-4-8")
def test_source_that_is_not_a_candidate_is_an_error(dut: DUT, which: str) -> None:
    _setup(dut)
    foreign = str(dut.info.dut_ipv6.network.network_address + 0x6724 if which == "unassigned"
                  else dut.info.tester_ipv6)
    # In-process and tap backends raise ValueError; the Linux agent's sendmsg(2) fails (EINVAL)
    # and the harness raises AgentFailed, a RuntimeError.
    with pytest.raises((ValueError, RuntimeError)):
        dut.udp_sendmsg(SPORT, b"rfc6724", DESTINATION, DPORT, src=foreign)
    dut.expect_none(IPv6(dst=DESTINATION), UDP(sport=SPORT, dport=DPORT), within=1.0)
    # Positive control: the same send from the DUT's own address leaves.
    assert _source(dut, str(dut.info.dut_ipv6.ip)) == str(dut.info.dut_ipv6.ip)
