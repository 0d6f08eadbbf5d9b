"""The values the DUT interface passes: link facts, addresses, datagrams, ICMP reports, TCP
connections, timer and option names, and the exceptions a backend raises (``harness.dut``
re-exports them all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Final, Literal, get_args

Family = Literal[4, 6]

# Timers a test may shorten or read. Values are seconds.
TimerName = Literal[
    "ipv4_reassembly_timeout",
    "ipv6_reassembly_timeout",
    # RFC 8201 section 4: how long a learned path MTU is kept before it is tried again.
    "ipv6_pmtu_expiry",
    # RFC 1122 section 2.3.2.1: how long an ARP cache entry is trusted without confirmation before
    # it is out of date (Linux: net.ipv4.neigh.<if>.base_reachable_time; an entry is STALE after
    # a random 0.5 to 1.5 times this, then re-validated with ARP requests when next used).
    "arp_cache_timeout",
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
    "temp_valid_lft", "temp_prefered_lft", "ndisc_notify", "mldv1_done_suppression", "send_dest_unreachable",
    "max_dst_opts_number", "max_hbh_opts_number", "max_dst_opts_length", "max_hbh_length",
]
IPV6_OPTIONS: Final[frozenset[IPv6Option]] = frozenset(get_args(IPv6Option))
# ``ndisc_notify`` 1: announce a new link-layer address (``DUT.set_link_address``) with
# unsolicited Neighbor Advertisements (RFC 4861 7.2.6; default 0, as Linux).
# ``mldv1_done_suppression`` 1 (the default): in MLDv1 a node whose last Report was suppressed by
# another node's leaves without a Done (RFC 2710 4 "MAY send nothing"); 0: it always sends one
# (the switch RFC 2710 4 requires of a node with that optimization; no Linux sysctl).
# ``send_dest_unreachable`` 0: the interface sends no ICMPv6 Destination Unreachable (the switch
# RFC 4443 3.1 recommends; default 1; no Linux sysctl).
# ``temp_valid_lft`` and ``temp_prefered_lft`` (Linux's spelling) are RFC 8981's TEMP_VALID_LIFETIME
# and TEMP_PREFERRED_LIFETIME. The last four are RFC 8504 5.3's limits on received Destination and
# Hop-by-Hop Options headers (Linux: net.ipv6.max_dst_opts_number, max_hbh_opts_number,
# max_dst_opts_length, max_hbh_length; global there, per interface in our stack): the most
# non-padding options in one header (default 8; a negative value -n allows n and disallows
# unknown options, which then drop the packet silently) and the longest header in octets
# (default: unlimited).
# How a test gives each option's value: an integer (a flag, count, mode or length), float
# seconds, or (``stable_secret``, RFC 7217 secret_key) a str in IPv6-address form such as
# "2001:db8::1234". The Linux backend rounds ``rtr_solicit_interval``, ``rtr_solicit_delay``,
# ``delay_first_probe_time`` and the two temporary lifetimes up to whole seconds (its sysctls
# take seconds).
IPv6OptionUnit = Literal["int", "seconds", "address"]
_SECONDS: Final[frozenset[IPv6Option]] = frozenset({
    "rtr_solicit_interval", "rtr_solicit_delay", "mldv1_unsolicited_report_interval",
    "mldv2_unsolicited_report_interval", "base_reachable_time", "retrans_time", "delay_first_probe_time",
    "temp_valid_lft", "temp_prefered_lft",
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
class UDPDatagram:
    """A datagram as ``DUT.udp_recvmsg`` returns it: the data, and what the IP layer passed up
    with it (RFC 1122 3.2.1.6, 4.1.3.2, 4.1.3.5; Linux: recvmsg(2) with IP_PKTINFO, IP_RECVTOS,
    IP_RECVTTL, IP_RECVOPTS, or their IPV6_ counterparts).

    ``dst`` is the specific-destination address: the IP destination as it arrived (one of the
    DUT's addresses, a broadcast address or a multicast group). ``tos`` is the whole TOS octet
    (IPv6: Traffic Class), ECN field included; ``ttl`` the TTL (IPv6: Hop Limit) it arrived with;
    ``options`` the IPv4 options octets as passed up (b"" when none, and always over IPv6). A
    host may have processed them on receipt (RFC 791: Record Route and Timestamp record the
    receiving host), so a test compares only options no host changes.
    """

    data: bytes
    src: str
    sport: int
    dst: str
    tos: int
    ttl: int
    options: bytes = b""


@dataclass(frozen=True)
class ICMPReport:
    """An ICMP or ICMPv6 error a UDP socket of the DUT was told of (``DUT.udp_errors``).

    ``family`` 4 is ICMP, 6 is ICMPv6; ``type`` and ``code`` are the message's. ``info`` is the
    MTU of a Fragmentation Needed (IPv4 type 3 code 4) or Packet Too Big (ICMPv6 type 2), the
    pointer of a Parameter Problem (IPv4 type 12, ICMPv6 type 4), else 0 (Linux's
    sock_extended_err.ee_info). ``dst``/``dport`` say where the datagram the error quotes was
    going, so a test knows which of its datagrams the report is about.
    """

    family: Family
    type: int
    code: int
    info: int
    dst: str
    dport: int

# ---- TCP ------------------------------------------------------------------------------------------
# The connection states of RFC 9293 section 3.3.2, spelled as the RFC spells them. Linux's
# NEW_SYN_RECV (a request socket) reads as "SYN-RECEIVED"; its CLOSE as "CLOSED".
TCPState = Literal[
    "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
    "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
]

# Socket options a test may set on a TCP socket of the DUT (``tcp_set_option``, or the
# ``options`` of ``tcp_listen``/``tcp_connect``), named after Linux's setsockopt options:
#   "nodelay"      bool   TCP_NODELAY: no Nagle algorithm (RFC 1122 4.2.3.4). Default False.
#   "keepalive"    bool   SO_KEEPALIVE (RFC 1122 4.2.3.6). Default False.
#   "keepidle"     float  TCP_KEEPIDLE: seconds of idleness before the first keep-alive probe.
#                         Linux takes whole seconds (rounded up); default 7200.
#   "keepintvl"    float  TCP_KEEPINTVL: seconds between unanswered probes (whole; default 75).
#   "keepcnt"      int    TCP_KEEPCNT: unanswered probes before the connection is dropped (9).
#   "maxseg"       int    TCP_MAXSEG: the largest segment (data octets) the DUT sends, and, set
#                         before the SYN, the MSS option it announces (RFC 9293 3.7.1).
#   "rcvbuf"       int    SO_RCVBUF in octets: bounds the receive window. Linux doubles the
#                         value for its bookkeeping and offers a part of it, so a test reads the
#                         window from the wire and never assumes it equals this number.
#   "sndbuf"       int    SO_SNDBUF in octets: bounds data queued but not yet acknowledged
#                         (Linux doubles it too).
#   "user_timeout" float  TCP_USER_TIMEOUT in seconds (RFC 9293 3.8.3 "USER TIMEOUT"): how
#                         long data may stay unacknowledged before the connection is dropped;
#                         0 = the backend's default (R2 retransmissions).
#   "tos"          int    IP_TOS (IPv4) / IPV6_TCLASS (IPv6), 0..255: the Differentiated Services
#                         field of the connection's segments (RFC 9293 3.9.1.9, MUST-48). The two
#                         ECN bits stay TCP's own (Linux keeps them for a stream socket).
#   "ttl"          int    IP_TTL (IPv4) / IPV6_UNICAST_HOPS (IPv6), 1..255: the TTL or hop limit
#                         of the connection's segments (RFC 9293 3.9.2, MUST-49).
TCPOption = Literal["nodelay", "keepalive", "keepidle", "keepintvl", "keepcnt", "maxseg", "rcvbuf", "sndbuf",
                    "user_timeout", "tos", "ttl"]

# Why a TCP verb failed, as a socket call reports it (Linux errno in brackets):
#   "reset"       the peer reset the connection (ECONNRESET), RFC 9293 3.10.7.4 "connection reset"
#   "refused"     a RST answered our SYN (ECONNREFUSED), RFC 9293 3.10.7.3 "connection reset"
#   "timed_out"   retransmissions or keep-alive probes went unanswered (ETIMEDOUT)
#   "unreachable" no route, or an ICMP hard error aborted it (EHOSTUNREACH, ENETUNREACH)
#   "closed"      this side already shut down sending or closed the handle (EPIPE, EBADF)
TCPErrorKind = Literal["reset", "refused", "timed_out", "unreachable", "closed"]


class TCPError(Exception):
    """A TCP verb failed the way a socket call fails; ``kind`` says why (see ``TCPErrorKind``)."""

    def __init__(self, kind: TCPErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind: TCPErrorKind = kind


@dataclass(frozen=True)
class TCPConn:
    """A TCP connection of the DUT, as ``tcp_connect`` and ``tcp_accept`` return it.

    ``handle`` is the backend's own key (opaque to tests). The four addresses and ports are the
    DUT's view: ``local``/``local_port`` are the DUT's end, ``remote``/``remote_port`` the peer's
    (the tester's), so a tester-side peer builds its segments from them. A handle stays valid
    for ``tcp_state`` after ``tcp_close``/``tcp_abort`` (it names the connection by its address
    and port pair) and becomes invalid when the test ends.
    """

    handle: int
    family: Family
    local: str
    local_port: int
    remote: str
    remote_port: int


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
