"""MLD messages (RFC 2710 3, RFC 3810 5): parse to a record or a Drop, encode.

``parse(message)`` takes the whole ICMPv6 message (type, code, checksum, body) whose checksum the
caller has verified (wire/icmpv6.parse does, over the pseudo-header) and never raises. An MLDv1
query is told from an MLDv2 query by its length (RFC 3810 8.1). ``encode(src, dst)`` returns the
whole ICMPv6 message with its checksum. Record types are plain ints here (network/multicast.py
names them; IGMPv3 shares the values).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.wire.icmpv6 import icmpv6_checksum

# RFC 2710 3 / RFC 3810 5: ICMPv6 types.
TYPE_QUERY: Final = 130  # Multicast Listener Query (MLDv1 and MLDv2)
TYPE_V1_REPORT: Final = 131  # Multicast Listener Report (MLDv1)
TYPE_V1_DONE: Final = 132  # Multicast Listener Done (MLDv1)
TYPE_V2_REPORT: Final = 143  # Version 2 Multicast Listener Report (RFC 3810 5.2)
TYPES: Final = frozenset({TYPE_QUERY, TYPE_V1_REPORT, TYPE_V1_DONE, TYPE_V2_REPORT})

UNSPECIFIED: Final = bytes(16)
# RFC 3810 5.2.14: "Version 2 Multicast Listener Reports are sent with an IP destination address of
# FF02:0:0:0:0:0:0:16, to which all MLDv2-capable multicast routers listen".
ALL_MLDV2_ROUTERS: Final = IPv6Address("ff02::16").packed

# RFC 2711 2.1: Router Alert "Value: 0 Datagram contains a Multicast Listener Discovery message".
ROUTER_ALERT_MLD: Final = 0

V1_LEN: Final = 24  # RFC 2710 3: type..checksum (4), Max Resp Delay (2), Reserved (2), address (16)
V2_QUERY_MIN_LEN: Final = 28  # RFC 3810 5.1: the MLDv1 fields, then S|QRV, QQIC, Number of Sources
V2_REPORT_HEADER_LEN: Final = 8  # RFC 3810 5.2: type, reserved, checksum, reserved, Nr of records
_V1 = struct.Struct("!BBHHH16s")  # type, code, checksum, max resp (delay|code), reserved, address
_V2_QUERY_TAIL = struct.Struct("!BBH")  # Resv|S|QRV, QQIC, Number of Sources
_V2_REPORT = struct.Struct("!BBHHH")  # type, reserved, checksum, reserved, Nr of Mcast Address Records
_RECORD = struct.Struct("!BBH16s")  # Record Type, Aux Data Len, Number of Sources, Multicast Address


def decode_max_resp_code(code: int) -> int:
    """The Maximum Response Delay in ms. RFC 3810 5.1.3: "If Maximum Response Code < 32768,
    Maximum Response Delay = Maximum Response Code"; "If Maximum Response Code >=32768, Maximum
    Response Code represents a floating-point value as follows: |1| exp | mant |"
    "Maximum Response Delay = (mant | 0x1000) << (exp+3)"."""
    if code < 0x8000:
        return code
    return ((code & 0x0FFF) | 0x1000) << (((code >> 12) & 0x07) + 3)


def decode_qqic(code: int) -> int:
    """The Querier's Query Interval in seconds. RFC 3810 5.1.9: "If QQIC < 128, QQI = QQIC";
    "If QQIC >= 128, QQIC represents a floating-point value as follows: |1| exp | mant |"
    "QQI = (mant | 0x10) << (exp + 3)"."""
    if code < 128:
        return code
    return ((code & 0x0F) | 0x10) << (((code >> 4) & 0x07) + 3)


def _finish(raw: bytes, src: bytes, dst: bytes) -> bytes:
    """Fill in the ICMPv6 checksum (RFC 4443 2.3, over the RFC 8200 8.1 pseudo-header)."""
    out = bytearray(raw)
    struct.pack_into("!H", out, 2, icmpv6_checksum(src, dst, out))
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Query:
    """A Multicast Listener Query: version 1 (RFC 2710 3, exactly 24 octets) or 2 (RFC 3810 5.1)."""

    version: int  # 1 = MLDv1, 2 = MLDv2
    max_resp_code: int  # v1: the Maximum Response Delay itself (ms); v2: RFC 3810 5.1.3 code
    group: bytes = UNSPECIFIED  # :: = General Query
    suppress: bool = False  # S flag (v2, RFC 3810 5.1.7)
    qrv: int = 0  # Querier's Robustness Variable (v2, 5.1.8)
    qqic: int = 0  # Querier's Query Interval Code (v2, 5.1.9)
    sources: tuple[bytes, ...] = ()  # v2 Multicast Address and Source Specific Query (5.1.10)

    @property
    def max_resp_ms(self) -> int:
        # RFC 2710 3.4: "The Maximum Response Delay field ... in units of milliseconds".
        return self.max_resp_code if self.version == 1 else decode_max_resp_code(self.max_resp_code)

    @property
    def qqi_ms(self) -> int:
        return decode_qqic(self.qqic) * 1000

    @property
    def general(self) -> bool:
        return self.group == UNSPECIFIED

    def encode(self, src: bytes, dst: bytes) -> bytes:
        raw = _V1.pack(TYPE_QUERY, 0, 0, self.max_resp_code & 0xFFFF, 0, self.group)
        if self.version != 1:
            flags = (0x08 if self.suppress else 0) | (self.qrv & 0x07)
            raw += _V2_QUERY_TAIL.pack(flags, self.qqic & 0xFF, len(self.sources)) + b"".join(self.sources)
        return _finish(raw, src, dst)


@dataclass(frozen=True, slots=True)
class V1Report:
    """RFC 2710 3: a Multicast Listener Report."""

    group: bytes

    def encode(self, src: bytes, dst: bytes) -> bytes:
        return _finish(_V1.pack(TYPE_V1_REPORT, 0, 0, 0, 0, self.group), src, dst)


@dataclass(frozen=True, slots=True)
class Done:
    """RFC 2710 3: a Multicast Listener Done."""

    group: bytes

    def encode(self, src: bytes, dst: bytes) -> bytes:
        return _finish(_V1.pack(TYPE_V1_DONE, 0, 0, 0, 0, self.group), src, dst)


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """RFC 3810 5.2.4: one Multicast Address Record of a Version 2 Report."""

    type: int  # 1..6, RFC 3810 5.2.12
    group: bytes
    sources: tuple[bytes, ...] = ()
    aux_data: bytes = b""  # RFC 3810 5.2.10: a multiple of 4 octets

    def encode(self) -> bytes:
        head = _RECORD.pack(self.type, len(self.aux_data) // 4, len(self.sources), self.group)
        return head + b"".join(self.sources) + self.aux_data

    @property
    def size(self) -> int:
        return _RECORD.size + 16 * len(self.sources) + len(self.aux_data)


@dataclass(frozen=True, slots=True)
class V2Report:
    """RFC 3810 5.2: a Version 2 Multicast Listener Report."""

    records: tuple[AddressRecord, ...]

    def encode(self, src: bytes, dst: bytes) -> bytes:
        head = _V2_REPORT.pack(TYPE_V2_REPORT, 0, 0, 0, len(self.records))
        return _finish(head + b"".join(r.encode() for r in self.records), src, dst)


Message = Query | V1Report | Done | V2Report

RECORD_HEADER_LEN: Final = _RECORD.size


def parse(message: bytes | memoryview) -> Message | Drop:
    """Parse one MLD message (the whole ICMPv6 message, checksum already verified)."""
    size = len(message)
    if size < 4:
        return Drop.MLD_TRUNCATED
    kind = message[0]
    if kind == TYPE_V2_REPORT:
        return _parse_v2_report(message)
    if kind not in TYPES:
        return Drop.ICMPV6_UNKNOWN_INFORMATIONAL  # not an MLD type: the caller dispatches only MLD
    if size < V1_LEN:
        return Drop.MLD_TRUNCATED
    _, _, _, max_resp, _, group = _V1.unpack_from(message, 0)
    if kind == TYPE_V1_REPORT:
        return V1Report(group)
    if kind == TYPE_V1_DONE:
        return Done(group)
    # RFC 3810 8.1: "MLDv1 Query: length = 24 octets; MLDv2 Query: length >= 28 octets. Query
    # messages that do not match any of the above conditions (e.g., a Query of length 26 octets)
    # MUST be silently ignored."
    if size == V1_LEN:
        return Query(1, max_resp, group)
    if size < V2_QUERY_MIN_LEN:
        return Drop.MLD_BAD_QUERY_LENGTH
    flags, qqic, count = _V2_QUERY_TAIL.unpack_from(message, V1_LEN)
    end = V2_QUERY_MIN_LEN + 16 * count
    if end > size:
        return Drop.MLD_QUERY_SOURCES_TRUNCATED
    sources = tuple(bytes(message[i : i + 16]) for i in range(V2_QUERY_MIN_LEN, end, 16))
    return Query(2, max_resp, group, bool(flags & 0x08), flags & 0x07, qqic, sources)


def _parse_v2_report(message: bytes | memoryview) -> V2Report | Drop:
    size = len(message)
    if size < V2_REPORT_HEADER_LEN:
        return Drop.MLD_TRUNCATED
    count = _V2_REPORT.unpack_from(message, 0)[4]
    records: list[AddressRecord] = []
    off = V2_REPORT_HEADER_LEN
    for _ in range(count):
        if off + _RECORD.size > size:
            return Drop.MLD_REPORT_TRUNCATED
        rtype, aux_words, nsrc, group = _RECORD.unpack_from(message, off)
        start = off + _RECORD.size
        end = start + 16 * nsrc + 4 * aux_words
        if end > size:
            return Drop.MLD_REPORT_TRUNCATED
        sources = tuple(bytes(message[i : i + 16]) for i in range(start, start + 16 * nsrc, 16))
        records.append(AddressRecord(rtype, group, sources, bytes(message[start + 16 * nsrc : end])))
        off = end
    return V2Report(tuple(records))
