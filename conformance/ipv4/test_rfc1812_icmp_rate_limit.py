"""RFC 1812 §4.3.2.8: the rate at which ICMPv4 errors are sent is limited, measured in virtual
time in-process.

Each test sends from its own off-link source (routed back through the tester) so the
per-destination limiters of Linux start with a full bucket in every test.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP, UDPerror
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, rfc, with_ipv4_options
from harness.features import optional_feature
from harness.icmp import tokens_earned

CLOSED_PORT: Final = 33435
PORT_UNREACHABLE: Final = ICMP(type=3, code=3)
RATE_BURST: Final = 6  # Linux's per-destination bucket holds 6 tokens (XRLIM_BURST_FACTOR)
REFILL_S: Final = 1.0  # one token back a second, the rate each test sets
# RFC 1812 binds routers; RFC 1122 asks no rate limit of a host's ICMPv4 errors.
pytestmark = optional_feature("ipv4-forwarding")


def _probe(dut: DUT, src: str, sport: int) -> Packet:
    return dut.ipv4(src=src) / UDP(sport=sport, dport=CLOSED_PORT) / Raw(bytes(16))


def _burst(dut: DUT, src: str, sports: range) -> list[bytes]:
    # Built before the burst is sent: built between sends on a loaded machine, a burst can last
    # long enough for the bucket to earn a token back during it (found by stackcheck soak).
    return [bytes(_probe(dut, src=src, sport=sport)) for sport in sports]


def _assert_within_the_bucket(errors: list[Packet], datagrams: int) -> None:
    """At most a full bucket of errors, plus the tokens earned back during the burst (found by
    stackcheck soak: a 1.05-s pause after 14 datagrams drew a 7th error)."""
    earned, spread = tokens_earned(errors, REFILL_S)
    assert len(errors) <= RATE_BURST + earned, (
        f"{len(errors)} errors for {datagrams} datagrams, bucket of {RATE_BURST}"
        + (f", {earned} token(s) back in the {spread:.2f} s between the first and the last at most" if earned else ""))


def _answers(dut: DUT, template: Packet, first_within: float) -> list[Packet]:
    got: list[Packet] = []
    while True:
        try:
            got.append(dut.expect(template, within=first_within if not got else 0.05))
        except ExpectationFailed:
            return got


# The error kinds RFC 1812 4.3.2.8 names besides Redirect, each drawn by a burst of 20 datagrams
# from a source of its own: (source, the error template, how a datagram draws it).
BAD_OPTION: Final = b"\x9e\x01\x00\x00"  # an option with a length octet of 1 (RFC 791 3.1: at least 2)
KINDS: Final = {
    "destination-unreachable": ("203.0.113.61", PORT_UNREACHABLE),
    "time-exceeded": ("203.0.113.63", ICMP(type=11, code=0)),
    "parameter-problem": ("203.0.113.64", ICMP(type=12)),
}


def _stimulus(dut: DUT, kind: str, src: str, sport: int) -> bytes:
    if kind == "time-exceeded":  # forwarded with TTL 1: expires in transit
        frame = dut.ipv4(src=src, dst="203.0.113.99", ttl=1) / UDP(sport=sport, dport=9) / Raw(bytes(16))
    elif kind == "parameter-problem":
        frame = with_ipv4_options(_probe(dut, src=src, sport=sport), BAD_OPTION)
    else:
        frame = _probe(dut, src=src, sport=sport)
    return bytes(frame)


@pytest.mark.parametrize("kind", list(KINDS))
@rfc("RFC1812-4.3.2.8-2")
def test_error_burst_is_limited(dut: DUT, kind: str) -> None:
    source, error = KINDS[kind]
    dut.add_route("203.0.113.0/24", via=str(dut.info.tester_ipv4))
    dut.set_forwarding(4, True)
    dut.set_icmp_rate_limit(4, 1, RATE_BURST)
    # Built before the burst is sent (see _burst).
    dut.send(*[_stimulus(dut, kind, source, sport) for sport in range(41000, 41020)])
    errors = _answers(dut, IP(dst=source) / error, first_within=0.5)
    assert errors, "no error for 20 datagrams: the first of a burst must be answered"
    _assert_within_the_bucket(errors, 20)


@rfc("RFC1812-4.3.2.8-2")
def test_error_rate_limit_refills_over_time(dut: DUT) -> None:
    source = "203.0.113.62"
    dut.add_route("203.0.113.0/24", via=str(dut.info.tester_ipv4))
    dut.set_icmp_rate_limit(4, 1, RATE_BURST)
    dut.send(*_burst(dut, source, range(42000, 42000 + RATE_BURST + 4)))
    errors = _answers(dut, IP(dst=source) / PORT_UNREACHABLE, first_within=0.5)
    _assert_within_the_bucket(errors, RATE_BURST + 4)
    dut.send(_probe(dut, src=source, sport=42100))  # bucket empty: no error
    sent = dut.now()  # the probe has left
    # At 1 per second the bucket has a token back a second after it began to refill, when the
    # burst drew its first error: a probe the tester sent later than that (a loaded tester) may
    # rightly be answered. Timed by the first error's arrival, the DUT's instant.
    if errors and sent - float(errors[0].time) >= 1.0:
        pytest.skip(f"the tester sent the probe {sent - float(errors[0].time):.2f} s after the burst's first error "
                    "(a loaded tester): at 1 per second a token may be back, so an error would be no violation")
    # Matched by the probe's port: an error for the burst that a loaded DUT sent late is not one.
    dut.expect_none(IP(dst=source) / PORT_UNREACHABLE, UDPerror(sport=42100), within=0.2)
    dut.wait(1.1)  # one token back at 1 per second
    dut.send(_probe(dut, src=source, sport=42101))
    dut.expect(IP(dst=source) / PORT_UNREACHABLE, UDPerror(sport=42101), within=0.5)
