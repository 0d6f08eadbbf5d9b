"""Values the linux backend hands to the kernel: checked, converted, and read back.

Pure functions (no namespace), so they are cheap to test: the address and route checks that
keep the harness off the machine's own network, and the IPv6 option -> sysctl table with its
unit conversions. Standard library only: the control agent (``agent.py``, ``python -I -S``)
checks every verb's arguments with these before it touches the kernel.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from harness.dut import IPv6Option

# The machine's own uplink network: the harness never configures an address or route in it.
_FORBIDDEN: Final = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("fd00::/64"))

# The congestion control the DUT's namespace runs: Reno, the algorithm RFC 5681 specifies (Linux's
# NewReno fast recovery, RFC 6582, with proportional rate reduction, RFC 6937), built into every
# kernel. A kernel's default differs by build and distribution (CUBIC in mainline, BBR on this
# project's CI machines), and the RFC 5681 tests then measured the build: with BBR, whose packet
# conservation in recovery can leave no room in the window, the third duplicate ACK drew no
# fast retransmission in about 1 of 100 tries under load and the segment waited for the timer.
CONGESTION_CONTROL: Final = "reno"

# DUT.set_ipv6_option -> (sysctl under /proc/sys/net/ipv6 with {if} for the test link, unit).
# Units: "int" as given, "ms" seconds -> milliseconds, "s" seconds rounded up to whole seconds
# (the kernel keeps these in jiffies but the sysctl speaks seconds), "addr" an IPv6 address.
# One entry for each name of harness.dut.IPv6Option (harness/tests/test_ipv6_verbs.py checks).
SysctlUnit = Literal["int", "ms", "s", "addr"]
_IPV6_SYSCTLS: Final[dict[IPv6Option, tuple[str, SysctlUnit]]] = {
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
    "temp_valid_lft": ("conf/{if}/temp_valid_lft", "s"),
    "temp_prefered_lft": ("conf/{if}/temp_prefered_lft", "s"),
    "ndisc_notify": ("conf/{if}/ndisc_notify", "int"),
    # RFC 8504 5.3: namespace-wide on Linux (net.ipv6.*), restored by reset() like the others.
    "max_dst_opts_number": ("max_dst_opts_number", "int"),
    "max_hbh_opts_number": ("max_hbh_opts_number", "int"),
    "max_dst_opts_length": ("max_dst_opts_length", "int"),
    "max_hbh_length": ("max_hbh_length", "int"),
}
# IPv6 options no Linux sysctl sets: set_ipv6_option answers "unsupported" with the reason.
IPV6_OPTIONS_LINUX_LACKS: Final[dict[IPv6Option, str]] = {
    "mldv1_done_suppression": "Linux has no switch for it: igmp6_leave_group sends an MLDv1 Done only "
                              "when the host was the last to report (MAF_LAST_REPORTER)",
    "send_dest_unreachable": "Linux has no switch for it: icmp6_send sends every Destination Unreachable "
                             "its rate limit allows (net.ipv6.icmp has ratelimit and ratemask, no off switch)",
}
_MAC_RE: Final = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _checked_mac(mac: str) -> str:
    """A unicast MAC address in ip's notation; ValueError for anything else."""
    text = str(mac)
    if not _MAC_RE.match(text) or int(text[:2], 16) & 1:
        raise ValueError(f"not a unicast MAC address like 02:00:00:00:00:09: {mac!r}")
    return text.lower()

# DUT.set_timer -> the sysctl it writes, relative to /proc/sys/net (whole seconds).
TIMER_SYSCTLS: Final[dict[str, str]] = {
    "ipv4_reassembly_timeout": "ipv4/ipfrag_time",
    "ipv6_reassembly_timeout": "ipv6/ip6frag_time",
    "ipv6_pmtu_expiry": "ipv6/route/mtu_expires",  # RFC 8201 §4 path MTU aging; the kernel default is 600 s
    # RFC 1122 2.3.2.1 ARP cache timeout, per interface ("{if}": timer_sysctl); the default is 30 s.
    "arp_cache_timeout": "ipv4/neigh/{if}/base_reachable_time",
}
_INFINITE_LFT: Final = 0xFFFFFFFF  # "forever" in ip's valid_life_time/preferred_life_time


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


def _option_value(unit: SysctlUnit, text: str) -> float | int | str:
    """A sysctl's value read back, in the harness's units (``_sysctl_value`` the other way)."""
    if unit == "addr":
        return str(ipaddress.IPv6Address(text.strip()))
    if unit == "ms":
        return int(text) / 1000
    return float(text) if unit == "s" else int(text)


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
    # A default route (prefix length 0) covers everything and names no network of the machine's:
    # inside the DUT's namespace it leads to the test link only (RFC 1122 3.3.1.2 default gateways).
    if net.prefixlen and any(net.overlaps(f) for f in _FORBIDDEN if f.version == net.version):
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
        raise ValueError(f"port out of range: {port}")
    return int(port)


def timer_sysctl(name: str, ifname: str) -> str:
    """The sysctl of timer ``name`` for interface ``ifname`` (``default``: links made later)."""
    return TIMER_SYSCTLS[name].format(**{"if": ifname})


def timer_seconds(seconds: float) -> int:
    """The sysctls take whole seconds; round up so a test never waits less than it asked for."""
    return max(1, math.ceil(seconds))
