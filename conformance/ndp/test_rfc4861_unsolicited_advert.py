"""RFC 4861 §7.2.6: the unsolicited Neighbor Advertisements a node MAY send when its link-layer
address changes, and the rules they must then follow.

``set_link_address`` gives the DUT another MAC (a hot-swapped interface card); the DUT is told
to announce such a change (``ndisc_notify`` 1, Linux's switch: sending them at all is a MAY).
It holds two global addresses and its link-local one; every advertisement to all-nodes within
three RetransTimers (0.5 s here) is read. Each test first shows the announcement came, for
each address with the new MAC in its Target Link-Layer Address option.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Final

import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.packet import Packet

from harness import DUT, MUST, ExpectationFailed, described, rfc

NEW_MAC: Final = "02:00:00:00:00:d1"
EXTRA: Final = "2001:db8:1::c9:1"
RETRANS_S: Final = 0.5
MAX_NEIGHBOR_ADVERTISEMENT: Final = 3  # RFC 4861 §10
JITTER_S: Final = 0.05


def _announcements(dut: DUT, *, router: bool = False) -> dict[str, list[Packet]]:
    """Change the DUT's MAC; its unsolicited advertisements to all-nodes, by target."""
    dut.set_ipv6_option("ndisc_notify", 1)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    if router:
        dut.set_forwarding(6, True)
    dut.add_address(f"{EXTRA}/64")
    dut.set_link_address(NEW_MAC)
    out: dict[str, list[Packet]] = defaultdict(list)
    deadline = dut.now() + MAX_NEIGHBOR_ADVERTISEMENT * RETRANS_S + 0.5
    while dut.now() < deadline:
        try:
            na = dut.expect(IPv6(dst="ff02::1"), ICMPv6ND_NA, within=max(0.0, deadline - dut.now()))
        except ExpectationFailed:
            break
        out[na[ICMPv6ND_NA].tgt].append(na)
    targets = {str(dut.info.dut_ipv6.ip), EXTRA, str(dut.info.dut_ipv6_ll)}
    assert targets <= set(out), f"no unsolicited advertisement for {sorted(targets - set(out))} after the MAC change"
    for target, adverts in out.items():
        assert len(adverts) <= MAX_NEIGHBOR_ADVERTISEMENT, f"{len(adverts)} advertisements for {target}"
        for na in adverts:
            assert na.haslayer(ICMPv6NDOptDstLLAddr) and na[ICMPv6NDOptDstLLAddr].lladdr.lower() == NEW_MAC, (
                f"the advertisement for {target} does not carry the new link-layer address")
    return out


@rfc("RFC4861-7.2.6-3")
def test_unsolicited_advertisement_has_solicited_flag_zero(dut: DUT) -> None:
    for target, adverts in _announcements(dut).items():
        assert all(na[ICMPv6ND_NA].S == 0 for na in adverts), f"an advertisement for {target} has S=1"


@pytest.mark.parametrize("router", [False, True], ids=["host", "router"])
@rfc("RFC4861-7.2.6-4")
def test_unsolicited_advertisement_router_flag_says_whether_the_node_is_a_router(dut: DUT, router: bool) -> None:
    for target, adverts in _announcements(dut, router=router).items():
        flags = {na[ICMPv6ND_NA].R for na in adverts}
        assert flags == {int(router)}, f"the Router flag of the advertisements for {target} is {flags}"


@rfc("RFC4861-7.2.6-2")
def test_unsolicited_advertisements_are_retrans_timer_apart(dut: DUT) -> None:
    for target, adverts in _announcements(dut).items():
        times = [float(na.time) for na in adverts]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= RETRANS_S - JITTER_S for gap in gaps), (
            f"the advertisements for {target} came {gaps} s apart, RetransTimer is {RETRANS_S} s")


@rfc("RFC4861-7.2.6-7")
def test_advertisements_for_several_addresses_are_spaced(dut: DUT) -> None:
    firsts = sorted(float(adverts[0].time) for adverts in _announcements(dut).values())
    gaps = [b - a for a, b in itertools.pairwise(firsts)]
    assert min(gaps) >= 0.005, f"the advertisements of the addresses came {gaps} s apart: back to back"


@described(4861, "4.4", MUST,
           "Target Address For solicited advertisements, the Target Address field in the Neighbor Solicitation "
           "message that prompted this advertisement. For an unsolicited advertisement, the address whose "
           "link-layer address has changed.")
def test_no_advertisement_for_an_address_removed_after_the_change(dut: DUT) -> None:
    # The first announcement of 2001:db8:1::c9:1 (the control) comes; then the address is
    # removed, and the node has no link-layer address for it to announce any more: the
    # RetransTimer-spaced repetitions a node may send stop naming it.
    dut.set_ipv6_option("ndisc_notify", 1)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    dut.add_address(f"{EXTRA}/64")
    dut.set_link_address(NEW_MAC)
    dut.expect(IPv6(dst="ff02::1"), ICMPv6ND_NA(tgt=EXTRA), within=RETRANS_S)
    dut.remove_address(f"{EXTRA}/64")
    # From when the address is gone: a repetition sent while it was still there (RetransTimer
    # after the first, when a loaded tester removes it late) names it rightly.
    dut.expect_none(ICMPv6ND_NA(tgt=EXTRA), within=MAX_NEIGHBOR_ADVERTISEMENT * RETRANS_S + JITTER_S,
                    since=dut.now())
