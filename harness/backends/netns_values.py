"""Values the linux backend hands to the kernel: checked, converted, and read back.

Pure functions (no namespace, no agent), so they are cheap to test: the address and route
checks that keep the harness off the machine's own network, the IPv6 option -> sysctl table
with its unit conversions, and the frame sniffing that tells reset() what a test left behind.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Final

# The machine's own uplink: never configured anywhere by the harness (see the brief).
_FORBIDDEN: Final = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("fd00::/64"))

# DUT.set_ipv6_option -> (sysctl under /proc/sys/net/ipv6 with {if} for the test link, unit).
# Units: "int" as given, "ms" seconds -> milliseconds, "s" seconds rounded up to whole seconds
# (the kernel keeps these in jiffies but the sysctl speaks seconds), "addr" an IPv6 address.
_IPV6_SYSCTLS: Final[dict[str, tuple[str, str]]] = {
    "accept_ra": ("conf/{if}/accept_ra", "int"),
    "autoconf": ("conf/{if}/autoconf", "int"),
    "accept_dad": ("conf/{if}/accept_dad", "int"),
    "dad_transmits": ("conf/{if}/dad_transmits", "int"),
    "router_solicitations": ("conf/{if}/router_solicitations", "int"),
    "rtr_solicit_interval": ("conf/{if}/router_solicitation_interval", "s"),
    "rtr_solicit_delay": ("conf/{if}/router_solicitation_delay", "s"),
    "use_tempaddr": ("conf/{if}/use_tempaddr", "int"),
    "addr_gen_mode": ("conf/{if}/addr_gen_mode", "int"),
    "stable_secret": ("conf/{if}/stable_secret", "addr"),
    "force_mld_version": ("conf/{if}/force_mld_version", "int"),
    "mldv1_unsolicited_report_interval": ("conf/{if}/mldv1_unsolicited_report_interval", "ms"),
    "mldv2_unsolicited_report_interval": ("conf/{if}/mldv2_unsolicited_report_interval", "ms"),
    "base_reachable_time": ("neigh/{if}/base_reachable_time_ms", "ms"),
    "retrans_time": ("neigh/{if}/retrans_time_ms", "ms"),
    "delay_first_probe_time": ("neigh/{if}/delay_first_probe_time", "s"),
    "mcast_solicit": ("neigh/{if}/mcast_solicit", "int"),
    "ucast_solicit": ("neigh/{if}/ucast_solicit", "int"),
    "max_addresses": ("conf/{if}/max_addresses", "int"),
    "accept_ra_rt_info_max_plen": ("conf/{if}/accept_ra_rt_info_max_plen", "int"),
}
_INFINITE_LFT: Final = 0xFFFFFFFF  # "forever" in ip's valid_life_time/preferred_life_time


def _fragment_family(frame: bytes) -> int:
    """4 or 6 when ``frame`` is an IPv4 fragment or an IPv6 packet with a Fragment header."""
    if len(frame) < 14:
        return 0
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800 and len(frame) >= 22:
        # RFC 791: MF flag or a non-zero fragment offset.
        return 4 if int.from_bytes(frame[20:22], "big") & 0x3FFF else 0
    if ethertype == 0x86DD and len(frame) >= 54:
        nh, off = frame[20], 54
        for _ in range(8):  # Hop-by-Hop, Routing, Destination Options may precede it (RFC 8200 §4.1)
            if nh == 44:
                return 6
            if nh not in (0, 43, 60) or len(frame) < off + 2:
                return 0
            nh, off = frame[off], off + (frame[off + 1] + 1) * 8
    return 0


def _icmpv6_type(frame: bytes) -> int | None:
    """The ICMPv6 type of an Ethernet/IPv6 frame (after Hop-by-Hop/Destination options), else None."""
    if len(frame) < 54 or int.from_bytes(frame[12:14], "big") != 0x86DD:
        return None
    nh, off = frame[20], 54
    for _ in range(8):
        if nh == 58:
            return frame[off] if len(frame) > off else None
        if nh not in (0, 60) or len(frame) < off + 2:
            return None
        nh, off = frame[off], off + (frame[off + 1] + 1) * 8
    return None


def _sysctl_value(name: str, unit: str, value: float | int | str) -> str | int:
    if unit == "addr":
        try:
            return str(ipaddress.IPv6Address(str(value)))
        except ValueError:
            raise ValueError(f"{name} is an IPv6 address, e.g. 2001:db8::1, not {value!r}") from None
    if isinstance(value, str):
        raise ValueError(f"IPv6 option {name} takes a number, not {value!r}")
    if unit == "ms":
        return round(float(value) * 1000)
    if unit == "s":
        return max(0, math.ceil(float(value)))  # never shorter than asked
    if value != int(value):
        raise ValueError(f"IPv6 option {name} takes an integer, not {value!r}")
    return int(value)


def _checked_lifetimes(valid: float | None, preferred: float | None) -> tuple[int | None, int | None]:
    """Whole seconds, rounded up (``ip``'s valid_lft/preferred_lft); preferred defaults to valid."""
    out = []
    for which, seconds in (("valid", valid), ("preferred", preferred)):
        if seconds is not None and seconds < 0:
            raise ValueError(f"the {which} lifetime must not be negative, got {seconds}")
        out.append(None if seconds is None else math.ceil(seconds))
    v, p = out
    if p is not None and v is not None and p > v:
        raise ValueError(f"the preferred lifetime ({preferred} s) must not exceed the valid lifetime ({valid} s)")
    return v, p


def _lifetime(value: object) -> float | None:
    if not isinstance(value, int) or value >= _INFINITE_LFT:
        return None
    return float(value)


def _checked_interface(cidr: str) -> str:
    try:
        iface = ipaddress.ip_interface(cidr)
    except ValueError:
        raise ValueError(f"not an address with prefix length: {cidr!r}") from None
    if any(iface.ip in net for net in _FORBIDDEN if net.version == iface.version):
        raise ValueError(f"{cidr} belongs to the machine's own network; use the documentation prefixes")
    return str(iface)


def _refuse_forbidden(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> None:
    if any(addr in net for net in _FORBIDDEN if net.version == addr.version):
        raise ValueError(f"{text} belongs to the machine's own network; use the documentation prefixes")


def _checked_network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"not a network prefix: {cidr!r}") from None
    if any(net.overlaps(f) for f in _FORBIDDEN if f.version == net.version):
        raise ValueError(f"{cidr} overlaps the machine's own network; use the documentation prefixes")
    return net


def _checked_mtu(mtu: int, family: int) -> int:
    low = 68 if family == 4 else 1280  # RFC 791 / RFC 8200 §5 minimum link MTUs
    if not low <= int(mtu) <= 65535:
        raise ValueError(f"an IPv{family} MTU is between {low} and 65535, got {mtu}")
    return int(mtu)


def _checked_group(group: str) -> str:
    addr = ipaddress.ip_address(group)
    if not addr.is_multicast:
        raise ValueError(f"{group} is not a multicast group address")
    return str(addr)


def _checked_port(port: int) -> int:
    if not 0 < int(port) < 65536:
        raise ValueError(f"UDP port out of range: {port}")
    return int(port)
