"""Addresses as names: what an answer is sent from and to, the same for every DUT.

Two DUTs on different links (the ``interface`` backend reads its addresses from a file) answer
from different addresses; RFC 4291 and RFC 791 make no address better than another. The
normaliser therefore writes each address as the role it has on the test link (``DUT6``,
``TESTER_LL``, ``sn(DUT6)`` for its solicited-node group, ``all-nodes``) or, failing that, as
its relation to the stimulus (``stim.src``: the source of the frame that provoked the answer).
What is left is written as a class (``v6-global``, ``v4-other``), never as the literal address,
so that stimuli drawn with different random addresses land in the same cluster.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from harness.dut import LinkInfo

_WELL_KNOWN = {
    "255.255.255.255": "bcast",
    "0.0.0.0": "zero4",
    "224.0.0.1": "all-hosts",
    "224.0.0.2": "all-routers4",
    "224.0.0.22": "igmpv3-routers",
    "::": "unspecified",
    "ff02::1": "all-nodes",
    "ff02::2": "all-routers",
    "ff02::16": "mldv2-routers",
}


def solicited_node(addr: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    """RFC 4291 2.7.1: FF02:0:0:0:0:1:FFXX:XXXX from the low-order 24 bits of ``addr``."""
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | (int(addr) & 0xFFFFFF))


@dataclass
class Symbols:
    """Names for the addresses and MACs of one DUT's link, plus the stimulus-relative ones."""

    info: LinkInfo
    names: dict[str, str] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        info = self.info
        roles: dict[str, object] = {
            "DUT4": info.dut_ipv4.ip, "TESTER4": info.tester_ipv4, "OTHER4": info.other_ipv4,
            "DUT6": info.dut_ipv6.ip, "DUT_LL": info.dut_ipv6_ll, "TESTER6": info.tester_ipv6,
            "TESTER_LL": info.tester_ipv6_ll, "OTHER6": info.other_ipv6,
        }
        self.names.update(_WELL_KNOWN)
        self.names[str(info.dut_ipv4.network.broadcast_address)] = "subnet-bcast"
        for role, addr in roles.items():
            self.names[str(addr)] = role
            if isinstance(addr, ipaddress.IPv6Address):
                self.names.setdefault(str(solicited_node(addr)), f"sn({role})")
        self.macs = {info.dut_mac.lower(): "DUT", info.tester_mac.lower(): "TESTER",
                     info.other_mac.lower(): "OTHER", "ff:ff:ff:ff:ff:ff": "bcast"}

    def address(self, text: str, stimulus: dict[str, str] | None = None) -> str:
        """The role of ``text`` on the link, else its relation to the stimulus, else its class."""
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return "?"
        key = str(addr)
        if key in self.names:
            return self.names[key]
        for role, value in (stimulus or {}).items():
            if value == key:
                return f"stim.{role}"
        return _address_class(addr)

    def mac(self, text: str) -> str:
        mac = text.lower()
        if mac in self.macs:
            return self.macs[mac]
        if mac.startswith("33:33:"):
            return "mcast6"
        if mac.startswith("01:00:5e:"):
            return "mcast4"
        return "other-mac"


def _address_class(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    family = "v4" if addr.version == 4 else "v6"
    for kind in ("multicast", "link_local", "loopback", "unspecified", "reserved", "private"):
        if getattr(addr, f"is_{kind}"):
            return f"{family}-{kind.replace('_', '-')}"
    return f"{family}-other"
