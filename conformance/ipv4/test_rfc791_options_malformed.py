"""RFC 791 §3.1 / RFC 792 Parameter Problem: a datagram with a malformed option is discarded,
and the Parameter Problem sent about it points at the octet where the error was detected.

RFC 792 leaves the exact octet to the implementation ("it may be in the middle of an
option"), so a pointer anywhere inside the malformed option (from its type octet to its last
octet present) conforms. Linux points at the option's type octet when its length octet is
unusable or the option is a repeat, the length octet when the length is too small for the
option kind, the pointer octet when the pointer is out of range, and the overflow/flags octet
when the timestamp overflow counter would overflow (net/ipv4/ip_options.c,
__ip_options_compile); another stack may choose another octet of the same option. Pointers
count from the first octet of the IP header, so options start at 20.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP

from harness import DUT, MUST, described, echo4, rfc, with_ipv4_options
from harness.features import require_feature

NOP, RR, TS, LSRR = 1, 7, 68, 131
DATA: Final = b"malformed option test"
RR7: Final = bytes([RR, 7, 4, 0, 0, 0, 0])
TS8: Final = bytes([TS, 8, 5, 0, 0, 0, 0, 0])

# id: (option octets, (first, last) octet of the malformed option: where the pointer may point)
CASES: Final[dict[str, tuple[bytes, tuple[int, int]]]] = {
    # RFC 791: the length "includes the option-type and option-length octets", so < 2 is void.
    "length-below-2": (bytes([RR, 1, 0, 0]), (20, 21)),  # Linux: 20
    # Option running past the end of the header (11 octets claimed, 8 present).
    "past-header": (bytes([RR, 11, 4, 0, 0, 0, 0, 0]), (20, 27)),  # Linux: 20
    # A type octet in the last octet of the header, with no length octet after it.
    "type-in-last-octet": (bytes([NOP, NOP, NOP, RR]), (23, 23)),  # Linux: 23
    # Record Route: type, length and pointer octets come before any route data.
    "rr-length-2": (bytes([RR, 2, 0, 0]), (20, 21)),  # Linux: 21
    # "the smallest legal value for the pointer is 4"
    "rr-pointer-3": (bytes([RR, 7, 3, 0, 0, 0, 0]), (20, 26)),  # Linux: 22
    # "If there is some room but not enough room for a full address to be inserted, the
    # original datagram is considered to be in error and is discarded."
    "rr-partial-room": (bytes([RR, 9, 8, 0, 0, 0, 0, 0, 0]), (20, 28)),  # Linux: 22
    # Three octets of room (5-7), and the pointer at the last octet: room for part of an address.
    "rr-partial-room-3": (bytes([RR, 7, 5, 0, 0, 0, 0]), (20, 26)),  # Linux: 22
    "rr-pointer-at-length": (bytes([RR, 7, 7, 0, 0, 0, 0]), (20, 26)),  # Linux: 22
    # Timestamp: type, length, pointer and overflow/flags octets.
    "ts-length-3": (bytes([TS, 3, 5, 0]), (20, 22)),  # Linux: 21
    "ts-length-2": (bytes([TS, 2, 0, 0]), (20, 21)),  # Linux: 21
    # "The smallest legal value is 5."
    "ts-pointer-4": (bytes([TS, 8, 4, 0, 0, 0, 0, 0]), (20, 27)),  # Linux: 22
    # Flag 1 needs 8 octets (address + timestamp) at the pointer; only 4 remain.
    "ts-pair-partial-room": (bytes([TS, 12, 9, 1]) + bytes(8), (20, 31)),  # Linux: 22
    # Room for a timestamp (octets 5-8) but not for the pair flag 1 needs (5-12 of 11).
    "ts-pair-one-octet-short": (bytes([TS, 11, 5, 1]) + bytes(7), (20, 30)),  # Linux: 22
    # "some room but not enough room for a full timestamp": three octets (6-8), or one (8).
    "ts-partial-room": (bytes([TS, 8, 6, 0]) + bytes(4), (20, 27)),  # Linux: 22
    "ts-pointer-at-length": (bytes([TS, 8, 8, 0]) + bytes(4), (20, 27)),  # Linux: 22
    # "or the overflow count itself overflows": full area, overflow already 15.
    "ts-overflow-overflows": (bytes([TS, 8, 9, 0xF0, 0, 0, 0, 0]), (20, 27)),  # Linux: 23
    # "Appears at most once in a datagram." (Record Route, Timestamp)
    "rr-twice": (RR7 + RR7, (27, 33)),  # Linux: 27
    "ts-twice": (TS8 + TS8, (28, 35)),  # Linux: 28
    # Loose Source Route (route data: 198.51.100.1, the first octet 198 no pointer could be):
    # type, length and pointer octets come before the route data; "the smallest legal value for the pointer is 4".
    "lsrr-length-2": (bytes([LSRR, 2, 0, 0]), (20, 21)),  # Linux: 21
    "lsrr-pointer-3": (bytes([LSRR, 7, 3, 198, 51, 100, 1]), (20, 26)),  # Linux: 22
    # The pointer names a next address the route has only part of (octets 5-7, or 7 only).
    "lsrr-partial-room": (bytes([LSRR, 7, 5, 198, 51, 100, 1]), (20, 26)),  # Linux: 22
    "lsrr-pointer-at-length": (bytes([LSRR, 7, 7, 198, 51, 100, 1]), (20, 26)),  # Linux: 22
    # "Appears at most once in a datagram": two completed routes.
    "lsrr-twice": (bytes([LSRR, 7, 8, 198, 51, 100, 1]) * 2, (27, 33)),  # Linux: 27
}




def _needs_option_processing(dut: DUT, case: str) -> None:
    """RFC 792's discard binds a node that "finds a problem ... such that it cannot complete
    processing": one that processes the option concerned (Record Route, Timestamp: OPTIONAL for a
    host, RFC 1122 3.2.1.8) -- or, for an option list it cannot walk, any option at all. A host
    that implements none ignores every option (RFC 1122 3.2.1.8: "silently ignore the others")
    and never walks the list. A source route every host processes (RFC 1122 3.2.1.8 (c): "A host
    MUST be able to act as the final destination of a source route"), once it is configured to
    accept them (Linux checks a route's room only then, in ip_options_rcv_srr())."""
    if case.startswith("lsrr-"):
        dut.set_accept_source_route(True)
    elif case.startswith("rr-"):
        require_feature(dut, "ipv4-record-route")
    elif case.startswith("ts-"):
        require_feature(dut, "ipv4-timestamp")
    else:
        require_feature(dut, "ipv4-record-route", "ipv4-timestamp", any_of=True)


@pytest.mark.parametrize("case", list(CASES))
@rfc("RFC792-ParameterProblemMessage-3")
def test_datagram_with_malformed_option_is_discarded(dut: DUT, case: str) -> None:
    _needs_option_processing(dut, case)
    options, _ = CASES[case]
    dut.send(with_ipv4_options(echo4(dut, 0xB01, DATA), options))
    # Control, sent after it: a well-formed echo is answered. Both backends handle frames in
    # order, so once its reply is here, any reply to the malformed echo would be here too.
    dut.send(echo4(dut, 0xB02, DATA))
    dut.expect(ICMP(type=0, id=0xB02))
    dut.expect_none(ICMP(type=0, id=0xB01), within=0)


@pytest.mark.parametrize("case", list(CASES))
@described(792, "Parameter Problem Message", MUST,
           "The pointer identifies the octet of the original datagram's header where the error was detected "
           "(it may be in the middle of an option).")
def test_parameter_problem_points_at_the_malformed_option(dut: DUT, case: str) -> None:
    _needs_option_processing(dut, case)
    options, (first, last) = CASES[case]
    sent = with_ipv4_options(echo4(dut, 0xB11, DATA), options)
    dut.send(sent)
    error = dut.expect(ICMP(type=12))
    assert error[ICMP].code == 0, f"code {error[ICMP].code}, expected 0 (pointer indicates the error)"
    assert first <= error[ICMP].ptr <= last, (
        f"pointer {error[ICMP].ptr} is outside the malformed option (octets {first}-{last}) of {options.hex()}")
