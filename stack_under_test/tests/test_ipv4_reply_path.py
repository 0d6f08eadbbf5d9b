"""The reply-path cache of network/ipv4/output.py: a shortcut that must build the frame the full
path would."""

from __future__ import annotations

from stack_under_test.testing import NIC_NAME
from stack_under_test.tests._ipv4_bench import DUT_MAC, echo_request, eth, ipv4, make_bench

NEW_MAC = b"\x02\x00\x00\x00\xaa\xbb"


def test_reply_after_a_mac_change_leaves_from_the_new_mac() -> None:
    bench = make_bench()
    for seq in (1, 2):  # the first reply fills the cache, the second uses it
        assert bench.inject(eth(ipv4(echo_request(seq=seq)))) is None
        assert bench.one()[6:12] == DUT_MAC
    bench.stack.set_link_address(NIC_NAME, NEW_MAC)
    assert bench.inject(eth(ipv4(echo_request(seq=3)), dst=NEW_MAC)) is None
    assert bench.one()[6:12] == NEW_MAC, "the echo reply left from the MAC the NIC had before"
