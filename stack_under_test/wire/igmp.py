"""IGMP messages (RFC 1112 appendix I, RFC 2236 2, RFC 3376 4): parse to a record or a Drop, encode.

``parse(body)`` takes the IP payload (trimmed to the IP total length) and never raises. The
version of a query is told apart by its length and Max Resp Code (RFC 3376 7.1). Group record
types are plain ints here (``network/multicast.py`` names them; MLDv2 shares the values).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.wire.checksum import verify, with_checksum

# RFC 3376 4: "Type Number (hex)  Message Name".
TYPE_QUERY: Final = 0x11  # Membership Query (every version)
TYPE_V1_REPORT: Final = 0x12  # RFC 1112
TYPE_V2_REPORT: Final = 0x16  # RFC 2236
TYPE_V2_LEAVE: Final = 0x17  # RFC 2236
TYPE_V3_REPORT: Final = 0x22  # RFC 3376

ALL_SYSTEMS: Final = b"\xe0\x00\x00\x01"  # 224.0.0.1, RFC 1112 4
ALL_ROUTERS: Final = b"\xe0\x00\x00\x02"  # 224.0.0.2: Leave Group goes here (RFC 2236 3)
ALL_V3_ROUTERS: Final = b"\xe0\x00\x00\x16"  # 224.0.0.22: IGMPv3 reports go here (RFC 3376 4.2.14)
UNSPECIFIED: Final = b"\x00\x00\x00\x00"

# RFC 2113 2.1: Router Alert "Type: 148 (0x94) Length: 4 Value: 0 - Router shall examine packet".
# RFC 2236 2 / RFC 3376 4: IGMP messages are sent with it. Already a multiple of 4: no padding.
ROUTER_ALERT_OPTION: Final = b"\x94\x04\x00\x00"
# RFC 3376 4: "IP Precedence of Internetwork Control (e.g., Type of Service 0xc0)"
TOS_INTERNETWORK_CONTROL: Final = 0xC0

HEADER_LEN: Final = 8  # type, code, checksum, group: every IGMP message starts with these
V3_QUERY_LEN: Final = 12  # RFC 3376 4.1: the fixed part of a version 3 query
_HEADER = struct.Struct("!BBH4s")
_V3_QUERY_TAIL = struct.Struct("!BBH")  # Resv|S|QRV, QQIC, Number of Sources
_V3_REPORT = struct.Struct("!BBHHH")  # type, reserved, checksum, reserved, Number of Group Records
_RECORD = struct.Struct("!BBH4s")  # Record Type, Aux Data Len, Number of Sources, Multicast Address


def decode_code(code: int) -> int:
    """RFC 3376 4.1.1 / 4.1.7: "If Max Resp Code >= 128, Max Resp Code represents a floating-point
    value as follows: |1| exp | mant |  Max Resp Time = (mant | 0x10) << (exp + 3)"."""
    if code < 128:
        return code
    return ((code & 0x0F) | 0x10) << (((code >> 4) & 0x07) + 3)


@dataclass(frozen=True, slots=True)
class Query:
    """A Membership Query of any version (RFC 3376 7.1 tells them apart)."""

    version: int  # 1, 2 or 3
    max_resp_code: int
    group: bytes = UNSPECIFIED  # 0.0.0.0 = General Query
    suppress: bool = False  # S flag (v3)
    qrv: int = 0  # Querier's Robustness Variable (v3)
    qqic: int = 0  # Querier's Query Interval Code (v3)
    sources: tuple[bytes, ...] = ()  # v3 group-and-source-specific query

    @property
    def max_resp_ms(self) -> int:
        """RFC 3376 4.1.1: in units of 1/10 second. For v1 the code is 0: the caller picks 10 s."""
        return (decode_code(self.max_resp_code) if self.version == 3 else self.max_resp_code) * 100

    @property
    def qqi_ms(self) -> int:
        return decode_code(self.qqic) * 1000

    @property
    def general(self) -> bool:
        return self.group == UNSPECIFIED

    def encode(self) -> bytes:
        if self.version < 3:
            return _finish(_HEADER.pack(TYPE_QUERY, self.max_resp_code, 0, self.group))
        flags = (0x08 if self.suppress else 0) | (self.qrv & 0x07)
        return _finish(
            _HEADER.pack(TYPE_QUERY, self.max_resp_code, 0, self.group)
            + _V3_QUERY_TAIL.pack(flags, self.qqic, len(self.sources))
            + b"".join(self.sources)
        )


@dataclass(frozen=True, slots=True)
class Report:
    """An IGMPv1 (RFC 1112) or IGMPv2 (RFC 2236) Membership Report."""

    version: int  # 1 or 2
    group: bytes

    def encode(self) -> bytes:
        kind = TYPE_V1_REPORT if self.version == 1 else TYPE_V2_REPORT
        return _finish(_HEADER.pack(kind, 0, 0, self.group))


@dataclass(frozen=True, slots=True)
class Leave:
    """An IGMPv2 Leave Group message (RFC 2236 2)."""

    group: bytes

    def encode(self) -> bytes:
        return _finish(_HEADER.pack(TYPE_V2_LEAVE, 0, 0, self.group))


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """RFC 3376 4.2.4: one Group Record of a version 3 report."""

    type: int  # 1..6, RFC 3376 4.2.12
    group: bytes
    sources: tuple[bytes, ...] = ()
    aux_data: bytes = b""  # RFC 3376 4.2.6: a multiple of 4 octets

    def encode(self) -> bytes:
        head = _RECORD.pack(self.type, len(self.aux_data) // 4, len(self.sources), self.group)
        return head + b"".join(self.sources) + self.aux_data

    @property
    def size(self) -> int:
        return _RECORD.size + 4 * len(self.sources) + len(self.aux_data)


@dataclass(frozen=True, slots=True)
class V3Report:
    """RFC 3376 4.2: a Version 3 Membership Report."""

    records: tuple[GroupRecord, ...]

    def encode(self) -> bytes:
        head = _V3_REPORT.pack(TYPE_V3_REPORT, 0, 0, 0, len(self.records))
        return _finish(head + b"".join(r.encode() for r in self.records))


Message = Query | Report | Leave | V3Report


def _finish(raw: bytes) -> bytes:
    """Fill in the checksum (RFC 2236 2.3: "the 16-bit one's complement of the one's complement
    sum of the whole IGMP message"), which sits at octets 2-3 of every IGMP message."""
    return with_checksum(raw)


def parse(body: bytes | memoryview) -> Message | Drop:
    """Parse one IGMP message (the whole IP payload). Unknown types are a Drop too."""
    size = len(body)
    if size < HEADER_LEN:
        return Drop.IGMP_TRUNCATED
    if not verify(body):
        return Drop.IGMP_BAD_CHECKSUM
    kind, code, _, group = _HEADER.unpack_from(body, 0)
    if kind == TYPE_QUERY:
        return _parse_query(body, code, group)
    if kind == TYPE_V1_REPORT:
        return Report(1, group)
    if kind == TYPE_V2_REPORT:
        return Report(2, group)
    if kind == TYPE_V2_LEAVE:
        return Leave(group)
    if kind == TYPE_V3_REPORT:
        return _parse_v3_report(body)
    # RFC 3376 4: "Unrecognized message types MUST be silently ignored."
    return Drop.IGMP_UNKNOWN_TYPE


def _parse_query(body: bytes | memoryview, code: int, group: bytes) -> Query | Drop:
    size = len(body)
    # RFC 3376 7.1: "IGMPv1 Query: length = 8 octets AND Max Resp Code field is zero; IGMPv2 Query:
    # length = 8 octets AND Max Resp Code field is non-zero; IGMPv3 Query: length >= 12 octets.
    # Query messages that do not match any of the above conditions (e.g., a Query of length 10
    # octets) MUST be silently ignored."
    if size == HEADER_LEN:
        return Query(1 if code == 0 else 2, code, group)
    if size < V3_QUERY_LEN:
        return Drop.IGMP_BAD_QUERY_LENGTH
    flags, qqic, count = _V3_QUERY_TAIL.unpack_from(body, HEADER_LEN)
    end = V3_QUERY_LEN + 4 * count
    if end > size:
        return Drop.IGMP_QUERY_SOURCES_TRUNCATED
    sources = tuple(bytes(body[i : i + 4]) for i in range(V3_QUERY_LEN, end, 4))
    return Query(3, code, group, bool(flags & 0x08), flags & 0x07, qqic, sources)


def _parse_v3_report(body: bytes | memoryview) -> V3Report | Drop:
    size = len(body)
    count = _V3_REPORT.unpack_from(body, 0)[4]
    records: list[GroupRecord] = []
    off = HEADER_LEN
    for _ in range(count):
        if off + _RECORD.size > size:
            return Drop.IGMP_REPORT_TRUNCATED
        rtype, aux_words, nsrc, group = _RECORD.unpack_from(body, off)
        start = off + _RECORD.size
        end = start + 4 * nsrc + 4 * aux_words
        if end > size:
            return Drop.IGMP_REPORT_TRUNCATED
        sources = tuple(bytes(body[i : i + 4]) for i in range(start, start + 4 * nsrc, 4))
        records.append(GroupRecord(rtype, group, sources, bytes(body[start + 4 * nsrc : end])))
        off = end
    return V3Report(tuple(records))
