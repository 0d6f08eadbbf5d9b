"""The tester's side of MLD (RFC 2710, RFC 3810): queries and reports built with Scapy's MLD
layers (or as raw octets of any length, for the malformed ones), and the Multicast Address
Records of the DUT's MLDv2 reports read back.

Groups of our own are site-local-scope (ff05::db8:n, ``site_group(n)``); each test uses groups
of its own so reports about the groups an earlier test left cannot satisfy it. Maximum
Response Codes stay small (500 ms) so the linux backend spends little wall time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Final

from scapy.layers.inet6 import (
    ICMPv6MLDMultAddrRec,
    ICMPv6MLQuery,
    ICMPv6MLQuery2,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    IPv6,
    IPv6ExtHdrHopByHop,
    RouterAlert,
)
from scapy.packet import Packet, Raw

from harness.dut import ExpectationFailed
from harness.features import has_feature, require_feature
from harness.frames import multicast_mac, solicited_node, with_icmpv6_checksum

if TYPE_CHECKING:
    from harness.dut import DUT

ALL_NODES: Final = "ff02::1"
MLDV2_ROUTERS: Final = "ff02::16"
QUERY, V2_REPORT = 130, 143
MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE = 1, 2, 3, 4
CURRENT_STATE: Final = (MODE_IS_INCLUDE, MODE_IS_EXCLUDE)  # record types that answer a query
MRD_MS: Final = 500  # Maximum Response Code < 32768: milliseconds (RFC 3810 5.1.3)
QUIET_S: Final = 0.8  # longer than the Maximum Response Delay, with room for scheduling jitter
ROUTER_ALERT_MLD: Final = 0  # RFC 2711 2.1: value 0 "Datagram contains a Multicast Listener Discovery message"
SOURCE_A: Final = "2001:db8:2::a"
SOURCE_B: Final = "2001:db8:2::b"


def site_group(n: int) -> str:
    """A site-local-scope group of our own (documentation-style ff05::db8:n)."""
    return f"ff05::db8:{n:x}"


# ---- building messages ------------------------------------------------------------------------


def v2_query(group: str = "::", mrc: int = MRD_MS, *, sources: tuple[str, ...] = (), qrv: int = 2,
             qqic: int = 125, s_flag: bool = False) -> Packet:
    """An MLDv2 Multicast Listener Query (RFC 3810 5.1); Scapy fills in the checksum when it is
    framed (``mld_frame``)."""
    return ICMPv6MLQuery2(mrd=mrc, mladdr=group, S=int(s_flag), QRV=qrv, QQIC=qqic, sources=list(sources))


def v1_query(group: str = "::", mrd: int = MRD_MS) -> Packet:
    """An MLDv1 Query (RFC 2710 3): exactly 24 octets, which is what makes it one (RFC 3810 8.1)."""
    return ICMPv6MLQuery(mladdr=group, mrd=mrd)


def v1_report(group: str) -> Packet:
    return ICMPv6MLReport(mladdr=group, mrd=0)


def v2_report(*records: tuple[int, str]) -> Packet:
    """An MLDv2 Report with one (record type, multicast address) record each, no sources."""
    return ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=rtype, dst=group) for rtype, group in records])


def message_bytes(msg: Packet) -> bytes:
    """A message's octets with a zero checksum, to cut or pad before ``mld_frame`` sums them."""
    zeroed = msg.copy()
    zeroed.cksum = 0
    return bytes(zeroed)


def mld_frame(dut: DUT, msg: Packet | bytes, *, dst: str = ALL_NODES, src: str | None = None, hlim: int = 1,
              router_alert: bool = True, mac: str | None = None) -> Packet:
    """An MLD message from the tester (or from ``mac``): link-local source, Hop Limit 1, Router
    Alert (RFC 3810 5). Raw octets get their checksum computed over exactly what is sent."""
    src = src or str(dut.info.tester_ipv6_ll)
    body = msg if isinstance(msg, Packet) else Raw(with_icmpv6_checksum(msg, src, dst))
    to = multicast_mac(dst) if IPv6Address(dst).is_multicast else dut.info.dut_mac
    ip = dut.ether(dst=to, **({} if mac is None else {"src": mac})) / IPv6(src=src, dst=dst, hlim=hlim)
    if router_alert:
        return ip / IPv6ExtHdrHopByHop(nh=58, options=[RouterAlert(value=ROUTER_ALERT_MLD)]) / body
    ip.nh = 58
    return ip / body


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
    message = report[ICMPv6MLReport2]
    return parse_records(bytes(message)[8:], message.records_number)


def answers_a_query(report: Packet) -> bool:
    """Whether an MLDv2 report carries a Current State Record: what answers a query (RFC 3810
    5.2.12), unlike the state-change records of a join's or a leave's (re)transmissions."""
    return any(kind in CURRENT_STATE for kind, *_ in records(report))


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


def as_mldv1_listener(dut: DUT) -> None:
    """Make the DUT an MLDv1 listener for a test of RFC 2710: natively on a DUT that speaks only
    MLDv1, through ``force_mld_version = 1`` on one that speaks MLDv2 (whose version 1 mode RFC 3810
    §8.2 requires). "Not implemented" on a DUT that declares neither version."""
    if has_feature(dut, "mldv2"):
        dut.set_ipv6_option("force_mld_version", 1)
    else:
        require_feature(dut, "mldv1")
