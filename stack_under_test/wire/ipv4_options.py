"""Walking IPv4 options safely (RFC 791 3.1). Semantics (Record Route, Timestamp) come later.

``walk(options)`` yields each ``Option`` or, at the first malformed one, a ``ParamProblem`` whose
``pointer`` is the octet offset *from the start of the IP header* that an ICMP Parameter Problem
(RFC 792) must carry, and stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from stack_under_test.wire.ipv4 import MIN_HEADER_LEN

EOL: Final = 0  # End of Option List
NOP: Final = 1  # No Operation
SECURITY: Final = 130
LSRR: Final = 131  # Loose Source and Record Route
SSRR: Final = 137  # Strict Source and Record Route
RR: Final = 7  # Record Route
TIMESTAMP: Final = 68
ROUTER_ALERT: Final = 148  # RFC 2113


@dataclass(frozen=True, slots=True)
class Option:
    type: int
    offset: int  # from the start of the IP header
    data: bytes  # the option's octets after type and length

    @property
    def copied(self) -> bool:
        """RFC 791: "copied flag ... 1 = copied" into all fragments."""
        return bool(self.type & 0x80)


@dataclass(frozen=True, slots=True)
class ParamProblem:
    pointer: int  # from the start of the IP header


def walk(options: bytes | memoryview) -> Iterator[Option | ParamProblem]:
    i, end = 0, len(options)
    while i < end:
        kind = options[i]
        if kind == EOL:
            return  # RFC 791: "used at the end of all options"; the rest is padding
        if kind == NOP:
            i += 1
            continue
        # RFC 791 "Case 2: An option-type octet, an option-length octet, and the actual option-data
        # octets. The option-length octet counts the option-type octet and the option-length octet".
        if i + 1 >= end:
            yield ParamProblem(MIN_HEADER_LEN + i)  # the length octet is missing
            return
        length = options[i + 1]
        if length < 2 or i + length > end:
            yield ParamProblem(MIN_HEADER_LEN + i + 1)  # point at the bad length
            return
        yield Option(kind, MIN_HEADER_LEN + i, bytes(options[i + 2 : i + length]))
        i += length


def encode_option(kind: int, data: bytes = b"") -> bytes:
    if kind in (EOL, NOP):
        return bytes((kind,))
    return bytes((kind, len(data) + 2)) + data


def pad_options(raw: bytes) -> bytes:
    """RFC 791: "The internet header padding is used to ensure that the internet header ends on a
    32 bit boundary. The padding is zero." (zero = EOL)."""
    return raw + bytes(-len(raw) % 4)
