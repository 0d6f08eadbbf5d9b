"""A quiet IPv6 bench for the NDP tests: DAD off, start-up MLD reports let out and dropped, and
MLD filtered from what the stack sends, so each test sees only what it provokes."""

from __future__ import annotations

from stack_under_test.tests._ipv6_bench import Bench, Sent, parse_sent

_MLD = {130, 131, 132, 143}


class NDPBench(Bench):
    def __init__(self, *, static_tester: bool = True, forwarding: bool = False) -> None:
        super().__init__(static_tester=static_tester, forwarding=forwarding, settle_ms=3_000)

    def sent(self) -> list[Sent]:
        out = []
        for frame in self.frames():
            sent = parse_sent(frame)
            if sent.ip.next_header == 58 and sent.payload[:1] and sent.payload[0] in _MLD:
                continue
            if sent.ip.next_header == 0:  # MLD behind a Hop-by-Hop header (Router Alert)
                continue
            out.append(sent)
        return out
