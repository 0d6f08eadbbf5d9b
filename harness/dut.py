"""The device-under-test interface that every conformance test talks to.

A conformance test sees only this protocol and Scapy. Backends (in-process stack over a
channel link with virtual time, the Linux kernel in a network namespace, any stack behind a
named interface) implement it; one that cannot perform an action raises `Unsupported`, and
the pytest plugin turns that into a skip carrying the backend's reason.

Time is in float seconds, like Scapy's ``timeout=``. On the in-process backend waiting
advances a virtual clock, so ``expect_none(..., within=65.0)`` costs no wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any, Final, Literal, Protocol, get_args

from scapy.packet import Packet

Family = Literal[4, 6]

# Timers a test may shorten or read. Values are seconds.
TimerName = Literal[
    "ipv4_reassembly_timeout",
    "ipv6_reassembly_timeout",
    # RFC 8201 section 4: how long a learned path MTU is kept before it is tried again.
    "ipv6_pmtu_expiry",
]

# Per-interface IPv6 host knobs a test may change (``DUT.set_ipv6_option``), named after the Linux
# sysctls of /proc/sys/net/ipv6/{conf,neigh}/<if>/. The one list of their names: the backends
# derive their own tables from it (and their tests check they cover it).
IPv6Option = Literal[
    "accept_ra", "autoconf", "accept_dad", "dad_transmits", "router_solicitations",
    "rtr_solicit_interval", "rtr_solicit_delay",
    "use_tempaddr", "addr_gen_mode", "stable_secret",
    "force_mld_version", "mldv1_unsolicited_report_interval", "mldv2_unsolicited_report_interval",
    "base_reachable_time", "retrans_time", "delay_first_probe_time",
    "mcast_solicit", "ucast_solicit", "max_addresses", "accept_ra_rt_info_max_plen",
]
IPV6_OPTIONS: Final[frozenset[IPv6Option]] = frozenset(get_args(IPv6Option))
# How a test gives each option's value: an integer (a flag, count, mode or length), float
# seconds, or (``stable_secret``, RFC 7217 secret_key) a str in IPv6-address form such as
# "2001:db8::1234". The Linux backend rounds ``rtr_solicit_interval``, ``rtr_solicit_delay`` and
# ``delay_first_probe_time`` up to whole seconds (its sysctls take seconds).
IPv6OptionUnit = Literal["int", "seconds", "address"]
_SECONDS: Final[frozenset[IPv6Option]] = frozenset({
    "rtr_solicit_interval", "rtr_solicit_delay", "mldv1_unsolicited_report_interval",
    "mldv2_unsolicited_report_interval", "base_reachable_time", "retrans_time", "delay_first_probe_time",
})


def ipv6_option_unit(name: IPv6Option) -> IPv6OptionUnit:
    if name == "stable_secret":
        return "address"
    return "seconds" if name in _SECONDS else "int"


class Unsupported(Exception):
    """The backend cannot perform this action; the message says why in words a user can act on."""


class FeatureAbsent(Unsupported):
    """The test checks an optional feature (or a protocol version) the DUT does not declare in
    ``DUT.features``: reported "not implemented", never a failure (``harness.features``)."""

    def __init__(self, features: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.features = features


class ExpectationFailed(AssertionError):
    """expect() saw no matching frame in time, or expect_none() saw one. Carries a readable diff."""


@dataclass(frozen=True)
class LinkInfo:
    """Addresses of both ends of the test link, as the tester sees them.

    The tester end carries no address in any host's IP stack: it speaks raw frames. The
    DUT either has static neighbor entries for ``tester_ipv4``/``tester_ipv6``/``tester_ipv6_ll``
    (in-process, linux, tap) or resolves them through the tester's ARP/ND responder (a managed
    DUT such as lwip), so a test must not assume either; ``other_ipv4``/``other_ipv6`` are further
    on-link addresses the DUT has *not* resolved (for resolution tests). Documentation
    prefixes only (RFC 5737, RFC 3849).
    """

    dut_mac: str
    tester_mac: str
    dut_ipv4: IPv4Interface
    tester_ipv4: IPv4Address
    other_ipv4: IPv4Address
    dut_ipv6: IPv6Interface
    dut_ipv6_ll: IPv6Address
    tester_ipv6: IPv6Address
    tester_ipv6_ll: IPv6Address
    other_ipv6: IPv6Address
    mtu: int = 1500
    other_mac: str = "02:00:00:00:00:03"
    # Current values of the timers a test may depend on, in seconds.
    timers: dict[str, float] = field(default_factory=dict)


AddressState = Literal["tentative", "preferred", "deprecated"]


@dataclass(frozen=True)
class AddressInfo:
    """One IPv6 address of the DUT's test interface, as ``DUT.ipv6_addresses`` reports it.

    ``state``: "tentative" while Duplicate Address Detection runs (RFC 4862 §5.4), then
    "preferred", "deprecated" once the preferred lifetime is over (RFC 4862 §5.5.4). Addresses
    whose DAD failed are not listed. Lifetimes are the *remaining* seconds; None = infinite.
    """

    interface: IPv6Interface
    state: AddressState
    temporary: bool = False  # RFC 8981 temporary address
    valid_lifetime: float | None = None
    preferred_lifetime: float | None = None


class DUT(Protocol):
    """What a conformance test may do with the device under test."""

    name: str  # backend name: "inprocess", "linux", "interface"
    info: LinkInfo
    # The optional features and protocol versions the DUT implements, by the names of
    # harness.control.protocol.FEATURES ("ipv4-record-route", "mldv2", ...): where the RFCs leave
    # a feature optional, its tests run only on DUTs declaring it (harness.features).
    features: frozenset[str]

    # ---- frames pre-filled with the test link's addresses -------------------------------
    def ether(self, **fields: Any) -> Packet:
        """Ether(src=tester_mac, dst=dut_mac, **fields)."""
        ...

    def ipv4(self, **fields: Any) -> Packet:
        """Ether()/IP(src=tester_ipv4, dst=dut_ipv4, **fields)."""
        ...

    def ipv6(self, **fields: Any) -> Packet:
        """Ether()/IPv6(src=tester_ipv6, dst=dut_ipv6, **fields)."""
        ...

    # ---- frames ---------------------------------------------------------------------------
    def send(self, *frames: Packet | bytes) -> None:
        """Put frames on the wire towards the DUT, in order. Each goes into the test's pcap."""
        ...

    def expect(
        self, *layers: type[Packet] | Packet, within: float = 2.0, **fields: Any
    ) -> Packet:
        """Return the first frame the DUT emits (from now on, or still queued) that matches.

        ``layers`` are Scapy layer classes or template instances; a frame matches when it has
        every layer and, for templates, every field set in the template equals the frame's
        value (unset fields match anything). ``fields`` apply to the innermost given layer.
        Frames that do not match are skipped (kept for the pcap). Raises ExpectationFailed
        listing what was seen when nothing matches within ``within`` seconds.
        """
        ...

    def expect_none(
        self, *layers: type[Packet] | Packet, within: float = 2.0, barrier: bool = False, **fields: Any
    ) -> None:
        """Assert the DUT emits no matching frame for ``within`` seconds.

        ``barrier=True`` where the RFC expects an immediate answer or none (an echo reply, an
        ICMP error, a Neighbor Advertisement; never where it allows a delay: timers, rate
        limits, random report delays, DAD): on a backend whose DUT answers in order, an echo
        request is sent now and the window ends as soon as its reply arrives, since an answer
        to anything sent before would have come first. Elsewhere the full window is waited
        (it costs nothing in virtual time).
        """
        ...

    def wait(self, seconds: float) -> None:
        """Let DUT time pass (virtual on in-process backends)."""
        ...

    # ---- control surface (raise Unsupported where the backend cannot) ---------------------
    def add_address(
        self,
        cidr: str,
        *,
        dad: bool = False,
        valid_lifetime: float | None = None,
        preferred_lifetime: float | None = None,
    ) -> None:
        """Assign ``cidr`` to the test interface (and its on-link prefix route).

        ``dad=False``: usable at once (Linux "nodad"). ``dad=True`` (IPv6): tentative while
        Duplicate Address Detection runs with the interface's current ``dad_transmits`` and
        ``retrans_time`` (RFC 4862 §5.4); the Linux backend turns ``accept_dad`` on for the
        interface first. Lifetimes (IPv6) in seconds from now, None = infinite (RFC 4862 §5.5.4).
        """
        ...

    def remove_address(self, cidr: str) -> None: ...
    def udp_bind(self, port: int, family: Family = 4) -> None:
        """Open a UDP socket on the DUT on the wildcard address of ``family``."""
        ...

    def udp_recv(self, port: int, within: float = 2.0) -> tuple[bytes, str, int] | None:
        """Next datagram received by the socket bound to ``port``: (data, source, sport)."""
        ...

    def udp_send(self, port: int, data: bytes, dst: str, dport: int) -> None:
        """Send from the socket bound to ``port``."""
        ...

    def udp_close(self, port: int) -> None: ...
    def join_group(self, group: str) -> None: ...
    def leave_group(self, group: str) -> None: ...
    def set_forwarding(self, family: Family, enabled: bool) -> None: ...
    def set_timer(self, name: TimerName, seconds: float) -> None: ...
    def add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        """Route ``cidr`` on the test link, through gateway ``via`` (None: on-link), with an
        optional path MTU for that route (for Fragmentation Needed / Packet Too Big tests)."""
        ...

    def remove_route(self, cidr: str) -> None: ...
    def set_link_mtu(self, mtu: int) -> None:
        """Change the MTU of the DUT's end of the test link (``info.mtu`` follows)."""
        ...

    def set_icmp_rate_limit(self, family: Family, per_second: float, burst: int) -> None:
        """Token bucket for ICMP errors (RFC 1812 4.3.2.8, RFC 4443 2.4(f)): ``per_second``
        tokens refill per second up to ``burst``; ``per_second == 0`` means unlimited."""
        ...

    def set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        """Whether echo requests to broadcast/multicast addresses go unanswered (RFC 1122
        3.2.2.6 leaves it open; Linux ignores them by default)."""
        ...

    def set_accept_source_route(self, accept: bool) -> None:
        """Whether IPv4 source-routed datagrams (LSRR/SSRR) are processed or dropped."""
        ...

    # ---- IPv6 host configuration (RFC 4861, RFC 4862, RFC 3810, RFC 7217, RFC 8981) ------------
    def set_ipv6_option(self, name: IPv6Option, value: float | int | str) -> None:
        """Set one per-interface IPv6 knob (see ``IPv6Option``) until the next test.

        Every test starts from the same baseline on every backend: ``accept_dad=0`` and
        ``router_solicitations=0`` (addresses usable at once, no RS chatter), everything else at
        the RFC/Linux default (accept_ra=1, autoconf=1, dad_transmits=1, use_tempaddr=0,
        addr_gen_mode=0 (EUI-64), force_mld_version=0 (MLDv2), base_reachable_time=30,
        retrans_time=1, delay_first_probe_time=5, mcast_solicit=3, ucast_solicit=3,
        max_addresses=16, accept_ra_rt_info_max_plen=0), forwarding off.
        """
        ...

    def restart_link(self) -> None:
        """Take the DUT's test interface down and up again (a link flap).

        Static addresses (set up by the backend, or added with ``add_address`` without
        lifetimes) stay; the link-local address is formed again (with DAD if ``accept_dad``),
        Router Solicitations go out per ``router_solicitations``, MLD reports for the groups.
        Routes a test added are NOT guaranteed to survive: add them afterwards.
        """
        ...

    def ipv6_addresses(self) -> list[AddressInfo]:
        """The IPv6 addresses of the test interface now, link-local included."""
        ...

    def close(self) -> None:
        """Release everything the backend created (namespaces, sockets, agents)."""
        ...
