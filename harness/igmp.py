"""The tester's side of IGMP (RFC 2236, RFC 3376): queries and reports as the tester sends them
(Scapy's IGMP layers, as octets so a test can cut or damage them), and the group records of the
DUT's IGMPv3 reports read back.

Records are read from the octets rather than Scapy's ``IGMPv3_MR_Group``, which has no room for
Auxiliary Data: a report whose records carry some (RFC 3376 §4.2.10 forbids it) would be
misread instead of shown as it is.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import TYPE_CHECKING, Final

from scapy.layers.igmp import IGMP, IGMPv3_MQ
from scapy.layers.inet import IP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness.frames import multicast_mac

if TYPE_CHECKING:
    from harness.dut import DUT

ALL_SYSTEMS: Final = "224.0.0.1"
ALL_ROUTERS: Final = "224.0.0.2"
V3_REPORTS_TO: Final = "224.0.0.22"
ROUTER_ALERT: Final = b"\x94\x04\x00\x00"  # RFC 2113, which RFC 2236 §2 and RFC 3376 §4 ask for
QUERY, V1_REPORT, V2_REPORT, LEAVE, V3_REPORT = 0x11, 0x12, 0x16, 0x17, 0x22
MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE = 1, 2, 3, 4


def message(kind: int, code: int, group: str = "0.0.0.0") -> bytes:
    """An IGMPv1/v2 message (RFC 2236 §2): 8 octets, checksum filled in by Scapy."""
    return bytes(IGMP(type=kind, mrcode=code, gaddr=group))


def with_checksum(msg: bytes) -> bytes:
    """``msg`` (an IGMP message cut or padded to any length) with its RFC 1071 checksum filled in."""
    body = msg[:2] + b"\x00\x00" + msg[4:]
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def v3_query(group: str = "0.0.0.0", mrc: int = 5, qrv: int = 2, qqic: int = 125,
             sources: tuple[str, ...] = ()) -> bytes:
    """An IGMPv3 Membership Query (RFC 3376 §4.1), with ``sources`` a Group-and-Source-Specific
    one: checksum filled in, ``mrc`` the Max Resp Code octet as sent. (Scapy's ``mrcode`` takes a
    time in tenths of a second and encodes it: 255 became the code 0x8F, 24.8 s, not 0xFF's
    3174.4 s, and a test meant to keep a response pending answered within 0.45 s once in 50.)"""
    msg = bytearray(bytes(IGMPv3_MQ(gaddr=group, qrv=qrv, qqic=qqic, srcaddrs=list(sources))))
    msg[1] = mrc
    return with_checksum(bytes(msg))


def igmp_frame(dut: DUT, msg: bytes, dst: str = ALL_SYSTEMS, src: str | None = None) -> Packet:
    """An IGMP message from the tester (or from ``src``): TTL 1, Router Alert, to ``dst``'s MAC
    (the group's, or the DUT's for a unicast destination)."""
    fields = {} if src is None else {"src": src}
    frame = dut.ipv4(dst=dst, ttl=1, proto=2, tos=0xC0, options=[ROUTER_ALERT], **fields) / Raw(msg)
    if ipaddress.IPv4Address(dst).is_multicast:
        frame.dst = multicast_mac(dst)
    return frame


def igmp_of(pkt: Packet) -> bytes:
    """The IGMP message of a frame, delimited by the IP header length and Total Length."""
    ip = bytes(pkt[IP])
    return ip[(ip[0] & 0x0F) * 4 : struct.unpack_from("!H", ip, 2)[0]]


def v3_records(pkt: Packet) -> list[tuple[int, str]]:
    """(record type, group) of each group record of an IGMPv3 Membership Report (RFC 3376 §4.2)."""
    msg, out, at = igmp_of(pkt), [], 8
    for _ in range(struct.unpack_from("!H", msg, 6)[0]):
        rtype, aux, nsrc = msg[at], msg[at + 1], struct.unpack_from("!H", msg, at + 2)[0]
        out.append((rtype, str(ipaddress.IPv4Address(msg[at + 4 : at + 8]))))
        at += 8 + 4 * nsrc + 4 * aux
    return out
