"""A quiet IPv6 bench for the NDP tests: DAD off, MLD reports let out and dropped, so each test
sees only what it provokes. Sent frames that are MLD (ICMPv6 130-143 to ff02::16 etc.) are
filtered out."""

from __future__ import annotations

import random

from stack_under_test import ChannelEndpoint, Stack, StackOptions, VirtualClock
from stack_under_test.tests._ipv6_bench import DUT_MAC, TESTER_MAC, Bench, Sent, parse_sent

_MLD = {130, 131, 132, 143}


class NDPBench(Bench):
    def __init__(self, *, static_tester: bool = True, forwarding: bool = False) -> None:
        self.clock = VirtualClock()
        self.stack = Stack(StackOptions(clock=self.clock, rng=random.Random(1)))
        self.link = ChannelEndpoint(mac=DUT_MAC)
        self.stack.create_nic("eth0", self.link)
        cfg = self.stack.nic("eth0").ipv6_config
        cfg.accept_dad = False
        cfg.router_solicitations = 0
        self.stack.enable_nic("eth0")
        if forwarding:
            self.stack.set_forwarding(6, True)
        self.stack.add_address("eth0", "2001:db8:1::1/64")
        if static_tester:
            self.stack.add_static_neighbor("eth0", "2001:db8:1::2", TESTER_MAC)
            self.stack.add_static_neighbor("eth0", "fe80::ff:fe00:2", TESTER_MAC)
        self.clock.advance(3_000)  # let unsolicited MLD reports go
        self.link.drain()

    def sent(self) -> list[Sent]:
        out = []
        for frame in self.link.drain():
            sent = parse_sent(frame)
            if sent.ip.next_header == 58 and sent.payload[:1] and sent.payload[0] in _MLD:
                continue
            if sent.ip.next_header == 0:  # MLD behind a Hop-by-Hop header (Router Alert)
                continue
            out.append(sent)
        return out
