"""RFC 4443 §2.4 (f): the DUT limits the rate of the ICMPv6 errors it originates.

The limit is set through the DUT's control surface to one error per second with a burst of
6 (Linux's per-destination bucket holds 6 tokens whatever is asked: XRLIM_BURST_FACTOR). The
probes are UDP datagrams to a closed port, each drawing a Port Unreachable. On the in-process
stack the waiting is virtual.
"""

from __future__ import annotations

from scapy.layers.inet import UDP, UDPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6
from scapy.packet import Raw

from harness import DUT, MUST, ExpectationFailed, rfc
from harness.rfc import ICMPv6Unreach

CLOSED_PORT = 33534
PROBES, BURST = 20, 6
RATE_TEXT = (
    "(f) Finally, in order to limit the bandwidth and forwarding costs incurred by originating "
    "ICMPv6 error messages, an IPv6 node MUST limit the rate of ICMPv6 error messages it originates."
)


def _limit(dut: DUT) -> None:
    """One error per second, burst 6; then time for the bucket to fill (Linux keeps its
    per-destination bucket across tests and fills it in 1.5 s at this setting)."""
    dut.set_icmp_rate_limit(6, 1, BURST)
    dut.wait(1.6)


def _probe(dut: DUT, sport: int) -> None:
    dut.send(dut.ipv6() / UDP(sport=sport, dport=CLOSED_PORT) / Raw(b"rate"))


def _burst(dut: DUT, sports: range) -> None:
    # Built before the burst is sent: built between sends on a loaded machine, a burst can last
    # long enough for the bucket to earn tokens back during it (found by stackcheck soak).
    dut.send(*[bytes(dut.ipv6() / UDP(sport=sport, dport=CLOSED_PORT) / Raw(b"rate")) for sport in sports])


def _errors(dut: DUT) -> list[int]:
    """Source ports of the probes answered with a Port Unreachable, until none comes for 0.3 s."""
    got: list[int] = []
    while True:
        try:
            error = dut.expect(
                IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach(code=ICMPv6Unreach.PORT), within=0.3
            )
        except ExpectationFailed:
            return got
        got.append(int(error[UDPerror].sport))


@rfc(4443, "2.4", MUST, RATE_TEXT)
def test_a_burst_of_errors_is_limited(dut: DUT) -> None:
    _limit(dut)
    _burst(dut, range(44000, 44000 + PROBES))
    answered = _errors(dut)
    assert answered, "no error at all: the first probes of a burst must be answered"
    # Which probes are answered is the bucket's business: tokens come back while the burst is
    # being sent (on a loaded machine, one may arrive between two probes), so not always the first.
    assert len(answered) <= BURST, f"{len(answered)} of {PROBES} back-to-back probes drew an error"


@rfc(4443, "2.4", MUST,
     RATE_TEXT + " ... A recommended method for implementing the rate-limiting function is a token "
     "bucket, limiting the average rate of transmission to N, where N can be either packets/second "
     "or a fraction of the attached link's bandwidth, but allowing up to B error messages to be "
     "transmitted in a burst, as long as the long-term average is not exceeded.")
def test_errors_are_sent_again_once_the_bucket_refills(dut: DUT) -> None:
    _limit(dut)
    _burst(dut, range(44100, 44100 + PROBES))
    assert _errors(dut), "no error at all for the burst"
    dut.wait(1.5)  # at one token per second, at least one token is back
    _probe(dut, 44200)
    dut.expect(ICMPv6DestUnreach(code=ICMPv6Unreach.PORT), UDPerror(sport=44200, dport=CLOSED_PORT))
