"""The device-under-test interface that every conformance test talks to.

A conformance test sees only this protocol and Scapy. Backends (in-process stack over a
channel link with virtual time, the Linux kernel in a network namespace, any stack behind a
named interface) implement it; one that cannot perform an action raises `Unsupported`, and
the pytest plugin turns that into a skip carrying the backend's reason.

Time is in float seconds, like Scapy's ``timeout=``. On the in-process backend waiting
advances a virtual clock, so ``expect_none(..., within=65.0)`` costs no wall time.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Annotations only: a process that uses the types alone (the tap backend's stack agent) does
    # not import Scapy.
    from scapy.packet import Packet

from harness.dut_types import (
    IPV6_OPTIONS,
    AddressInfo,
    AddressState,
    ExpectationFailed,
    Family,
    FeatureAbsent,
    ICMPReport,
    IPv6Option,
    IPv6OptionUnit,
    LinkInfo,
    TCPConn,
    TCPError,
    TCPErrorKind,
    TCPOption,
    TCPState,
    TimerName,
    UDPDatagram,
    Unsupported,
    ipv6_option_unit,
)

# The address types too: the control protocol reads the verbs' annotations in this namespace.
__all__ = [
    "DUT",
    "IPV6_OPTIONS",
    "AddressInfo",
    "AddressState",
    "ExpectationFailed",
    "Family",
    "FeatureAbsent",
    "ICMPReport",
    "IPv4Address",
    "IPv4Interface",
    "IPv6Address",
    "IPv6Interface",
    "IPv6Option",
    "IPv6OptionUnit",
    "LinkInfo",
    "TCPConn",
    "TCPError",
    "TCPErrorKind",
    "TCPOption",
    "TCPState",
    "TimerName",
    "UDPDatagram",
    "Unsupported",
    "ipv6_option_unit",
]



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
        listing what was seen when nothing matches within ``within`` seconds. The frame's
        ``time`` is when it reached the tester, on the clock ``now()`` reads.
        """
        ...

    def expect_none(
        self, *layers: type[Packet] | Packet, within: float = 2.0, barrier: bool = False,
        since: float | None = None, **fields: Any
    ) -> None:
        """Assert the DUT emits no matching frame for ``within`` seconds.

        The window opens now, or at ``since`` (a DUT time already past, usually the ``time`` of
        a frame the DUT sent: "no second solicitation within the interval of the first" is then
        timed from the first one's arrival, not from when the test read it). A frame that
        reaches the tester after the window has closed is no violation, even when a loaded
        tester reads it late; it stays for the next ``expect``.

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

    def barrier(self, within: float = 2.0) -> float | None:
        """Send a barrier probe (an echo request, see harness/barrier.py) and wait for its reply:
        on a DUT that answers in order every frame sent before has then been taken in. Returns
        the reply's ``time``; None on a backend whose DUT may reorder its answers, or when no
        reply came within ``within`` seconds. Frames that came before the reply stay for the
        next ``expect``."""
        ...

    def now(self) -> float:
        """The DUT's clock in seconds (virtual in-process, monotonic on real backends): the clock
        of ``within``, ``wait`` and every received frame's ``time``, so a test times the DUT's
        timers from its own sends (``t = dut.now(); dut.send(...)``) and the frames' times."""
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
    def add_second_interface_address(self, cidr: str) -> None:
        """Assign ``cidr`` to a second interface of the DUT, one with no link to the tester
        (created on first use, gone by the next test): an address of the node that is not on the
        test link, for the candidate set and rule 5 of RFC 6724 source address selection. Usable
        at once (no DAD). Linux: a dummy interface in the DUT's namespace."""
        ...

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

    def udp_recvmsg(self, port: int, within: float = 2.0) -> UDPDatagram | None:
        """Like ``udp_recv``, with what the IP layer passed up: the specific-destination address,
        TOS, TTL and IPv4 options (``UDPDatagram``). None when nothing arrived within ``within``.
        A datagram is taken by whichever of ``udp_recv``/``udp_recvmsg`` reads it first."""
        ...

    def udp_sendmsg(
        self, port: int, data: bytes, dst: str, dport: int, *, src: str | None = None, ttl: int | None = None,
        tos: int | None = None, options: bytes = b"",
    ) -> None:
        """Send from the socket bound to ``port``, with what an application may set per datagram
        (RFC 1122 3.2.1.6, 3.2.1.7, 3.2.1.8, 3.3.4.2, 4.1.3.5, 4.1.4):

        ``src``      the IP source address, one of the DUT's (None: the DUT chooses);
        ``ttl``      the TTL (IPv6: Hop Limit), 1-255 (None: the DUT's default);
        ``tos``      the TOS octet (IPv6: Traffic Class), ECN field included (None: the default, 0);
        ``options``  IPv4 options as octets, unpadded, at most 40 (IPv6: must be empty). A host
                     processes them as their originator: Record Route and Timestamp record it; a
                     source route (pointer 4) lists the hops in order, the first one the first
                     hop, where the datagram goes, ``dst`` going last into the route (BSD/Linux).

        Linux: sendmsg(2) with IP_PKTINFO (ipi_spec_dst), IP_TTL and IP_TOS control messages,
        and the socket's IP_OPTIONS set for the one call (IPV6_PKTINFO, IPV6_HOPLIMIT,
        IPV6_TCLASS). ValueError for a value out of range.
        """
        ...

    def udp_errors(self, port: int, within: float = 2.0) -> list[ICMPReport]:
        """The ICMP/ICMPv6 errors the socket bound to ``port`` was told of about datagrams it
        sent (RFC 1122 4.1.3.3, RFC 4443 2.4 (d)), oldest first, each reported once: waits up to
        ``within`` seconds for the first, then returns every one queued (an empty list when none
        came). Linux: the socket's error queue (IP_RECVERR / IPV6_RECVERR, which a backend sets
        when it binds), read with MSG_ERRQUEUE.
        """
        ...

    # ---- TCP sockets (RFC 9293 3.10 user calls; raise Unsupported where the backend cannot) -----
    # No verb ever blocks longer than its ``within``; virtual-time backends step their clock
    # while waiting, as ``expect`` does, and frames the DUT emits meanwhile go to the backlog
    # (a later ``expect`` sees them). Invalid handles or arguments raise ValueError. Every test
    # starts with no TCP socket of its own: the backend forgets (Linux: closes) every listener
    # and connection the previous test opened, and its handles become invalid.
    def tcp_listen(
        self, port: int, family: Family = 4, *, backlog: int = 16,
        options: Mapping[TCPOption, float | int | bool] | None = None,
    ) -> None:
        """Passive open (RFC 9293 3.10.1) on the wildcard address of ``family`` and ``port``.

        ``options`` are set on the listening socket before listen(2); the connections it
        accepts inherit them (Linux does for every ``TCPOption``). ``backlog`` bounds the
        connections that completed the handshake but were not yet taken by ``tcp_accept``
        (listen(2)'s backlog). An IPv6 listener takes IPv6 only (IPV6_V6ONLY). The handshake
        itself runs in the DUT's stack whether or not a ``tcp_accept`` is waiting.
        Raises ValueError if this test already listens on (port, family).
        """
        ...

    def tcp_accept(self, port: int, family: Family = 4, *, within: float = 2.0) -> TCPConn | None:
        """The next established connection of the listener on (``port``, ``family``), waiting
        up to ``within`` seconds for one; None when none completed in that time."""
        ...

    def tcp_close_listener(self, port: int, family: Family = 4) -> None:
        """Stop listening (close(2) of the listening socket). Connections completed but not
        accepted are reset, as Linux does; accepted ones are unaffected."""
        ...

    def tcp_connect(
        self, dst: str, dport: int, *, sport: int | None = None,
        options: Mapping[TCPOption, float | int | bool] | None = None,
    ) -> TCPConn:
        """Active open (RFC 9293 3.10.1) from the DUT's address on the test link to
        ``dst``:``dport`` (the family is ``dst``'s). Returns as soon as the SYN is sent, in
        SYN-SENT: it does not wait for the handshake (a non-blocking connect(2)); the test
        answers the SYN and then watches ``tcp_state`` or sends and receives.

        ``sport`` None lets the DUT pick an ephemeral port; ``conn.local_port`` says which.
        ``options`` are set before the SYN leaves, so "maxseg" and "rcvbuf" shape its MSS
        option and window scale. Raises TCPError("unreachable") when the DUT has no route.
        """
        ...

    def tcp_send(self, conn: TCPConn, data: bytes) -> int:
        """Queue ``data`` for sending (RFC 9293 3.10.2 SEND) without waiting: returns how many
        octets the send buffer took, fewer than ``len(data)`` (even 0) when it is full.

        Segments may leave before the call returns (in-process they do). Before the handshake
        completes a backend may take nothing and return 0 (Linux does); our stack queues, as
        RFC 9293 3.10.2 allows in SYN-SENT. Raises TCPError: "reset"/"refused"/"timed_out"/
        "unreachable" once the connection failed that way, "closed" after ``tcp_shutdown``.
        """
        ...

    def tcp_recv(self, conn: TCPConn, max: int = 65536, *, within: float = 2.0) -> bytes | None:
        """Received data (RFC 9293 3.10.3 RECEIVE): waits up to ``within`` seconds until at least
        one octet or the end of the stream is there, then returns what is there, at most ``max``
        octets (it does not wait for more).

        Returns b"" at the end of the stream (the peer's FIN arrived and every octet before it
        was read), None when nothing arrived within ``within``. Raises TCPError when the
        connection failed ("reset", "refused", "timed_out", "unreachable"); whether data that
        arrived before a RST can still be read differs between stacks (RFC 9293 3.10.7.4 says
        "All segment queues should be flushed"), so a test does not rely on it.
        """
        ...

    def tcp_shutdown(self, conn: TCPConn) -> None:
        """Half-close (shutdown(2) SHUT_WR): this side sends no more; a FIN follows the queued
        data (RFC 9293 3.10.4 CLOSE), and the connection still receives (RFC 9293 3.6)."""
        ...

    def tcp_close(self, conn: TCPConn) -> None:
        """The application closes (close(2), RFC 9293 3.10.4 CLOSE): a FIN follows the queued
        data, and the handle can no longer send or receive (``tcp_state`` still reads it).
        If received data was never read, the DUT resets instead (RFC 1122 4.2.2.13: "its TCP
        SHOULD send a RST to show that data was lost"; Linux does)."""
        ...

    def tcp_abort(self, conn: TCPConn) -> None:
        """Reset the connection now (RFC 9293 3.10.5 ABORT; SO_LINGER {on, 0} then close(2) on
        Linux): in SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT a RST
        <SEQ=SND.NXT> is sent; in SYN-SENT, CLOSING, LAST-ACK and TIME-WAIT the state is
        dropped silently. Either way the state becomes CLOSED."""
        ...

    def tcp_set_option(self, conn: TCPConn, name: TCPOption, value: float | int | bool) -> None:
        """Set one socket option (see ``TCPOption``) on an open connection. ValueError for a
        value the option cannot take (a negative time, "maxseg" below 88, ...)."""
        ...

    def tcp_state(self, conn: TCPConn) -> TCPState:
        """The connection's RFC 9293 3.3.2 state now (Linux: TCP_INFO or ``ss``). After
        ``tcp_close``/``tcp_abort`` it follows the connection by its address and port pair
        (FIN-WAIT-2, TIME-WAIT, ...) and reads "CLOSED" once the DUT keeps no state for it."""
        ...
    def join_group(self, group: str) -> None: ...
    def join_source_group(self, group: str, sources: list[str]) -> None:
        """Join IPv4 ``group`` in INCLUDE mode: datagrams from ``sources`` only (RFC 3376 3.1:
        IPMulticastListen with filter-mode INCLUDE; an application's source-specific join).
        ``leave_group`` leaves it. Linux: MCAST_JOIN_SOURCE_GROUP once per source on the test
        link. ValueError for an empty ``sources``."""
        ...

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

    def set_link_address(self, mac: str) -> None:
        """Give the DUT's end of the test link another (unicast) MAC address, as a hot-swapped
        interface card would (RFC 4861 7.2.6); ``info.dut_mac`` follows, so the frame builders
        address the new one. The addresses stay; the DUT may announce the change with
        unsolicited Neighbor Advertisements (``set_ipv6_option("ndisc_notify", 1)``). The next
        test starts with the test link's own MAC again. Linux: ``ip link set dev .. address``.
        """
        ...

    def set_icmp_rate_limit(self, family: Family, per_second: float, burst: int) -> None:
        """Token bucket for ICMP errors (RFC 1812 4.3.2.8, RFC 4443 2.4(f)): ``per_second``
        tokens refill per second up to ``burst``; ``per_second == 0`` means unlimited."""
        ...

    def set_default_ttl(self, family: Family, ttl: int) -> None:
        """The TTL (IPv6: Hop Limit) the DUT gives datagrams it originates when nothing else
        chooses one (RFC 1122 3.2.1.7: "When a fixed TTL value is used, it MUST be
        configurable"), 1-255, until the next test. Linux: net.ipv4.ip_default_ttl, the
        interface's IPv6 hop_limit."""
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
        max_addresses=16, accept_ra_rt_info_max_plen=0, temp_valid_lft=172800 (2 days, RFC 8981
        3.8; the Linux kernel keeps its own default of 7 days), temp_prefered_lft=86400 (1 day), ndisc_notify=0, mldv1_done_suppression=1, send_dest_unreachable=1, max_dst_opts_number=8, max_hbh_opts_number=8,
        max_dst_opts_length and max_hbh_length unlimited), forwarding off.
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
