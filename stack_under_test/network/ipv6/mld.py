"""MLD host side (RFC 2710 MLDv1, RFC 3810 MLDv2) on one IPv6 NIC, over network/multicast.py.

Like Linux (force_mld_version=0) the host speaks MLDv2 until it hears an MLDv1 querier: joins and
leaves are state-change reports to ff02::16; an MLDv1 query switches to MLDv1 Reports sent to the
group and Done messages to ff02::2 for the Older Version Querier Present Timeout (RFC 3810 8.2.1).
``nic.ipv6_config.force_mld_version`` 1 keeps MLDv1, 2 keeps MLDv2 and ignores MLDv1 queries; the
knobs are read at each use, so a change applies at the next join, leave or query.

Every message leaves with Hop Limit 1, a Hop-by-Hop header carrying Router Alert 0 and a
link-local source, or :: while the interface has no valid link-local address yet. No message is
ever sent for ff02::1 or for groups of scope 0 or 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.clock import Timer
from stack_under_test.drops import Drop
from stack_under_test.network.multicast import ListenerConfig, Mode, MulticastListener, Record, pack_reports
from stack_under_test.wire import ipv6_ext
from stack_under_test.wire import mld as wire
from stack_under_test.wire.ipv6 import ALL_NODES, ALL_ROUTERS, HEADER_LEN, IPv6View, is_link_local
from stack_under_test.wire.numbers import PROTO_HOP_BY_HOP, PROTO_ICMPV6

if TYPE_CHECKING:
    from .contracts import IPv6Host

# RFC 3810 5: "All MLDv2 messages described in this document MUST be sent with a link-local IPv6
# Source Address, an IPv6 Hop Limit of 1, and an IPv6 Router Alert option [RFC2711] in a
# Hop-by-Hop Options header." RFC 2710 3 says the same of MLDv1.
MLD_HOP_LIMIT = 1
# RFC 2711 2.1: Router Alert option type 5, length 2, value 0 ("Multicast Listener Discovery
# message"); padded with a PadN to the 8 octets of the smallest Hop-by-Hop header (as Linux).
_HOP_BY_HOP = ipv6_ext.options_header(
    PROTO_ICMPV6, ipv6_ext.option(ipv6_ext.OPT_ROUTER_ALERT, wire.ROUTER_ALERT_MLD.to_bytes(2, "big"))
)
_REPORT_ROOM_OVERHEAD = HEADER_LEN + len(_HOP_BY_HOP) + wire.V2_REPORT_HEADER_LEN


def reportable(group: bytes) -> bool:
    """RFC 3810 6: "No MLD messages are ever sent regarding neither the link-scope all-nodes
    multicast address, nor any multicast address of scope 0 (reserved) or 1 (node-local)."
    (RFC 2710 5 likewise for MLDv1.)"""
    return len(group) == 16 and group[0] == 0xFF and group != ALL_NODES and group[1] & 0x0F > 1


class MLD:
    """The MLD host of one NIC. The endpoint calls ``enable``/``disable``, ``join``/``leave`` and
    hands received MLD messages to ``handle``."""

    def __init__(self, host: IPv6Host) -> None:
        self.host = host
        self.nic = host.nic
        stack = host.stack
        self.listener = MulticastListener(stack.clock, stack.rng, self, ListenerConfig(default_mode=Mode.V3))
        self.enabled = False
        self._catch_up: Timer | None = None
        self._held: set[bytes] = set()  # joined, report delayed (hold)
        self._sync_config()

    # ---- configuration --------------------------------------------------------------------------
    def _force(self) -> int:
        return self.nic.ipv6_config.force_mld_version

    def _sync_config(self) -> None:
        """Read the NIC's MLD knobs (stack/ipv6_config.py) into the listener before each use."""
        cfg = self.nic.ipv6_config
        config = self.listener.config
        config.unsolicited_interval_v3_ms = cfg.mldv2_unsolicited_report_interval_ms
        config.unsolicited_interval_legacy_ms = cfg.mldv1_unsolicited_report_interval_ms
        config.leave_as_last_reporter_only = cfg.mldv1_done_suppression  # RFC 2710 4, the switch
        force = cfg.force_mld_version
        mode = Mode.V2 if force == 1 else Mode.V3
        if mode is not config.default_mode or force == 2:
            # Forced to MLDv2: an MLDv1 querier heard before no longer counts (Linux mld_in_v2_mode_only).
            self.listener.set_default_mode(mode, forget_older=force == 2)

    @property
    def mode(self) -> Mode:
        """Mode.V3 = MLDv2, Mode.V2 = MLDv1 (compatibility or forced)."""
        self._sync_config()
        return self.listener.mode

    # ---- lifecycle ----------------------------------------------------------------------------------
    def enable(self) -> None:
        """The NIC came up. Groups joined from now on are reported at once; the groups joined
        before (addresses kept over a link flap, groups joined while down) are reported a moment
        later, once the endpoint has formed its link-local address to send them from."""
        self.enabled = True
        self._sync_config()
        existing = [g for g in self.nic.groups if reportable(g)]
        if existing:
            self._catch_up = self.host.stack.clock.schedule(0, lambda: self._join_all(existing))

    def _join_all(self, groups: list[bytes]) -> None:
        self._catch_up = None
        for group in groups:
            if self.nic.in_group(group):
                self.join(group)

    def disable(self) -> None:
        """The NIC goes down: forget every group and timer (nothing can be sent any more)."""
        self.enabled = False
        self._held.clear()
        if self._catch_up is not None:
            self._catch_up.cancel()
            self._catch_up = None
        self.listener.reset()

    def join(self, group: bytes) -> None:
        # RFC 3810 6.1 / RFC 2710 4: "When a node starts listening to a multicast address on an
        # interface, it should immediately transmit an unsolicited Report for that address on that
        # interface" - at once (as Linux), so that DAD's first Neighbor Solicitation for a tentative
        # address follows the report for its solicited-node group (RFC 4862 5.4.2).
        if self.enabled and reportable(group) and group not in self.listener.groups and group not in self._held:
            self._sync_config()
            self.listener.join(group)

    def hold(self, group: bytes) -> None:
        """RFC 4862 5.4.2: "the node SHOULD delay joining the solicited-node multicast address by a
        random delay between 0 and MAX_RTR_SOLICITATION_DELAY" (addrconf/dad.py keeps the time).
        What the delay holds back is the report, the part of joining other nodes see: the NIC is
        in the group at once, as "an interface MUST receive and process datagrams sent to the
        all-nodes multicast address or solicited-node multicast address of the tentative address
        during the delay period". (Linux reports at once.)"""
        self._held.add(group)

    def release(self, group: bytes) -> None:
        if group in self._held:
            self._held.discard(group)
            if self.nic.in_group(group):
                self.join(group)

    def leave(self, group: bytes) -> None:
        if self.enabled and reportable(group):
            self._sync_config()
            self.listener.leave(group)

    def on_link_local_valid(self) -> None:
        """DAD of a link-local address succeeded (addrconf/). RFC 3810 5.2.13: "Once a valid
        link-local address is available, a node SHOULD generate new MLDv2 Report messages for all
        multicast addresses joined on the interface." (Linux: ipv6_mc_dad_complete.) Only the
        groups already reported from :: need it, but sending all of them is what the RFC says."""
        if self.enabled:
            self._sync_config()
            self.listener.report_all()

    # ---- receive ------------------------------------------------------------------------------------
    def handle(self, pkt: PacketBuffer, ip: IPv6View, src: bytes, router_alert: int | None) -> Drop | None:
        """One MLD message addressed to us (``pkt.transport()``; icmpv6.parse checked its checksum).
        ``router_alert``: the value of the Router Alert option in the packet's Hop-by-Hop header."""
        msg = wire.parse(pkt.transport())
        if isinstance(msg, wire.Query):
            return self._handle_query(ip, src, router_alert, msg)
        if isinstance(msg, wire.V1Report):
            return self._handle_v1_report(src, msg)
        if isinstance(msg, (wire.Done, wire.V2Report)):
            # RFC 3810 7 / RFC 2710 4: Done messages and Version 2 Reports are for multicast routers.
            return Drop.MLD_FOR_ROUTERS
        return msg  # a Drop

    def _handle_query(self, ip: IPv6View, src: bytes, router_alert: int | None, q: wire.Query) -> Drop | None:
        # RFC 3810 5.1.14: "If a node (router or host) receives a Query message with the IPv6 Source
        # Address set to the unspecified address (::), or any other address that is not a valid IPv6
        # link-local address, it MUST silently discard the message". RFC 3810 6.2: "Upon reception of
        # an MLD message that contains a Query, the node checks if the source address of the message
        # is a valid link-local address, if the Hop Limit is set to 1, and if the Router Alert option
        # is present in the Hop-By-Hop Options header of the IPv6 packet. If any of these checks
        # fails, the packet is dropped." Linux also wants the Router Alert value 0 (MLD, RFC 2711).
        # (A multicast source, which is_link_local would let through for ff02::/16, never gets here:
        # endpoint.check_addresses drops it, RFC 4291 2.7.)
        if not is_link_local(src):
            return Drop.MLD_SOURCE_NOT_LINK_LOCAL
        if ip.hop_limit != MLD_HOP_LIMIT:
            return Drop.MLD_HOP_LIMIT_NOT_1
        if router_alert != wire.ROUTER_ALERT_MLD:
            return Drop.MLD_NO_ROUTER_ALERT
        # RFC 3810 5.1.5: the Multicast Address is "set to zero when sending a General Query, and set
        # to a specific IPv6 multicast address when sending a Multicast Address Specific Query".
        if not q.general and q.group[0] != 0xFF:
            return Drop.MLD_QUERY_BAD_GROUP
        if q.general and q.sources:
            return Drop.MLD_GENERAL_QUERY_WITH_SOURCES  # Linux: "no sources allowed"
        self._sync_config()
        if q.version == 1 and self._force() == 2:
            return Drop.MLD_V1_QUERY_IGNORED  # forced MLDv2 never falls back (Linux force_mld_version=2)
        if not self.enabled:
            return None
        # A query about ff02::1 or a group of scope 0 or 1 finds no listener state (they are never
        # joined in the listener), but an MLDv1 one still sets the compatibility mode.
        group = None if q.general else q.group
        # RFC 3810 8.2.1: "The Host Compatibility Mode of an interface is set to MLDv1 whenever an
        # MLDv1 Multicast Address Listener Query is received on that interface"; the listener runs
        # the Older Version Querier Present timer ([Robustness Variable] x [Query Interval] +
        # [Query Response Interval], RFC 3810 9.12).
        version = Mode.V2 if q.version == 1 else Mode.V3
        self.listener.on_query(version, q.max_resp_ms, group, q.sources, q.qrv, q.qqi_ms)
        return None

    def _handle_v1_report(self, src: bytes, report: wire.V1Report) -> Drop | None:
        # RFC 2710 3: MLD messages are "sent with a link-local IPv6 Source Address" (:: while the
        # sender has none, RFC 3810 5.2.13); Linux drops other reports, and so do we.
        if src != wire.UNSPECIFIED and not is_link_local(src):
            return Drop.MLD_REPORT_BAD_SOURCE
        if self.enabled and reportable(report.group):
            # RFC 2710 4: "If the node receives another node's Report from an interface for a
            # multicast address while it has a timer running for that same address on that
            # interface, it stops its timer and does not send a Report for that address".
            self._sync_config()
            self.listener.on_report_heard(report.group)
        return None

    # ---- send (ListenerSender) ------------------------------------------------------------------------
    def send_report(self, group: bytes, mode: Mode) -> None:
        # RFC 2710 3: a Report is sent to "the multicast address being reported".
        self._send(group, wire.V1Report(group))
        self.nic.stats.count_event("mld_v1_report_sent")

    def send_leave(self, group: bytes) -> None:
        # RFC 2710 4: "it SHOULD send a Done message to the link-scope all-routers address (FF02::2)".
        self._send(ALL_ROUTERS, wire.Done(group))
        self.nic.stats.count_event("mld_done_sent")

    def send_records(self, records: list[Record]) -> None:
        # RFC 3810 5.2.14: Version 2 Reports go to ff02::16; 5.2.15: "If the set of Multicast Address
        # Records required in a Report does not fit within the size limit of a single Report, the
        # Multicast Address Records are sent in as many Reports as needed".
        room = self.nic.mtu - _REPORT_ROOM_OVERHEAD
        for batch in pack_reports(records, room, wire.RECORD_HEADER_LEN, 16, wire.AddressRecord):
            self._send_v2(batch)

    def _send_v2(self, records: list[wire.AddressRecord]) -> None:
        self._send(wire.ALL_MLDV2_ROUTERS, wire.V2Report(tuple(records)))
        self.nic.stats.count_event("mld_v2_report_sent")

    def source(self) -> bytes:
        """RFC 3810 5.2.13: "An MLDv2 Report MUST be sent with a valid IPv6 link-local source
        address, or the unspecified address (::), if the sending interface has not acquired a valid
        link-local address yet." A tentative link-local is not valid yet (RFC 4862 5.4)."""
        nic = self.nic
        preferred = self.host.link_local
        if preferred is not None and nic.is_local(preferred):
            return preferred
        for entry in nic.addresses.of_family(6):
            if entry.usable and is_link_local(entry.packed):
                return entry.packed
        return wire.UNSPECIFIED

    def _send(self, dst: bytes, message: wire.Query | wire.V1Report | wire.Done | wire.V2Report) -> None:
        if not self.nic.enabled:
            return
        src = self.source()
        payload = _HOP_BY_HOP + message.encode(src, dst)
        self.host.send(src, dst, PROTO_HOP_BY_HOP, payload, hop_limit=MLD_HOP_LIMIT)
