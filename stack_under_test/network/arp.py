"""ARP (RFC 826): answer requests for our addresses, learn senders, resolve IPv4 next hops."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborTable, Pending
from stack_under_test.wire.arp import OP_REPLY, OP_REQUEST, ARPPacket
from stack_under_test.wire.ethernet import BROADCAST_MAC, is_group_mac
from stack_under_test.wire.ipv4 import MIN_HEADER_LEN, IPv4Header
from stack_under_test.wire.numbers import ETH_P_ARP

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface
    from stack_under_test.stack.stack import Stack

_ZERO_IP = b"\x00\x00\x00\x00"
_ZERO_MAC = b"\x00" * 6


class ARPProtocol:
    ethertype = ETH_P_ARP

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def new_endpoint(self, nic: NetworkInterface) -> ARPEndpoint:
        return ARPEndpoint(self, nic)


class ARPCacheConfig:
    """How ARP ages its cache: the knobs of Neighbor Unreachability Detection, with Linux's ARP
    defaults (net.ipv4.neigh.<if>.*, the values RFC 4861 10 gives NDP).

    RFC 1122 2.3.2.1: "An implementation of the Address Resolution Protocol (ARP) [LINK:2] MUST
    provide a mechanism to flush out-of-date cache entries. If this mechanism involves a
    timeout, it SHOULD be possible to configure the timeout value." The timeout is the stack's
    "arp_cache_timeout" timer (Linux base_reachable_time): an entry not confirmed for a
    ReachableTime drawn around it is STALE, re-validated with unicast requests when next used
    (RFC 826's "daemon" alternative) and deleted when they go unanswered.
    """

    mcast_solicit = params.MAX_MULTICAST_SOLICIT
    ucast_solicit = params.MAX_UNICAST_SOLICIT
    retrans_time_ms = params.RETRANS_TIMER_MS
    delay_first_probe_time_ms = params.DELAY_FIRST_PROBE_TIME_MS

    def __init__(self, stack: Stack) -> None:
        self._timers = stack.timers_ms

    @property
    def base_reachable_time_ms(self) -> int:
        return self._timers["arp_cache_timeout"]


class ARPEndpoint:
    def __init__(self, protocol: ARPProtocol, nic: NetworkInterface) -> None:
        self.protocol = protocol
        self.nic = nic
        self.config = ARPCacheConfig(protocol.stack)
        # The IPv4 neighbor table lives here: ARP is how IPv4 resolves.
        self.neighbors = nic.neighbors[4] = NeighborTable(
            protocol.stack.clock, nic.write_packet, self._send_request, nic.stats.count_tx_drop,
            on_failed=self._on_resolution_failed, rng=protocol.stack.rng, config=lambda: self.config,
        )

    def _on_resolution_failed(self, addr: bytes, pending: list[Pending]) -> None:
        """IPv4 decides what to tell the senders of the datagrams that waited (Host Unreachable)."""
        ip = self.nic.ip.get(4)
        if ip is not None:
            ip.on_neighbor_failed(addr, pending)

    def enable(self) -> None:
        pass  # nothing to announce: ARP speaks when asked or when IPv4 resolves

    def on_link_address_changed(self) -> None:
        """Nothing to announce: ARP replies carry the NIC's MAC as it is when they are sent."""

    def disable(self) -> None:
        pass

    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        arp = ARPPacket.parse(memoryview(pkt.data)[pkt.network_offset :])
        if isinstance(arp, Drop):
            return arp
        if is_group_mac(arp.sender_mac):
            return Drop.ARP_BAD_SENDER
        nic = self.nic
        ours = nic.addresses.get(arp.sender_ip)
        # RFC 826: "If the pair <protocol type, sender protocol address> is already in my
        # translation table, update the sender hardware address field of the entry with the new
        # information in the packet and set Merge_flag to true." An unspecified sender (an RFC 5227
        # probe) and our own address (a conflict, not a neighbor) are never learned.
        learnable = arp.sender_ip != _ZERO_IP and ours is None
        merged = learnable and self.neighbors.learn(
            arp.sender_ip, arp.sender_mac, solicited=arp.opcode == OP_REPLY, create=False
        )
        # RFC 826: "?Am I the target protocol address?" ... no: stop here.
        if not nic.is_local(arp.target_ip):
            return Drop.ARP_NOT_FOR_US
        # "If Merge_flag is false, add the triplet <protocol type, sender protocol address, sender
        # hardware address> to the translation table."
        if learnable and not merged:
            self.neighbors.learn(arp.sender_ip, arp.sender_mac, solicited=arp.opcode == OP_REPLY)
        if arp.opcode == OP_REQUEST:
            # "Swap hardware and protocol fields, putting the local hardware and protocol addresses
            # in the sender fields. Set the ar$op field to ares_op$REPLY. Send the packet to the
            # (new) target hardware address on the same hardware on which the request was received."
            reply = ARPPacket(OP_REPLY, nic.mac, arp.target_ip, arp.sender_mac, arp.sender_ip)
            nic.write_packet(arp.sender_mac, ETH_P_ARP, reply.encode())
            nic.stats.count_event("arp_reply_sent")
        return None

    def _send_request(self, target: bytes, unicast_mac: bytes | None, first: bytes | None) -> None:
        """Solicit ``target``'s MAC. The sender address is the pending packet's source when that is
        ours (as Linux's arp_announce=0 does), else one of our addresses on the target's subnet."""
        nic = self.nic
        src = IPv4Header.read(first).src if first is not None and len(first) >= MIN_HEADER_LEN else None
        if src is None or not nic.is_local(src):
            src = nic.addresses.select_source(4, target) or _ZERO_IP
        request = ARPPacket(OP_REQUEST, nic.mac, src, _ZERO_MAC, target)
        nic.write_packet(unicast_mac or BROADCAST_MAC, ETH_P_ARP, request.encode())
        nic.stats.count_event("arp_request_sent")

