"""Barrier probes: proving "no answer" without waiting out a silence window.

Where an RFC expects a DUT to answer a frame at once or not at all (an echo reply, an ICMP
error, a Neighbor Advertisement), a DUT that handles the frames it receives one after another,
in order, has sent any answer to a frame before it answers the next one. So the tester sends an
echo request right behind the stimulus, the *barrier*: once its reply is here, an answer to the
stimulus would be here too, and the silence is proven without a window. Where the RFC allows a
delay (timers, rate limits, random report delays, DAD), tests keep real windows.

The probe is an ICMP or ICMPv6 Echo Request from the tester's address to the DUT's, with an
identifier and payload of its own, so its reply is told apart from every frame a test expects.
Whether a backend keeps its DUT's answers in order is checked per backend by
``harness/tests/test_barrier_order.py`` (hundreds of stimulus/barrier pairs, also under CPU
load); a backend that reorders must leave ``in_order`` off, and then every window is waited out.
"""

from __future__ import annotations

import struct
from itertools import count
from typing import Final

from scapy.layers.inet import ICMP
from scapy.layers.inet6 import ICMPv6EchoReply
from scapy.layers.l2 import ARP
from scapy.packet import Packet
from scapy.utils import checksum

from harness.dut import Family, LinkInfo
from harness.frames import mac_bytes

BARRIER_ID: Final = 0xB7A1  # the echo identifier of every probe; the sequence number tells them apart
_TOKEN: Final = b"stackcheck barrier "
_sequence = count(1)


def family_of(frame: bytes) -> Family | None:
    """The IP family of a frame the tester sent (ARP counts as IPv4), None for anything else."""
    ethertype = frame[12:14]
    if ethertype in (b"\x08\x00", b"\x08\x06"):
        return 4
    if ethertype == b"\x86\xdd":
        return 6
    return None


def probe(info: LinkInfo, family: Family) -> tuple[bytes, int]:
    """An echo request from the tester to the DUT, and the sequence number its reply carries.

    Packed by hand (the same octets as Scapy's defaults give): a run sends thousands, before and
    after every test, and Scapy's build cost a millisecond of the tester's CPU each."""
    seq = next(_sequence) & 0xFFFF
    token = _TOKEN + str(seq).encode()
    ether = mac_bytes(info.dut_mac) + mac_bytes(info.tester_mac)
    if family == 4:
        icmp = _checksummed(struct.pack("!BBHHH", 8, 0, 0, BARRIER_ID, seq) + token, b"")
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                         info.tester_ipv4.packed, info.dut_ipv4.ip.packed)
        return ether + b"\x08\x00" + _checksummed(ip, b"", at=10) + icmp, seq
    src, dst = info.tester_ipv6.packed, info.dut_ipv6.ip.packed
    body = struct.pack("!BBHHH", 128, 0, 0, BARRIER_ID, seq) + token
    # RFC 8200 8.1: the ICMPv6 checksum covers a pseudo-header of the addresses, the length and 58.
    icmp6 = _checksummed(body, src + dst + struct.pack("!I3xB", len(body), 58))
    ip6 = struct.pack("!IHBB16s16s", 0x6000_0000, len(icmp6), 58, 64, src, dst)
    return ether + b"\x86\xdd" + ip6 + icmp6, seq


def _checksummed(data: bytes, pseudo: bytes, at: int = 2) -> bytes:
    """``data`` with the Internet checksum over ``pseudo + data`` written at offset ``at``."""
    value = checksum(pseudo + data)
    return data[:at] + value.to_bytes(2, "big") + data[at + 2:]


def is_reply(pkt: Packet, seq: int) -> bool:
    """Whether ``pkt`` (a dissected frame from the DUT) is the reply to probe ``seq``."""
    token = _TOKEN + str(seq).encode()
    if pkt.haslayer(ICMPv6EchoReply):
        reply = pkt[ICMPv6EchoReply]
        return bool(reply.id == BARRIER_ID and reply.seq == seq and bytes(reply.data) == token)
    if pkt.haslayer(ICMP) and not pkt.haslayer(ARP):
        icmp = pkt[ICMP]
        return bool(icmp.type == 0 and icmp.id == BARRIER_ID and icmp.seq == seq
                    and bytes(icmp.payload) == token)
    return False
