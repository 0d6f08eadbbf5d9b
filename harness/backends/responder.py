"""Tester-side ARP and Neighbor Discovery responder: the tester's addresses resolve like a host's.

The tester speaks raw frames and its addresses live in no kernel, so a DUT without static
neighbor entries (lwIP has none for IPv6, a user's embedded stack may have none at all) would
get no answer to "who has 198.51.100.2?". The responder answers, from the tester's raw socket:

- a *broadcast* ARP Request whose target is ``tester_ipv4`` (RFC 826), with an ARP Reply;
- a *multicast* Neighbor Solicitation (address resolution, RFC 4861 §7.2.2) whose target is
  ``tester_ipv6`` or ``tester_ipv6_ll`` and whose source is not the unspecified address, with a
  solicited Neighbor Advertisement carrying the tester's MAC (S=1, O=1, §7.2.4).

It leaves alone what the tests look at themselves: *unicast* ARP and Neighbor Solicitations
(Neighbor Unreachability Detection probes, RFC 4861 §7.3.3: a NUD test decides itself whether
to answer), Duplicate Address Detection (unspecified source), and every ``other_*`` address
(resolution-failure tests must see the DUT's solicitations go unanswered). It never hides a
frame: the request still reaches the backlog, ``expect`` and the pcap, and the reply is
recorded in the pcap as sent to the DUT. ``enabled`` switches it off for a whole run.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Final

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from harness.dut import LinkInfo

_ARP: Final = 0x0806
_IPV6: Final = 0x86DD
_ICMPV6: Final = 58
_NS: Final = 135
_BROADCAST: Final = b"\xff" * 6


class NeighborResponder:
    """Answers the DUT's address-resolution requests for the tester's own addresses."""

    def __init__(self, info: LinkInfo, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.answered = 0  # replies sent, for the harness's own tests
        self._tester_mac = info.tester_mac
        self._ipv4 = info.tester_ipv4.packed
        self._ipv6 = {info.tester_ipv6.packed, info.tester_ipv6_ll.packed}

    def reply_to(self, frame: bytes) -> bytes | None:
        """The reply ``frame`` asks for, or None (not a resolution request for a tester address)."""
        if not self.enabled or len(frame) < 42:
            return None
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype == _ARP:
            return self._arp_reply(frame)
        if ethertype == _IPV6 and len(frame) >= 78:
            return self._advert(frame)
        return None

    def _arp_reply(self, frame: bytes) -> bytes | None:
        # Ethernet/IPv4 ARP Request (htype 1, ptype 0x0800, hlen 6, plen 4, op 1), broadcast.
        if frame[0:6] != _BROADCAST or frame[14:22] != b"\x00\x01\x08\x00\x06\x04\x00\x01":
            return None
        if frame[38:42] != self._ipv4:
            return None
        sender_mac, sender_ip = frame[22:28], frame[28:32]
        reply = Ether(src=self._tester_mac, dst=sender_mac.hex(":")) / ARP(
            op=2, hwsrc=self._tester_mac, psrc=str(IPv4Address(self._ipv4)),
            hwdst=sender_mac.hex(":"), pdst=str(IPv4Address(sender_ip)))
        self.answered += 1
        return bytes(reply)

    def _advert(self, frame: bytes) -> bytes | None:
        # IPv6 with ICMPv6 directly after the fixed header (NDP carries no extension headers in
        # practice), a Neighbor Solicitation (type 135) to a multicast destination.
        if frame[20] != _ICMPV6 or frame[54] != _NS or frame[38] != 0xFF or frame[21] != 255:
            return None
        source, target = frame[22:38], frame[62:78]
        if target not in self._ipv6 or source == bytes(16):
            return None
        reply = (
            Ether(src=self._tester_mac, dst=frame[6:12].hex(":"))
            / IPv6(src=str(IPv6Address(target)), dst=str(IPv6Address(source)), hlim=255)
            / ICMPv6ND_NA(tgt=str(IPv6Address(target)), R=0, S=1, O=1)
            / ICMPv6NDOptDstLLAddr(lladdr=self._tester_mac)
        )
        self.answered += 1
        return bytes(reply)
