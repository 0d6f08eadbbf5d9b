"""IPv4 options (RFC 791 3.1): walking, checking and processing them by use. Pure: the caller passes
the address to record, the timestamp to insert and a test for "is this address ours".

``walk(options)`` yields each ``Option`` or, at the first malformed one, a ``ParamProblem`` and stops.
``process(options, usage, ...)`` checks every option and returns a ``Processed`` (the options as
they leave us for that use) or a ``ParamProblem``. Its ``pointer`` is the octet offset *from the
start of the IP header* that an ICMP Parameter Problem (RFC 792) carries.

Which octet a pointer names, where RFC 791 leaves it open, follows Linux __ip_options_compile()
(net/ipv4/ip_options.c): a bad option length, an option cut off by the end of the header and a
repeated option point at the option's type octet (``pp_ptr = optptr``); a too-short length for
RR/TS/LSRR/SSRR at the length octet (``optptr + 1``); a bad or unusable pointer at the pointer
octet (``optptr + 2``); a full overflow counter at the overflow/flags octet (``optptr + 3``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
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
# The options RFC 791 says "Appears at most once in a datagram" of (source routes: see process()).
# Any other option may repeat: one we do not know we must ignore, repeated or not (RFC 1122
# 3.2.1.8: "MUST each interpret those IP options that they understand and silently ignore the
# others"), and RFC 2113 sets no such limit on Router Alert (Linux accepts it twice). Not the
# Stream Identifier (136) either, though RFC 791 says it of that one too: RFC 1122 3.2.1.8 (b)
# "This option is obsolete; it SHOULD NOT be sent, and it MUST be silently ignored if received."
AT_MOST_ONCE: Final = frozenset({SECURITY, RR, TIMESTAMP})

TS_ONLY: Final = 0  # RFC 791: "0 -- time stamps only, stored in consecutive 32-bit words"
TS_AND_ADDRESS: Final = 1  # "1 -- each timestamp is preceded with internet address"
TS_PRESPECIFIED: Final = 3  # "3 -- the internet address fields are prespecified"


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


class Usage(enum.Enum):
    """What the datagram is for decides what happens to its options (as in gVisor's ipv4.go)."""

    VERIFY = "verify"  # a fragment before reassembly: check only, change nothing
    RECEIVE = "receive"  # delivered here: RR/TS record us, unknown options kept
    ECHO = "echo"  # options for an Echo Reply: RR/TS processed, everything else removed
    FORWARD = "forward"  # forwarded: RR/TS record the outgoing address, unknown options passed on


@dataclass(frozen=True, slots=True)
class Processed:
    options: bytes  # the options for the outgoing header, padded to a multiple of 4 octets
    changed: bool  # the options differ from the received ones
    source_route: int  # index (within the options) of LSRR/SSRR, or -1
    strict: bool  # the source route is SSRR


def walk(options: bytes | memoryview) -> Iterator[Option | ParamProblem]:
    """The options one by one; a structurally broken one (length) ends the walk as a ParamProblem."""
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
        # Linux: "if (optlen < 2 || optlen > l) { pp_ptr = optptr; goto error; }" (the type octet).
        if i + 1 >= end or options[i + 1] < 2 or i + options[i + 1] > end:
            yield ParamProblem(MIN_HEADER_LEN + i)
            return
        length = options[i + 1]
        yield Option(kind, MIN_HEADER_LEN + i, bytes(options[i + 2 : i + length]))
        i += length


def process(
    options: bytes | memoryview,
    usage: Usage,
    address: bytes = bytes(4),
    timestamp: int = 0,
    ours: Callable[[bytes], bool] = lambda _a: False,
) -> Processed | ParamProblem:
    """Check every option and apply ``usage``: ``address`` is recorded in RR and TS flag 1,
    ``timestamp`` (RFC 791: "milliseconds since midnight UT") in TS, ``ours`` decides TS flag 3."""
    buf = bytearray(options)
    modify = usage is not Usage.VERIFY
    end = len(buf)
    seen: set[int] = set()
    echo = bytearray()
    source_route, strict = -1, False
    i = 0
    while i < end:
        kind = buf[i]
        if kind == EOL:
            break
        if kind == NOP:
            i += 1
            continue
        if i + 1 >= end or buf[i + 1] < 2 or i + buf[i + 1] > end:
            return ParamProblem(MIN_HEADER_LEN + i)
        length = buf[i + 1]
        bad: int | None
        if kind in (LSRR, SSRR):
            bad = _check_source_route(buf, i, length)
            # Linux checks length and pointer first, then "NB: cf RFC-1812 5.2.4.1": a second
            # source route of either kind is an error at its type octet.
            if bad is None and source_route >= 0:
                bad = i
            source_route, strict = i, kind == SSRR
        elif kind in seen and kind in AT_MOST_ONCE:
            # RFC 791, for each of these options: "Appears at most once in a datagram."
            bad = i
        elif kind == RR:
            bad = _record_route(buf, i, length, address, modify)
        elif kind == TIMESTAMP:
            bad = _timestamp(buf, i, length, address, timestamp, ours, modify)
        elif kind == ROUTER_ALERT and length < 4:
            bad = i + 1  # Linux: "case IPOPT_RA: if (optlen < 4) { pp_ptr = optptr + 1; ..."
        else:
            bad = None
        if bad is not None:
            return ParamProblem(MIN_HEADER_LEN + bad)
        seen.add(kind)
        if usage is Usage.ECHO and kind in (RR, TIMESTAMP):
            echo += buf[i : i + length]
        i += length
    if usage is Usage.ECHO:
        out = pad_options(bytes(echo))
        return Processed(out, out != bytes(options), -1, False)
    out = bytes(buf)
    return Processed(out, out != bytes(options), source_route, strict)


def _check_source_route(buf: bytearray, i: int, length: int) -> int | None:
    if length < 3:
        return i + 1  # Linux: "if (optlen < 3) { pp_ptr = optptr + 1; ..."
    ptr = buf[i + 2]
    if ptr < 4:
        return i + 2  # RFC 791: "the smallest legal value for the pointer is 4"
    if ptr <= length and ptr + 3 > length:
        # Room for part of an address only: Linux ip_options_rcv_srr() answers a Parameter
        # Problem pointing at the pointer octet ("htonl((opt->srr+2)<<24)").
        return i + 2
    return None


def _record_route(buf: bytearray, i: int, length: int, address: bytes, modify: bool) -> int | None:
    """RFC 791 Record Route; returns the index of a bad octet or None."""
    if length < 3:
        return i + 1
    ptr = buf[i + 2]
    if ptr < 4:
        return i + 2  # RFC 791: "the smallest legal value for the pointer is 4"
    if ptr <= length:
        # RFC 791: "If there is some room but not enough room for a full address to be inserted,
        # the original datagram is considered to be in error and is discarded."
        if ptr + 3 > length:
            return i + 2
        if modify:
            buf[i + ptr - 1 : i + ptr + 3] = address
            buf[i + 2] = ptr + 4
    # RFC 791: "If the route data area is already full (the pointer exceeds the length) the
    # datagram is forwarded without inserting the address into the recorded route." No error
    # for a full option: Linux and gVisor read "In either case" as a copy from Timestamp.
    return None


def _timestamp(
    buf: bytearray, i: int, length: int, address: bytes, timestamp: int, ours: Callable[[bytes], bool], modify: bool
) -> int | None:
    """RFC 791 Internet Timestamp; returns the index of a bad octet or None."""
    if length < 4:
        return i + 1
    ptr = buf[i + 2]
    if ptr < 5:
        return i + 2  # RFC 791: "The smallest legal value is 5."
    flag = buf[i + 3] & 0x0F
    stamp = (timestamp & 0xFFFFFFFF).to_bytes(4, "big")
    if ptr <= length:
        # RFC 791: "If there is some room but not enough room for a full timestamp to be inserted
        # ... the original datagram is considered to be in error and is discarded."
        if ptr + 3 > length:
            return i + 2
        if flag == TS_ONLY:
            if modify:
                buf[i + ptr - 1 : i + ptr + 3] = stamp
                buf[i + 2] = ptr + 4
        elif flag in (TS_AND_ADDRESS, TS_PRESPECIFIED):
            if ptr + 7 > length:
                return i + 2  # no room for an address/timestamp pair: Linux blames the pointer
            if flag == TS_AND_ADDRESS:
                if modify:
                    buf[i + ptr - 1 : i + ptr + 7] = address + stamp
                    buf[i + 2] = ptr + 8
            # RFC 791 flag 3: "a timestamp is registered only if its address matches the next
            # specified internet address"; otherwise the option passes unchanged.
            elif ours(bytes(buf[i + ptr - 1 : i + ptr + 3])) and modify:
                buf[i + ptr + 3 : i + ptr + 7] = stamp
                buf[i + 2] = ptr + 8
        else:
            # RFC 791 defines flags 0, 1 and 3 only. Linux accepts other values on receive; we
            # treat them as a bad parameter at the octet Linux names for them when it sends.
            return i + 3
        return None
    if flag not in (TS_ONLY, TS_AND_ADDRESS, TS_PRESPECIFIED):
        return i + 3
    if flag != TS_PRESPECIFIED:  # a full flag-3 list passes unchanged (Linux)
        # RFC 791: "If the time stamp data area is already full (the pointer exceeds the length)
        # the datagram is forwarded without inserting the time stamp, but the overflow count is
        # incremented by one. ... or the overflow count itself overflows, the original datagram
        # is considered to be in error and is discarded."
        overflow = buf[i + 3] >> 4
        if overflow == 15:
            return i + 3
        if modify:
            buf[i + 3] = (overflow + 1) << 4 | flag
    return None


def source_route_next_hop(options: bytes | memoryview, index: int) -> bytes | None:
    """The next address of the LSRR/SSRR at ``index``, or None when the route is completed
    (RFC 791: "If the pointer is greater than the length, the source route is empty")."""
    length, ptr = options[index + 1], options[index + 2]
    if ptr > length or ptr + 3 > length:
        return None
    return bytes(options[index + ptr - 1 : index + ptr + 3])


def advance_source_route(options: bytes, index: int, address: bytes) -> bytes:
    """RFC 791 LSRR/SSRR at a hop: "the recorded route address [our outgoing address] replaces the
    source route address just used, and the pointer is increased by four"."""
    buf = bytearray(options)
    ptr = buf[index + 2]
    buf[index + ptr - 1 : index + ptr + 3] = address
    buf[index + 2] = ptr + 4
    return bytes(buf)


def source_route_first_hop(options: bytes | memoryview) -> bytes | None:
    """The first address of the fresh (pointer 4) LSRR/SSRR among options a transport asked for:
    where their datagram goes first (originate_source_route); None without one."""
    for option in walk(options):
        if isinstance(option, Option) and option.type in (LSRR, SSRR) and option.data[:1] == b"\x04":
            return option.data[1:5] if len(option.data) >= 5 else None
    return None


def originate_source_route(options: bytes, index: int, destination: bytes) -> tuple[bytes, bytes] | None:
    """The LSRR/SSRR at ``index`` of options a transport asked for, as their originator sends it:
    (first hop, options). The route lists the hops in order, the first one the first hop (as BSD
    and Linux IP_OPTIONS take it); the datagram goes to that hop, its address leaves the option
    and ``destination``, the final one, goes last (RFC 791: "the next address in the source route
    replaces the address in the destination address field"). None for a route whose pointer is
    not 4 or which holds no whole address (Linux ip_options_compile() refuses the same)."""
    length, ptr = options[index + 1], options[index + 2]
    if ptr != 4 or length < 7 or (length - 3) % 4:
        return None
    first = bytes(options[index + 3 : index + 7])
    route = bytes(options[index + 7 : index + length]) + destination
    return first, bytes(options[: index + 3]) + route + bytes(options[index + length :])


def reverse_source_route(options: bytes | memoryview, index: int, source: bytes) -> tuple[bytes, bytes] | None:
    """For a reply to a datagram that completed its source route (RFC 1122 3.2.1.8(c): "the
    reverse of the recorded route MUST be used"): (first hop, reply option) or None if nothing was
    recorded. The option lists the recorded hops in reverse, then ``source`` (the final
    destination), as Linux ip_options_echo() builds it."""
    kind, length, ptr = options[index], options[index + 1], options[index + 2]
    used = min(ptr, length + 1) - 4  # octets of recorded addresses
    hops = [bytes(options[index + 3 + k : index + 7 + k]) for k in range(0, used - used % 4, 4)]
    if hops and hops[0] == source:
        # RFC 1122 3.2.1.8 (c): "When a return source route is built, it MUST be correctly formed
        # even if the recorded route included the source host (see case (B) in the discussion
        # below)": {S, G1, ... Gn} comes back as {Gn, ... G1} to S, S not a hop of its own (Linux
        # ip_options_echo(): "RFC1812 requires to fix illegal source routes").
        hops = hops[1:]
    if not hops:
        return None
    first, rest = hops[-1], hops[-2::-1]
    route = b"".join(rest) + source
    return first, bytes((kind, 3 + len(route), 4)) + route


def encode_option(kind: int, data: bytes = b"") -> bytes:
    if kind in (EOL, NOP):
        return bytes((kind,))
    return bytes((kind, len(data) + 2)) + data


def pad_options(raw: bytes) -> bytes:
    """RFC 791: "The internet header padding is used to ensure that the internet header ends on a
    32 bit boundary. The padding is zero." (zero = EOL)."""
    return raw + bytes(-len(raw) % 4)


def copied_options(options: bytes | memoryview) -> bytes:
    """The options to repeat in every fragment after the first, padded to 4 octets.

    RFC 791 3.1: "The copied flag indicates that this option is copied into all fragments on
    fragmentation." and 3.2: options with it clear are "only in the first fragment". We built
    these options, so a malformed one (the walk's ParamProblem) ends them.
    """
    kept = [encode_option(o.type, o.data) for o in walk(options) if isinstance(o, Option) and o.copied]
    return pad_options(b"".join(kept))
