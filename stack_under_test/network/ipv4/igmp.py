"""IGMP host side (RFC 1112, RFC 2236, RFC 3376) on one IPv4 NIC, over network/multicast.py.

Like Linux (force_igmp_version=0) the host speaks IGMPv3 until it hears an older querier: joins
and leaves are v3 state-change reports to 224.0.0.22; a v2 query switches to v2 reports to the
group and Leave Group to 224.0.0.2, a v1 query to v1 reports and no leave, each for the Older
Version Querier Present Timeout (RFC 3376 7.2.1). The all-systems group 224.0.0.1 is joined on
enable and never reported (RFC 2236 6: the host "never sends a report for that group").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import UNICAST
from stack_under_test.network.multicast import ListenerConfig, Mode, MulticastListener, Record, pack_reports
from stack_under_test.wire import igmp as wire
from stack_under_test.wire.ipv4 import FLAG_DF, MIN_HEADER_LEN, encode_header
from stack_under_test.wire.ipv4_options import ROUTER_ALERT, Option, walk
from stack_under_test.wire.numbers import PROTO_IGMP

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.output import IPv4Output
    from stack_under_test.stack.interfaces import NetworkInterface
    from stack_under_test.stack.stack import Stack

# RFC 3376 4: "Every IGMP message described in this document is sent with an IP Time-to-Live of 1".
IGMP_TTL = 1
_IP_HEADER_LEN = MIN_HEADER_LEN + len(wire.ROUTER_ALERT_OPTION)
_V3_REPORT_HEADER_LEN = 8


class IGMP:
    """The IGMP host of one NIC. The endpoint calls ``enable``/``disable``, ``join``/``leave`` and
    hands received IGMP to ``handle_packet``; reports leave through ``output``."""

    def __init__(self, stack: Stack, nic: NetworkInterface, output: IPv4Output) -> None:
        self.nic = nic
        self.output = output
        version = stack.options.igmp_version
        config = ListenerConfig(default_mode=Mode(version if version in (1, 2, 3) else params.IGMP_DEFAULT_VERSION))
        self.listener = MulticastListener(stack.clock, stack.rng, self, config)
        self.enabled = False

    # ---- lifecycle ----------------------------------------------------------------------------------
    def enable(self) -> None:
        self.enabled = True
        # RFC 1112 4: every host joins the all-hosts group automatically on each multicast
        # interface; RFC 2236 6: it "never sends a report for that group".
        if not self.nic.in_group(wire.ALL_SYSTEMS):
            self.nic.join_group(wire.ALL_SYSTEMS)
        for group in list(self.nic.groups):
            self.join(group)  # groups joined while the NIC was down are reported now

    def disable(self) -> None:
        self.enabled = False
        self.listener.reset()

    def join(self, group: bytes) -> None:
        if self.enabled and len(group) == 4 and group != wire.ALL_SYSTEMS:
            self.listener.join(group, self.nic.source_filters.get(group))

    def leave(self, group: bytes) -> None:
        if self.enabled and len(group) == 4:
            self.listener.leave(group)

    # ---- receive ------------------------------------------------------------------------------------
    def handle_packet(self, pkt: PacketBuffer, cast: int) -> Drop | None:
        msg = wire.parse(memoryview(pkt.data)[pkt.transport_offset : pkt.end])
        if isinstance(msg, wire.Query):
            return self._handle_query(msg, pkt, cast)
        if isinstance(msg, wire.Report):
            # RFC 3376 4.2.14: "a system MUST accept and process any version 1 or version 2 Report
            # whose IP Destination Address field contains *any* of the addresses (unicast or
            # multicast) assigned to the interface on which the Report arrives" (Linux takes only
            # reports in multicast frames; the RFC wins). The endpoint delivered only such datagrams.
            if self.enabled and msg.group != wire.ALL_SYSTEMS:
                self.listener.on_report_heard(msg.group)
            return None
        if isinstance(msg, (wire.Leave, wire.V3Report)):
            return Drop.IGMP_FOR_ROUTERS
        return msg  # a Drop

    def _handle_query(self, q: wire.Query, pkt: PacketBuffer, cast: int) -> Drop | None:
        # RFC 3376 4.1.12: "a system MUST accept and process any Query whose IP Destination Address
        # field contains *any* of the addresses (unicast or multicast) assigned to the interface";
        # the endpoint delivered only such datagrams. TTL is not checked (Linux).
        # RFC 1112 appendix I: in a v1 query the Group Address is "zeroed when sent, ignored when
        # received"; every v1 query is a general one (Linux does the same).
        general = q.general or q.version == 1
        if not general and not 224 <= q.group[0] <= 239:
            return Drop.IGMP_QUERY_BAD_GROUP
        header = pkt.network()
        # RFC 3376 9.1: "Hosts SHOULD ignore v2 or v3 Queries without the Router-Alert option."
        if q.version > 1 and not _has_router_alert(header[MIN_HEADER_LEN : (header[0] & 0x0F) * 4]):
            return Drop.IGMP_QUERY_WITHOUT_ROUTER_ALERT
        # RFC 3376 9.1: "Hosts SHOULD ignore v1, v2 or v3 General Queries sent to a multicast address
        # other than 224.0.0.1, the all-systems address." A unicast one is processed (4.1.12).
        if general and cast != UNICAST and bytes(header[16:20]) != wire.ALL_SYSTEMS:
            return Drop.IGMP_GENERAL_QUERY_NOT_TO_ALL_SYSTEMS
        if q.version == 3 and q.general and q.sources:
            return Drop.IGMP_GENERAL_QUERY_WITH_SOURCES  # Linux: "no sources allowed"
        if not self.enabled:
            return None
        # RFC 1112 appendix I: a v1 query carries no Max Resp Time; the delay is up to 10 s.
        max_resp_ms = params.IGMPV1_MAX_RESPONSE_MS if q.version == 1 else q.max_resp_ms
        # A query about 224.0.0.1 finds no listener state (the group is never joined in the
        # listener: it is never reported), but a v2 one still sets the v2 Querier Present timer,
        # as any other v2 query does here.
        group = None if general else q.group
        self.listener.on_query(Mode(q.version), max_resp_ms, group, q.sources, q.qrv, q.qqi_ms)
        return None

    # ---- send (ListenerSender) ------------------------------------------------------------------------
    def send_report(self, group: bytes, mode: Mode) -> None:
        # RFC 2236 3 / RFC 1112: reports are sent to the group being reported.
        self._send(group, wire.Report(1 if mode is Mode.V1 else 2, group).encode())
        self.nic.stats.count_event("igmp_report_sent")

    def send_leave(self, group: bytes) -> None:
        # RFC 2236 3: "it SHOULD send a Leave Group message to the all-routers multicast group (224.0.0.2)".
        self._send(wire.ALL_ROUTERS, wire.Leave(group).encode())
        self.nic.stats.count_event("igmp_leave_sent")

    def send_records(self, records: list[Record]) -> None:
        # RFC 3376 4.2.14: "Version 3 Reports are sent with an IP destination address of 224.0.0.22".
        room = self.nic.mtu - _IP_HEADER_LEN - _V3_REPORT_HEADER_LEN
        # A group record header is 8 octets, each IPv4 source 4 (RFC 3376 4.2.4).
        for batch in pack_reports(records, room, 8, 4, wire.GroupRecord):
            self._send_v3(batch)

    def _send_v3(self, records: list[wire.GroupRecord]) -> None:
        self._send(wire.ALL_V3_ROUTERS, wire.V3Report(tuple(records)).encode())
        self.nic.stats.count_event("igmp_v3_report_sent")

    def _send(self, dst: bytes, message: bytes) -> None:
        if not self.nic.enabled:
            return
        # RFC 3376 4.2.13: "An IGMP report is sent with a valid IP source address for the destination
        # subnet. The 0.0.0.0 source address may be used by a system that has not yet acquired an IP
        # address." Linux sets DF and TOS 0xc0 (RFC 3376 4: "Internetwork Control").
        src = self.nic.addresses.select_source(4, dst) or wire.UNSPECIFIED
        header = encode_header(
            src, dst, PROTO_IGMP, len(message), self.output.next_ident(src, dst, PROTO_IGMP), IGMP_TTL,
            wire.TOS_INTERNETWORK_CONTROL, FLAG_DF, wire.ROUTER_ALERT_OPTION,
        )
        self.output.transmit(self.nic, dst, dst, header + message)


def _has_router_alert(options: memoryview) -> bool:
    return any(isinstance(o, Option) and o.type == ROUTER_ALERT for o in walk(options))
