"""ICMPv4 error rules beyond the foundation's (RFC 1122 §3.2.2, RFC 1812 §4.3.2): no error about
any kind of ICMP error, errors kept within 576 octets while quoting as much as fits, and the
rate limit on errors, measured in virtual time in-process.

Rate-limit tests send from their own off-link source (routed back through the tester) so the
per-destination limiters of Linux start with a full bucket in every test.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Packet, Raw

from harness import DUT, MUST_NOT, SHOULD, ExpectationFailed, icmp_quote, l3_bytes, rfc, with_ipv4_options

CLOSED_PORT: Final = 33435
SILENCE_S: Final = 1.0
BAD_OPTION: Final = b"\x9e\x01\x00\x00"  # length octet 1: malformed (RFC 791 3.1)
PORT_UNREACHABLE: Final = ICMP(type=3, code=3)
RATE_BURST: Final = 6  # Linux's per-destination bucket holds 6 tokens (XRLIM_BURST_FACTOR)


def _probe(dut: DUT, src: str | None = None, size: int = 16, sport: int = 40100) -> Packet:
    fields = {} if src is None else {"src": src}
    return dut.ipv4(**fields) / UDP(sport=sport, dport=CLOSED_PORT) / Raw(bytes(size))


@pytest.mark.parametrize(("kind", "code"), [(11, 0), (12, 0), (3, 1)],
                         ids=["time-exceeded", "parameter-problem", "host-unreachable"])
@rfc(1122, "3.2.2", MUST_NOT,
     "An ICMP error message MUST NOT be sent as the result of receiving: an ICMP error message")
def test_no_error_about_any_icmp_error(dut: DUT, kind: int, code: int) -> None:
    returned = IP(src=str(dut.info.dut_ipv4.ip), dst=str(dut.info.tester_ipv4)) / UDP(sport=40101, dport=53)
    error = dut.ipv4() / ICMP(type=kind, code=code) / Raw(bytes(returned) + b"12345678")
    dut.send(with_ipv4_options(error, BAD_OPTION))
    dut.expect_none(ICMP, within=SILENCE_S)
    # Control: the same malformed header on an echo request draws a Parameter Problem.
    dut.send(with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0xE01, seq=1) / Raw(b"control"), BAD_OPTION))
    try:
        dut.expect(ICMP(type=12))
    except ExpectationFailed:
        pytest.skip("the DUT sends no Parameter Problem even about an echo request with a "
                    "malformed option, so its silence here proves nothing")


@rfc(1812, "4.3.2.3", SHOULD,
     "the ICMP datagram SHOULD contain as much of the original datagram as possible without the length "
     "of the ICMP datagram exceeding 576 bytes.")
def test_error_quotes_as_much_as_fits_in_576_octets(dut: DUT) -> None:
    sent = _probe(dut, size=1200)
    dut.send(sent)
    error = dut.expect(PORT_UNREACHABLE)
    assert error[IP].len <= 576, f"the error is {error[IP].len} octets long"
    quote = icmp_quote(error)
    assert l3_bytes(sent).startswith(quote), "the quote differs from the datagram sent"
    room = 576 - error[IP].ihl * 4 - 8
    assert len(quote) == room, f"the error quotes {len(quote)} octets where {room} fit"


@rfc(1812, "4.3.2.3", SHOULD,
     "the ICMP datagram SHOULD contain as much of the original datagram as possible without the length "
     "of the ICMP datagram exceeding 576 bytes.")
def test_error_about_a_short_datagram_quotes_all_of_it(dut: DUT) -> None:
    sent = _probe(dut, size=100)
    dut.send(sent)
    assert icmp_quote(dut.expect(PORT_UNREACHABLE)) == l3_bytes(sent)


def _count(dut: DUT, template: Packet, first_within: float) -> int:
    n, within = 0, first_within
    while True:
        try:
            dut.expect(template, within=within)
        except ExpectationFailed:
            return n
        n, within = n + 1, 0.05


@rfc(1812, "4.3.2.8", SHOULD,
     "A router SHOULD also be able to limit the rate at which it sends other sorts of ICMP error "
     "messages (Destination Unreachable, Redirect, Time Exceeded, Parameter Problem).")
def test_error_burst_is_limited(dut: DUT) -> None:
    source = "203.0.113.61"
    dut.add_route("203.0.113.0/24", via=str(dut.info.tester_ipv4))
    dut.set_icmp_rate_limit(4, 1, RATE_BURST)
    dut.send(*[_probe(dut, src=source, sport=41000 + i) for i in range(20)])
    sent = _count(dut, IP(dst=source) / PORT_UNREACHABLE, first_within=0.5)
    assert 1 <= sent <= RATE_BURST, f"{sent} errors for 20 probes, bucket of {RATE_BURST}"


@rfc(1812, "4.3.2.8", SHOULD,
     "A router SHOULD also be able to limit the rate at which it sends other sorts of ICMP error "
     "messages (Destination Unreachable, Redirect, Time Exceeded, Parameter Problem).")
def test_error_rate_limit_refills_over_time(dut: DUT) -> None:
    source = "203.0.113.62"
    dut.add_route("203.0.113.0/24", via=str(dut.info.tester_ipv4))
    dut.set_icmp_rate_limit(4, 1, RATE_BURST)
    dut.send(*[_probe(dut, src=source, sport=42000 + i) for i in range(RATE_BURST + 4)])
    assert _count(dut, IP(dst=source) / PORT_UNREACHABLE, first_within=0.5) <= RATE_BURST
    dut.send(_probe(dut, src=source, sport=42100))  # bucket empty: no error
    dut.expect_none(IP(dst=source) / PORT_UNREACHABLE, within=0.2)
    dut.wait(1.1)  # one token back at 1 per second
    dut.send(_probe(dut, src=source, sport=42101))
    dut.expect(IP(dst=source) / PORT_UNREACHABLE, within=0.5)
