"""IGMP formats (wire/igmp.py): hand-built messages parse to records or counted Drops; encode round-trips."""

from __future__ import annotations

import struct

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire import igmp
from stack_under_test.wire.checksum import checksum, verify

G = bytes((224, 1, 2, 3))
S1 = bytes((198, 51, 100, 7))
S2 = bytes((198, 51, 100, 8))


def with_checksum(raw: bytes, good: bool = True) -> bytes:
    csum = checksum(raw[:2] + b"\0\0" + raw[4:]) ^ (0 if good else 0x0101)
    return raw[:2] + struct.pack("!H", csum) + raw[4:]


def header(kind: int, code: int = 0, group: bytes = b"\0\0\0\0") -> bytes:
    return struct.pack("!BBH4s", kind, code, 0, group)


def v3_query(code: int, group: bytes = b"\0\0\0\0", flags: int = 0, qqic: int = 0, sources: tuple[bytes, ...] = ()) -> bytes:
    return with_checksum(header(0x11, code, group) + struct.pack("!BBH", flags, qqic, len(sources)) + b"".join(sources))


def test_query_versions_are_told_apart_by_length_and_code() -> None:
    # RFC 3376 7.1
    v1 = igmp.parse(with_checksum(header(0x11, 0)))
    v2 = igmp.parse(with_checksum(header(0x11, 100, G)))
    v3 = igmp.parse(v3_query(100, G, flags=0x0A, qqic=125, sources=(S1, S2)))
    assert isinstance(v1, igmp.Query) and v1.version == 1 and v1.general
    assert isinstance(v2, igmp.Query) and (v2.version, v2.max_resp_ms, v2.group) == (2, 10_000, G)
    assert isinstance(v3, igmp.Query) and v3.version == 3 and v3.suppress and v3.qrv == 2
    assert v3.sources == (S1, S2) and v3.qqi_ms == 125_000 and v3.max_resp_ms == 10_000


def test_max_resp_code_float_format() -> None:
    # RFC 3376 4.1.1: 0x80 | exp << 4 | mant -> (mant | 0x10) << (exp + 3)
    assert igmp.decode_code(127) == 127
    assert igmp.decode_code(0x80) == 128
    assert igmp.decode_code(0xFF) == 31744
    assert igmp.decode_code(0x81) == 136  # (1 | 0x10) << 3
    assert igmp.decode_code(0xA0) == 512  # (0 | 0x10) << (2 + 3)


def test_reports_and_leave_parse() -> None:
    assert igmp.parse(with_checksum(header(0x12, 0, G))) == igmp.Report(1, G)
    assert igmp.parse(with_checksum(header(0x16, 0, G))) == igmp.Report(2, G)
    assert igmp.parse(with_checksum(header(0x17, 0, G))) == igmp.Leave(G)
    raw = with_checksum(struct.pack("!BBHHH", 0x22, 0, 0, 0, 2) + struct.pack("!BBH4s", 2, 0, 0, G)
                        + struct.pack("!BBH4s", 1, 1, 1, G) + S1 + b"auxd")
    report = igmp.parse(raw)
    assert report == igmp.V3Report((igmp.GroupRecord(2, G), igmp.GroupRecord(1, G, (S1,), b"auxd")))


@pytest.mark.parametrize(
    ("raw", "drop"),
    [
        (header(0x11, 0)[:7], Drop.IGMP_TRUNCATED),
        (b"", Drop.IGMP_TRUNCATED),
        (with_checksum(header(0x16, 0, G), good=False), Drop.IGMP_BAD_CHECKSUM),
        (with_checksum(header(0x11, 10) + b"\0\0"), Drop.IGMP_BAD_QUERY_LENGTH),  # 10 octets: RFC 3376 7.1
        (with_checksum(header(0x11, 10) + struct.pack("!BBH", 0, 0, 3) + S1), Drop.IGMP_QUERY_SOURCES_TRUNCATED),
        (with_checksum(struct.pack("!BBHHH", 0x22, 0, 0, 0, 1) + b"\x02\0\0"), Drop.IGMP_REPORT_TRUNCATED),
        (with_checksum(struct.pack("!BBHHH", 0x22, 0, 0, 0, 1) + struct.pack("!BBH4s", 1, 0, 2, G) + S1),
         Drop.IGMP_REPORT_TRUNCATED),
        (with_checksum(header(0x13, 0, G)), Drop.IGMP_UNKNOWN_TYPE),
    ],
    ids=["7-octets", "empty", "bad-checksum", "query-10-octets", "query-sources-past-end",
         "v3-record-header-past-end", "v3-record-sources-past-end", "unknown-type"],
)
def test_malformed_messages_are_drops(raw: bytes, drop: Drop) -> None:
    assert igmp.parse(raw) is drop


def test_encodings_carry_valid_checksums_and_round_trip() -> None:
    messages: list[igmp.Message] = [
        igmp.Query(2, 100, G),
        igmp.Query(3, 0x85, G, True, 2, 125, (S1, S2)),
        igmp.Report(1, G),
        igmp.Report(2, G),
        igmp.Leave(G),
        igmp.V3Report((igmp.GroupRecord(4, G), igmp.GroupRecord(1, G, (S1,)))),
    ]
    for msg in messages:
        raw = msg.encode()
        assert verify(raw)
        assert igmp.parse(raw) == msg


def test_parse_never_raises_on_prefixes_and_flipped_octets() -> None:
    raw = igmp.V3Report((igmp.GroupRecord(4, G, (S1, S2)),)).encode()
    for cut in range(len(raw) + 1):
        result = igmp.parse(raw[:cut])
        assert isinstance(result, (Drop, igmp.V3Report))
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0xFF
        assert isinstance(igmp.parse(bytes(damaged)), (Drop, igmp.V3Report))
