"""wire/mld.py: MLDv1 (RFC 2710 3) and MLDv2 (RFC 3810 5) messages, parse total over bytes."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire import mld
from stack_under_test.wire.icmpv6 import checksum_ok


def a(text: str) -> bytes:
    return IPv6Address(text).packed


SRC = a("fe80::1")
ALL_NODES = a("ff02::1")
G = a("ff05::1:3")
S1, S2 = a("2001:db8:1::10"), a("2001:db8:1::11")


def test_v1_query_layout_rfc2710_3() -> None:
    # Type 130, Code 0, Checksum, Maximum Response Delay, Reserved, Multicast Address: 24 octets.
    raw = mld.Query(1, 10_000, G).encode(SRC, G)
    assert len(raw) == 24
    assert raw[0] == 130 and raw[1] == 0
    assert struct.unpack_from("!H", raw, 4)[0] == 10_000
    assert raw[6:8] == b"\0\0" and raw[8:24] == G
    assert checksum_ok(SRC, G, memoryview(raw))
    q = mld.parse(raw)
    assert q == mld.Query(1, 10_000, G)
    assert isinstance(q, mld.Query) and q.max_resp_ms == 10_000 and not q.general


def test_v1_report_and_done_layout() -> None:
    report = mld.V1Report(G).encode(SRC, G)
    done = mld.Done(G).encode(SRC, a("ff02::2"))
    assert report[0] == 131 and done[0] == 132
    assert len(report) == len(done) == 24
    assert report[8:] == G and done[8:] == G
    assert mld.parse(report) == mld.V1Report(G)
    assert mld.parse(done) == mld.Done(G)


def test_v2_query_fields_rfc3810_5_1() -> None:
    q = mld.Query(2, 1000, G, suppress=True, qrv=3, qqic=125, sources=(S1, S2))
    raw = q.encode(SRC, G)
    assert len(raw) == 28 + 32
    assert raw[24] == 0x08 | 3  # Resv | S | QRV
    assert raw[25] == 125 and struct.unpack_from("!H", raw, 26)[0] == 2
    assert raw[28:44] == S1 and raw[44:60] == S2
    parsed = mld.parse(raw)
    assert parsed == q
    assert isinstance(parsed, mld.Query) and parsed.qqi_ms == 125_000 and parsed.max_resp_ms == 1000


def test_query_length_rules_rfc3810_8_1() -> None:
    v2 = mld.Query(2, 1000).encode(SRC, ALL_NODES)
    assert isinstance(mld.parse(v2[:24]), mld.Query) and mld.parse(v2[:24]).version == 1  # type: ignore[union-attr]
    for size in (25, 26, 27):
        assert mld.parse(v2[:size]) is Drop.MLD_BAD_QUERY_LENGTH
    assert mld.parse(v2[:23]) is Drop.MLD_TRUNCATED
    assert mld.parse(v2).version == 2  # type: ignore[union-attr]


def test_v2_query_source_count_past_end_is_dropped() -> None:
    raw = bytearray(mld.Query(2, 1000, G, sources=(S1,)).encode(SRC, G))
    struct.pack_into("!H", raw, 26, 2)
    assert mld.parse(bytes(raw)) is Drop.MLD_QUERY_SOURCES_TRUNCATED


@pytest.mark.parametrize(
    ("code", "delay"),
    [
        (0, 0),
        (1000, 1000),
        (32767, 32767),
        # RFC 3810 5.1.3: (mant | 0x1000) << (exp + 3)
        (0x8000, 0x1000 << 3),
        (0x8FFF, 0x1FFF << 3),
        (0xF000, 0x1000 << 10),
        (0xFFFF, 0x1FFF << 10),
    ],
)
def test_maximum_response_code_rfc3810_5_1_3(code: int, delay: int) -> None:
    assert mld.decode_max_resp_code(code) == delay


@pytest.mark.parametrize(("code", "seconds"), [(0, 0), (125, 125), (127, 127), (0x80, 0x10 << 3), (0xFF, 0x1F << 10)])
def test_qqic_rfc3810_5_1_9(code: int, seconds: int) -> None:
    assert mld.decode_qqic(code) == seconds


def test_v2_report_records_rfc3810_5_2() -> None:
    records = (
        mld.AddressRecord(4, G),
        mld.AddressRecord(1, a("ff05::2"), (S1, S2), aux_data=b"\x01\x02\x03\x04"),
    )
    raw = mld.V2Report(records).encode(SRC, mld.ALL_MLDV2_ROUTERS)
    assert raw[0] == 143 and struct.unpack_from("!H", raw, 6)[0] == 2
    # Record Type, Aux Data Len (32-bit words), Number of Sources, Multicast Address.
    assert raw[8:12] == bytes([4, 0, 0, 0]) and raw[12:28] == G
    assert raw[28:32] == bytes([1, 1, 0, 2])
    assert len(raw) == 8 + 20 + 20 + 32 + 4
    assert mld.parse(raw) == mld.V2Report(records)
    assert checksum_ok(SRC, mld.ALL_MLDV2_ROUTERS, memoryview(raw))


def test_v2_report_truncated_record_is_dropped() -> None:
    raw = mld.V2Report((mld.AddressRecord(1, G, (S1,)),)).encode(SRC, mld.ALL_MLDV2_ROUTERS)
    assert mld.parse(raw[:-1]) is Drop.MLD_REPORT_TRUNCATED
    assert mld.parse(raw[:20]) is Drop.MLD_REPORT_TRUNCATED
    assert mld.parse(raw[:5]) is Drop.MLD_TRUNCATED


def test_parse_is_total_over_bytes() -> None:
    rng = random.Random(3810)
    seeds = [
        mld.Query(2, 1000, G, sources=(S1,)).encode(SRC, G),
        mld.V2Report((mld.AddressRecord(1, G, (S1, S2)),)).encode(SRC, mld.ALL_MLDV2_ROUTERS),
        mld.V1Report(G).encode(SRC, G),
    ]
    for _ in range(3000):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        cut = bytes(base[: rng.randrange(len(base) + 1)])
        result = mld.parse(cut)
        assert isinstance(result, (Drop, mld.Query, mld.V1Report, mld.Done, mld.V2Report))
