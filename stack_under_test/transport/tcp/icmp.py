"""ICMP errors about our segments (RFC 9293 3.9.2.2, RFC 1122 4.2.3.9, RFC 5927; Path MTU
Discovery per RFC 1191 and RFC 8201).

RFC 9293 3.9.2.2: "TCP implementations MUST act on an ICMP error message passed up from the IP
layer, directing it to the connection that created the error (MUST-54)." The quoted segment
names the connection; its sequence number must lie in SND.UNA =< SEQ < SND.NXT (RFC 5927 4.1),
or the message is stale or forged and ignored.
"""

from __future__ import annotations

from typing import Final

from stack_under_test import params
from stack_under_test.transport.tcp import seq
from stack_under_test.transport.tcp.connection import Connection
from stack_under_test.transport.tcp.contracts import Key
from stack_under_test.wire import ipv6_ext

# RFC 9293 3.9.2.2: "Hard Errors: For ICMP these include Destination Unreachable -- codes 2-4";
# code 4 (Fragmentation Needed) is Path MTU Discovery's. Codes RFC 9293 leaves open are hard where
# Linux's icmp_err_convert[] marks them fatal (6, 7, 8, 9, 10, 13, 14, 15).
_HARD_V4: Final = frozenset({2, 3, 6, 7, 8, 9, 10, 13, 14, 15})
# RFC 9293 3.9.2.2: "For ICMPv6, these [soft errors] include: Destination Unreachable -- codes 0,
# 3"; the other Destination Unreachable codes are hard.
_SOFT_V6_UNREACHABLE: Final = frozenset({0, 3})
# RFC 1191 7: the plateau table, for a Fragmentation Needed without a Next-Hop MTU.
_PLATEAUS: Final = (32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68)


def quoted_segment(family: int, quoted: memoryview) -> tuple[Key, int] | None:
    """The connection (our key) and the sequence number of the segment an ICMP error quotes;
    ``quoted`` starts at the IP header of the segment we sent. None when too little is quoted."""
    if family == 4:
        if len(quoted) < 20:
            return None
        offset: int | None = (quoted[0] & 0x0F) << 2
        src, dst = bytes(quoted[12:16]), bytes(quoted[16:20])
    else:
        _, offset = ipv6_ext.upper_layer(quoted)
        src, dst = bytes(quoted[8:24]), bytes(quoted[24:40])
    if offset is None or len(quoted) < offset + 8:
        return None  # RFC 792 quotes "the first 64 bits": ports and sequence number
    sport = quoted[offset] << 8 | quoted[offset + 1]
    dport = quoted[offset + 2] << 8 | quoted[offset + 3]
    return (src, sport, dst, dport), int.from_bytes(quoted[offset + 4 : offset + 8], "big")


def in_flight(conn: Connection, seg_seq: int) -> bool:
    """RFC 5927 4.1: implementations "check that the TCP sequence number contained in the payload
    of the ICMP error message is within the range SND.UNA =< SEG.SEQ < SND.NXT ... If an ICMP error
    message does not pass this check, it is discarded." """
    sender = conn.sender
    assert sender is not None
    return seq.le(sender.snd_una, seg_seq) and seq.lt(seg_seq, sender.snd_max)


def handle_error(conn: Connection, family: int, kind: str, seg_seq: int, param: int, quoted: memoryview) -> None:
    """An ICMP error about ``conn``'s segment at ``seg_seq``: ``kind`` is "<type>/<code>",
    ``param`` the 32 bits after the ICMP checksum."""
    if not in_flight(conn, seg_seq):
        conn.tcp.count_event("tcp_icmp_out_of_window")
        return
    icmp_type, _, code_text = kind.partition("/")
    code = int(code_text)
    if family == 4:
        _handle_v4(conn, int(icmp_type), code, param, quoted)
    else:
        _handle_v6(conn, int(icmp_type), code, param)
    conn.rearm()


def _handle_v4(conn: Connection, icmp_type: int, code: int, param: int, quoted: memoryview) -> None:
    if icmp_type == 4:
        # RFC 9293 3.9.2.2: "TCP implementations MUST silently discard any received ICMP Source Quench
        # messages (MUST-55)."
        conn.tcp.count_event("tcp_icmp_source_quench_ignored")
        return
    if icmp_type == 3 and code == 4:
        # RFC 1191 4: the Next-Hop MTU "in the low-order 16 bits"; without one, RFC 1191 5 has the
        # host guess from the plateau table below the quoted datagram's length.
        mtu = param & 0xFFFF
        if mtu == 0:
            total = quoted[2] << 8 | quoted[3]
            mtu = next((p for p in _PLATEAUS if p < total), params.IPV4_MIN_MTU)
        # RFC 1191 3: "A host MUST never reduce its estimate of the Path MTU below 68 octets."
        _path_mtu(conn, max(mtu, params.IPV4_MIN_MTU))
        return
    hard = icmp_type == 3 and code in _HARD_V4
    _report(conn, hard, "refused" if (icmp_type, code) == (3, 3) else "unreachable")


def _handle_v6(conn: Connection, icmp_type: int, code: int, param: int) -> None:
    if icmp_type == 2:
        # RFC 8201 4: "When a Packet Too Big message is received, the node MUST reduce its estimate
        # of the PMTU for the relevant path"; the IPv6 layer has checked the 1280 minimum.
        _path_mtu(conn, max(param, params.IPV6_MIN_MTU))
        return
    hard = icmp_type == 1 and code not in _SOFT_V6_UNREACHABLE
    _report(conn, hard, "refused" if (icmp_type, code) == (1, 4) else "unreachable")


def _report(conn: Connection, hard: bool, error: str) -> None:
    if hard:
        # RFC 9293 3.9.2.2 (and RFC 1122 4.2.3.9): "These are hard error conditions, so TCP
        # implementations SHOULD abort the connection (SHLD-26)", in every state. RFC 5927 5.2
        # reports that "most popular TCP implementations" (Linux among them) treat hard errors in
        # the synchronized states as soft, against blind connection-reset attacks; here the RFC
        # 5927 4.1 sequence-number check above already makes a blind error guess a sequence number
        # in flight, so the SHOULD stands.
        conn.tcp.count_event("tcp_icmp_hard_error_abort")
        conn.fail(error)
        return
    # Soft errors: "a TCP implementation MUST NOT abort the connection (MUST-56), and it SHOULD make
    # the information available to the application (SHLD-25)".
    conn.soft_error = error
    conn.tcp.count_event("tcp_icmp_soft_error")


def _path_mtu(conn: Connection, mtu: int) -> None:
    sender = conn.sender
    assert sender is not None
    # RFC 1191 6.4: "the TCP layer must be able to recognize when a Datagram Too Big notification
    # actually decreases the PMTU that it has already used to send a datagram on the given
    # connection, and should ignore any other notifications."
    if not conn.lower_path_mtu(mtu):
        conn.tcp.count_event("tcp_pmtu_not_lower")
        return
    conn.tcp.count_event("tcp_pmtu_lowered")
    # RFC 1191 6.4: "the retransmission could be done in immediate response to a notification that
    # the Path MTU has changed, but only for the specific connection", and it "should not change the
    # congestion window. It should, however, trigger the slow-start mechanism (i.e., only one segment
    # should be retransmitted until acknowledgements begin to arrive again)" (Linux
    # tcp_simple_retransmit()).
    if sender.flight:
        sender.snd_nxt = sender.snd_una
        sender.retransmit_first()
