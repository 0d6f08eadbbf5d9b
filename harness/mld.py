"""The tester's side of MLDv2 (RFC 3810): queries built byte by byte, so a test can send any
length or field, and the Multicast Address Records of the DUT's reports read back.

Groups of our own are site-local-scope (ff05::db8:n, ``site_group(n)``); each test uses groups
of its own so reports about the groups an earlier test left cannot satisfy it. Maximum
Response Codes stay small (500 ms) so the linux backend spends little wall time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Final

from scapy.layers.inet6 import ICMPv6MLReport2, IPv6, IPv6ExtHdrHopByHop, RouterAlert
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness.dut import ExpectationFailed
from harness.frames import multicast_mac, solicited_node

if TYPE_CHECKING:
    from harness.dut import DUT

ALL_NODES: Final = "ff02::1"
MLDV2_ROUTERS: Final = "ff02::16"
QUERY, V2_REPORT = 130, 143
MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE = 1, 2, 3, 4
MRD_MS: Final = 500  # Maximum Response Code < 32768: milliseconds (RFC 3810 5.1.3)
QUIET_S: Final = 0.8  # longer than the Maximum Response Delay, with room for scheduling jitter
ROUTER_ALERT_MLD: Final = 0  # RFC 2711 2.1: value 0 "Datagram contains a Multicast Listener Discovery message"
SOURCE_A: Final = "2001:db8:2::a"
SOURCE_B: Final = "2001:db8:2::b"


def site_group(n: int) -> str:
    """A site-local-scope group of our own (documentation-style ff05::db8:n)."""
    return f"ff05::db8:{n:x}"


# ---- building queries -------------------------------------------------------------------------


def with_checksum(msg: bytes, src: str, dst: str) -> bytes:
    """``msg`` with its ICMPv6 checksum over the RFC 8200 8.1 pseudo-header filled in."""
    msg = msg[:2] + b"\x00\x00" + msg[4:]
    pseudo = IPv6Address(src).packed + IPv6Address(dst).packed + struct.pack("!I3xB", len(msg), 58)
    return msg[:2] + struct.pack("!H", checksum(pseudo + msg)) + msg[4:]


def v2_query(group: str = "::", mrc: int = MRD_MS, *, sources: tuple[str, ...] = (), qrv: int = 2,
             qqic: int = 125, s_flag: bool = False) -> bytes:
    """An MLDv2 Multicast Listener Query (RFC 3810 5.1), checksum left zero."""
    head = struct.pack("!BBHHH", QUERY, 0, 0, mrc, 0) + IPv6Address(group).packed
    tail = struct.pack("!BBH", (0x08 if s_flag else 0) | (qrv & 0x07), qqic, len(sources))
    return head + tail + b"".join(IPv6Address(s).packed for s in sources)


def mld_frame(dut: DUT, msg: bytes, *, dst: str = ALL_NODES, src: str | None = None, hlim: int = 1,
              router_alert: bool = True, fix_checksum: bool = True) -> Packet:
    """An MLD message from the tester: link-local source, Hop Limit 1, Router Alert (RFC 3810 5)."""
    src = src or str(dut.info.tester_ipv6_ll)
    if fix_checksum:
        msg = with_checksum(msg, src, dst)
    mac = multicast_mac(dst) if IPv6Address(dst).is_multicast else dut.info.dut_mac
    ip = dut.ether(dst=mac) / IPv6(src=src, dst=dst, hlim=hlim)
    if router_alert:
        return ip / IPv6ExtHdrHopByHop(nh=58, options=[RouterAlert(value=ROUTER_ALERT_MLD)]) / Raw(msg)
    ip.nh = 58
    return ip / Raw(msg)


# ---- reading reports --------------------------------------------------------------------------


Record = tuple[int, IPv6Address, list[str], int]  # (type, multicast address, sources, aux data len)


def parse_records(data: bytes, count: int | None = None) -> list[Record]:
    """Multicast Address Records (RFC 3810 5.2.4) read byte by byte from ``data``.

    Scapy 2.8.0 dissects the records of a report as one record whose payload is the next one,
    so the tests read the bytes themselves."""
    out: list[Record] = []
    at = 0
    while at + 20 <= len(data) and (count is None or len(out) < count):
        rtype, aux, nsrc = data[at], data[at + 1], struct.unpack_from("!H", data, at + 2)[0]
        group = IPv6Address(data[at + 4 : at + 20])
        sources = [str(IPv6Address(data[at + 20 + 16 * i : at + 36 + 16 * i])) for i in range(nsrc)
                   if at + 36 + 16 * i <= len(data)]
        out.append((rtype, group, sources, aux))
        at += 20 + 16 * nsrc + 4 * aux
    return out


def has_record(group: str, rtypes: tuple[int, ...]) -> Callable[[list[Packet]], bool]:
    want = IPv6Address(group)
    return lambda recs: any(r[0] in rtypes and r[1] == want
                            for r in parse_records(b"".join(bytes(x) for x in recs)))


def expect_record(dut: DUT, group: str, rtypes: tuple[int, ...], within: float = QUIET_S) -> Packet:
    """The next MLDv2 report (from now or still queued) with a record of ``rtypes`` for ``group``."""
    return dut.expect(ICMPv6MLReport2, within=within, records=has_record(group, rtypes))


def no_record(dut: DUT, group: str, rtypes: tuple[int, ...], within: float = QUIET_S) -> None:
    dut.expect_none(ICMPv6MLReport2, within=within, records=has_record(group, rtypes))


def records(report: Packet) -> list[Record]:
    body = bytes(report[ICMPv6MLReport2])
    return parse_records(body[8:], struct.unpack_from("!H", body, 6)[0])


def hop_by_hop_options(report: Packet) -> bytes | None:
    """The option bytes of the Hop-by-Hop header right after the IPv6 header, if there is one."""
    raw = bytes(report[IPv6])
    if raw[6] != 0:
        return None
    return raw[40 + 2 : 40 + 8 * (raw[41] + 1)]


def settle(dut: DUT, *groups: str) -> None:
    """Join ``groups`` and let their state-change reports (and retransmissions) go by."""
    for group in groups:
        dut.join_group(group)
    missing = {IPv6Address(g) for g in groups}
    while missing:  # one report may carry the records of several joins
        report = dut.expect(ICMPv6MLReport2, within=1.2)
        missing -= {g for t, g, _, _ in records(report) if t == CHANGE_TO_EXCLUDE}
    dut.wait(1.1)  # Unsolicited Report Interval 1 s (RFC 3810 9.11): the retransmissions are out


def flush_reports(dut: DUT) -> None:
    """Consume every MLDv2 report the DUT emitted so far, so later expects see only new ones."""
    while True:
        try:
            dut.expect(ICMPv6MLReport2, within=0)
        except ExpectationFailed:
            return


def sn_group(dut: DUT) -> str:
    """The solicited-node group of the DUT's addresses (both end in ...:0:1)."""
    return solicited_node(dut.info.dut_ipv6.ip)
