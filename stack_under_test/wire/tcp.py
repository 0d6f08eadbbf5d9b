"""TCP (RFC 9293 3.1): a view, the options (RFC 9293 3.2, RFC 7323, RFC 2018), a segment record,
and the encoder the connection's send path uses.

Parsing never raises. A malformed option ends the option list the way Linux's
tcp_parse_options() does (the options before it count, the rest are ignored): RFC 9293 3.1 asks
only that implementations "MUST be prepared to handle an illegal option length (e.g., zero)"
(MUST-7), and a segment is not thrown away for its options.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16, U32, Bits
from stack_under_test.wire.checksum import ones_sum
from stack_under_test.wire.numbers import PROTO_TCP

HEADER_LEN: Final = 20
MAX_HEADER_LEN: Final = 60
MAX_OPTIONS_LEN: Final = MAX_HEADER_LEN - HEADER_LEN

# Control bits (RFC 9293 3.1; ECE and CWR from RFC 3168).
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80

# Option kinds (RFC 9293 Table 1, RFC 7323, RFC 2018).
OPT_EOL: Final = 0
OPT_NOP: Final = 1
OPT_MSS: Final = 2
OPT_WINDOW_SCALE: Final = 3
OPT_SACK_PERMITTED: Final = 4
OPT_SACK: Final = 5
OPT_TIMESTAMPS: Final = 8
TIMESTAMPS_LEN: Final = 12  # as sent: NOP, NOP, kind 8 length 10 (RFC 7323 Appendix A)

HEADER: Final = struct.Struct("!HHIIBBHHH")
_TS_OPTION = struct.Struct("!BBBBII")
_TS_PREFIX = bytes((OPT_NOP, OPT_NOP, OPT_TIMESTAMPS, 10))
_TS_VALUES = struct.Struct("!II")
_SACK_EDGES = struct.Struct("!II")

SackBlock = tuple[int, int]  # (left edge, right edge), RFC 2018 3


class TCPView:
    """Typed view over a TCP segment. Accessors are safe once check() returns None."""

    __slots__ = ("buf",)

    def __init__(self, buf: memoryview | bytes) -> None:
        self.buf = buf

    src_port, dst_port = U16(0), U16(2)
    seq, ack = U32(4), U32(8)
    data_offset = Bits(12, 1, 4, 4)
    flags, window, checksum, urgent = U8(13), U16(14), U16(16), U16(18)

    def check(self) -> Drop | None:
        if len(self.buf) < HEADER_LEN:
            return Drop.TCP_TRUNCATED
        # RFC 9293 3.1: "DOffset: 4 bits ... The TCP header (even one including options) is an
        # integer multiple of 32 bits long"; at least the 5 words of the fixed header.
        hlen = (self.buf[12] >> 4) << 2
        if hlen < HEADER_LEN or hlen > len(self.buf):
            return Drop.TCP_BAD_DATA_OFFSET
        return None

    def header_len(self) -> int:
        return (self.buf[12] >> 4) << 2

    def checksum_ok(self, src: bytes, dst: bytes) -> bool:
        return verify_checksum(self.buf, src, dst)


def address_sum(src: bytes, dst: bytes) -> int:
    """The part of the pseudo-header sum (RFC 9293 3.1 Figure 2, RFC 8200 8.1) that a connection
    can keep: the addresses and the protocol number. Add the segment length per segment."""
    return int.from_bytes(src + dst, "big") % 0xFFFF + PROTO_TCP


def verify_checksum(segment: memoryview | bytes, src: bytes, dst: bytes) -> bool:
    """RFC 9293 3.1: "The TCP checksum is never optional ... the receiver MUST check it"."""
    return ones_sum(segment, address_sum(src, dst) + len(segment)) == 0xFFFF


@dataclass(frozen=True, slots=True)
class TCPOptions:
    """The options of one segment, as far as they parse. ``timestamps`` is (TSval, TSecr)."""

    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    timestamps: tuple[int, int] | None = None
    sack_blocks: tuple[SackBlock, ...] = ()
    malformed: bool = False  # parsing stopped at an option with an illegal length

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> TCPOptions:
        if len(buf) == TIMESTAMPS_LEN and buf[:4] == _TS_PREFIX:
            # What almost every segment of a connection with timestamps carries (RFC 7323 App. A).
            return cls(timestamps=_TS_VALUES.unpack_from(buf, 4))
        mss = wscale = None
        sack_ok = malformed = False
        timestamps: tuple[int, int] | None = None
        blocks: tuple[SackBlock, ...] = ()
        i, end = 0, len(buf)
        while i < end:
            kind = buf[i]
            if kind == OPT_EOL:
                break
            if kind == OPT_NOP:
                i += 1
                continue
            # RFC 9293 3.1: "All TCP Options except End of Option List Option (EOL) and No-Operation
            # (NOP) MUST have length fields" (MUST-68).
            if i + 1 >= end or not 2 <= buf[i + 1] <= end - i:
                malformed = True
                break
            size = buf[i + 1]
            body = buf[i + 2 : i + size]
            # A known option with the wrong length is ignored, as Linux does; the others parse on.
            if kind == OPT_MSS and size == 4:
                mss = body[0] << 8 | body[1]
            elif kind == OPT_WINDOW_SCALE and size == 3:
                wscale = body[0]
            elif kind == OPT_SACK_PERMITTED and size == 2:
                sack_ok = True
            elif kind == OPT_TIMESTAMPS and size == 10:
                tsval, tsecr = struct.unpack_from("!II", body)
                timestamps = (tsval, tsecr)
            elif kind == OPT_SACK and size >= 10 and (size - 2) % 8 == 0:
                blocks = tuple(_SACK_EDGES.unpack_from(body, j) for j in range(0, size - 2, 8))
            i += size
        return cls(mss, wscale, sack_ok, timestamps, blocks, malformed)

    def encode(self) -> bytes:
        """The options in Linux's order and alignment (MSS, SACK-permitted, timestamps, window
        scale on a SYN; NOP-aligned timestamps and SACK blocks otherwise), padded to 32 bits."""
        out = bytearray()
        if self.mss is not None:
            out += struct.pack("!BBH", OPT_MSS, 4, self.mss)
        if self.sack_permitted and self.timestamps is not None:
            out += bytes((OPT_SACK_PERMITTED, 2))
            out += struct.pack("!BBII", OPT_TIMESTAMPS, 10, *self.timestamps)
        else:
            if self.timestamps is not None:
                out += _TS_OPTION.pack(OPT_NOP, OPT_NOP, OPT_TIMESTAMPS, 10, *self.timestamps)
            if self.sack_permitted:
                out += bytes((OPT_NOP, OPT_NOP, OPT_SACK_PERMITTED, 2))
        if self.window_scale is not None:
            out += bytes((OPT_NOP, OPT_WINDOW_SCALE, 3, self.window_scale))
        if self.sack_blocks:
            out += encode_sack(self.sack_blocks)
        out += bytes(-len(out) % 4)
        return bytes(out)


def encode_timestamps(tsval: int, tsecr: int) -> bytes:
    """NOP, NOP, Timestamps: the 12 octets every segment of a connection with timestamps carries."""
    return _TS_OPTION.pack(OPT_NOP, OPT_NOP, OPT_TIMESTAMPS, 10, tsval, tsecr)


def encode_sack(blocks: tuple[SackBlock, ...] | list[SackBlock]) -> bytes:
    """NOP, NOP, SACK with ``blocks`` (RFC 2018 3: "A SACK option that specifies n blocks will have
    a length of 8*n+2 bytes"); the caller keeps the header within 40 octets of options."""
    body = b"".join(_SACK_EDGES.pack(left, right) for left, right in blocks)
    return bytes((OPT_NOP, OPT_NOP, OPT_SACK, 2 + len(body))) + body


@dataclass(frozen=True, slots=True)
class TCPSegment:
    """One received segment: the header fields, its options, and the data after the header."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    options: TCPOptions
    payload: bytes

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        """The segment in ``buf`` (the whole IP payload); the checksum is the caller's business,
        since it needs the addresses."""
        if len(buf) < HEADER_LEN:
            return Drop.TCP_TRUNCATED
        sport, dport, seq, ack, offset, flags, window, _, urgent = HEADER.unpack_from(buf)
        hlen = (offset >> 4) << 2
        if hlen < HEADER_LEN or hlen > len(buf):
            return Drop.TCP_BAD_DATA_OFFSET
        options = NO_OPTIONS if hlen == HEADER_LEN else TCPOptions.parse(buf[HEADER_LEN:hlen])
        return cls(sport, dport, seq, ack, flags, window, urgent, options, bytes(buf[hlen:]))

    def encode(self, src: bytes, dst: bytes) -> bytes:
        """The segment with its checksum for the pseudo-header of ``src``/``dst``."""
        return encode_segment(
            address_sum(src, dst), self.src_port, self.dst_port, self.seq, self.ack, self.flags, self.window,
            self.options.encode(), self.payload, self.urgent,
        )


NO_OPTIONS: Final = TCPOptions()


def encode_segment(
    addr_sum: int,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: bytes,
    payload: bytes | memoryview,
    urgent: int = 0,
) -> bytes:
    """A whole segment with its checksum. ``addr_sum`` is ``address_sum(src, dst)``, which a
    connection computes once; ``options`` must already be padded to a multiple of 4 octets."""
    hlen = HEADER_LEN + len(options)
    header = HEADER.pack(sport, dport, seq, ack, hlen << 2, flags, window, 0, urgent) + options
    # The header is a whole number of 16-bit words, so the payload's sum continues from it.
    total = ones_sum(payload, ones_sum(header, addr_sum + hlen + len(payload))) if payload else ones_sum(
        header, addr_sum + hlen
    )
    csum = ~total & 0xFFFF
    return header[:16] + csum.to_bytes(2, "big") + header[18:] + payload
