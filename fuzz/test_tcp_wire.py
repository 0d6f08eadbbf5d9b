"""TCP's wire format under the three properties the other formats have: totality (any octets
parse to a record or a Drop, never an exception), round trip (parse(encode(record)) == record,
and Scapy reads our encoding the same way), and difference against Scapy's own encoding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import TCP

from fuzz.profiles import budget
from fuzz.strategies.tcp import tcp_option_lists
from stack_under_test.drops import Drop
from stack_under_test.wire.tcp import TCPOptions, TCPSegment, verify_checksum

SRC, DST = bytes((198, 51, 100, 2)), bytes((198, 51, 100, 1))
U16, U32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)


@st.composite
def tcp_options(draw: st.DrawFn) -> TCPOptions:
    """Options that encode within 40 octets (valid by construction)."""
    ts = draw(st.none() | st.tuples(U32, U32))
    syn_like = draw(st.booleans())
    room = 40 - (12 if ts else 0) - (8 if syn_like else 0)
    blocks = draw(st.lists(st.tuples(U32, U32), max_size=max(0, (room - 4) // 8)))
    return TCPOptions(
        mss=draw(st.none() | U16) if syn_like else None,
        window_scale=draw(st.none() | st.integers(0, 255)) if syn_like else None,
        sack_permitted=draw(st.booleans()) if syn_like else False,
        timestamps=ts,
        sack_blocks=tuple(blocks),
    )


segments = st.builds(TCPSegment, U16, U16, U32, U32, st.integers(0, 0xFF), U16, U16, tcp_options(),
                     st.binary(max_size=64))


@budget(200)
@given(raw=st.binary(max_size=80) | tcp_option_lists())
def test_option_parsing_is_total(raw: bytes) -> None:
    opts = TCPOptions.parse(raw)
    assert isinstance(opts, TCPOptions)
    assert opts.window_scale is None or 0 <= opts.window_scale <= 255


@budget(200)
@given(raw=st.binary(max_size=100))
def test_segment_parsing_is_total(raw: bytes) -> None:
    got = TCPSegment.parse(raw)
    assert isinstance(got, (TCPSegment, Drop))


@budget(200)
@given(seg=segments)
def test_segment_round_trip(seg: TCPSegment) -> None:
    raw = seg.encode(SRC, DST)
    assert verify_checksum(raw, SRC, DST)
    assert TCPSegment.parse(raw) == seg


@budget(150)
@given(seg=segments)
def test_scapy_reads_our_encoding_the_same_way(seg: TCPSegment) -> None:
    raw = seg.encode(SRC, DST)
    theirs = TCP(raw)
    assert (theirs.sport, theirs.dport, theirs.seq, theirs.ack) == (seg.src_port, seg.dst_port, seg.seq, seg.ack)
    assert (int(theirs.flags), theirs.window, theirs.urgptr) == (seg.flags, seg.window, seg.urgent)
    assert bytes(theirs.payload) == seg.payload
    options = dict(theirs.options)
    if seg.options.mss is not None:
        assert options["MSS"] == seg.options.mss
    if seg.options.window_scale is not None:
        assert options["WScale"] == seg.options.window_scale
    if seg.options.timestamps is not None:
        assert options["Timestamp"] == seg.options.timestamps
    if seg.options.sack_blocks:
        assert options["SAck"] == tuple(x for block in seg.options.sack_blocks for x in block)
    assert ("SAckOK" in options) is seg.options.sack_permitted


@budget(150)
@given(sport=U16, dport=U16, seq=U32, ack=U32, flags=st.integers(0, 0xFF), window=U16,
       mss=U16, wscale=st.integers(0, 14), ts=st.tuples(U32, U32), data=st.binary(max_size=32))
def test_we_read_scapys_encoding_the_same_way(sport: int, dport: int, seq: int, ack: int, flags: int,
                                               window: int, mss: int, wscale: int, ts: tuple[int, int],
                                               data: bytes) -> None:
    pkt = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=window,
              options=[("MSS", mss), ("NOP", None), ("WScale", wscale), ("SAckOK", b""), ("Timestamp", ts)]) / data
    seg = TCPSegment.parse(bytes(pkt))
    assert isinstance(seg, TCPSegment)
    assert (seg.src_port, seg.dst_port, seg.seq, seg.ack, seg.flags, seg.window) == (sport, dport, seq, ack, flags, window)
    assert (seg.options.mss, seg.options.window_scale, seg.options.timestamps) == (mss, wscale, ts)
    assert seg.options.sack_permitted and seg.payload == data
