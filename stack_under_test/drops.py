"""Why an inbound frame was discarded.

Every handler returns ``Drop | None``; the NIC counts exactly one outcome per frame. Each value
is a sentence ending with the RFC (or standard) that decides the discard, which also keeps the
values unique. Members that describe outbound failures are counted in ``stats.tx_drops``.
"""

from __future__ import annotations

import enum


class Drop(enum.Enum):
    # Members are singletons: identity hashing is correct and much cheaper than Enum's
    # name-based __hash__, which every counted drop would otherwise pay.
    __hash__ = object.__hash__

    # --- Link ---
    LINK_NOT_ATTACHED = "The link endpoint has no NIC attached (stack design)."
    NIC_DISABLED = "The NIC is not enabled (RFC 1122 2.3)."
    ETHERNET_TRUNCATED = "The frame is shorter than an Ethernet header (RFC 894)."
    ETHERNET_NOT_FOR_US = "The destination MAC is neither ours, broadcast nor multicast (RFC 894)."
    ETHERNET_UNKNOWN_ETHERTYPE = "No network protocol is registered for the EtherType (RFC 894)."

    # --- ARP ---
    ARP_TRUNCATED = "The ARP packet is shorter than its fixed fields and addresses (RFC 826)."
    ARP_UNSUPPORTED_HARDWARE = "The ARP hardware type is not Ethernet or the length is not 6 (RFC 826)."
    ARP_UNSUPPORTED_PROTOCOL = "The ARP protocol type is not IPv4 or the length is not 4 (RFC 826)."
    ARP_UNKNOWN_OPCODE = "The ARP opcode is neither request nor reply (RFC 826)."
    ARP_NOT_FOR_US = "The ARP target protocol address is not ours (RFC 826)."
    ARP_BAD_SENDER = "The ARP sender hardware address is multicast or broadcast (RFC 1812 3.3.2)."

    # --- IPv4 ---
    IPV4_TRUNCATED = "The datagram is shorter than a minimum IPv4 header (RFC 1122 3.2.1.1)."
    IPV4_BAD_VERSION = "The IP version is not 4 (RFC 1122 3.2.1.1)."
    IPV4_BAD_IHL = "The IHL is below 5 or beyond the datagram (RFC 791 3.1)."
    IPV4_BAD_TOTAL_LENGTH = "The total length is below the header length or beyond the frame (RFC 1122 3.2.1.1)."
    IPV4_BAD_CHECKSUM = "The IPv4 header checksum is wrong (RFC 1122 3.2.1.2)."
    IPV4_BAD_SOURCE = "The source address is a broadcast, multicast or loopback address (RFC 1122 3.2.1.3)."
    IPV4_LINK_BROADCAST_UNICAST = "A link-layer broadcast carried a unicast IP destination (RFC 1122 3.3.6)."
    IPV4_NOT_FOR_US = "The destination is not one of our addresses, broadcasts or groups (RFC 1122 3.2.1.3)."
    IPV4_BAD_OPTIONS = "An IPv4 option is malformed; a Parameter Problem was sent (RFC 1122 3.2.1.8)."
    IPV4_FRAGMENT_BAD = "The fragment is malformed: offset and length run past 65535 octets (RFC 791 3.2)."
    IPV4_UNKNOWN_PROTOCOL = "No transport protocol is bound to the IP protocol number (RFC 1122 3.2.2.1)."
    IPV4_TTL_EXCEEDED = "The TTL ran out while forwarding (RFC 1812 5.3.1)."
    IPV4_NO_ROUTE = "No route to forward the datagram (RFC 1812 5.2.7.1)."

    # --- ICMPv4 ---
    ICMPV4_TRUNCATED = "The ICMP message is shorter than its header (RFC 792)."
    ICMPV4_BAD_CHECKSUM = "The ICMP checksum is wrong (RFC 792)."
    ICMPV4_UNKNOWN_TYPE = "The ICMP type is unknown; it is silently discarded (RFC 1122 3.2.2)."
    ICMPV4_BROADCAST_ECHO_IGNORED = "An echo request to a broadcast address is not answered (RFC 1122 3.2.2.6)."
    ICMPV4_NOT_IMPLEMENTED = "The ICMP type is known but this host takes no action on it (RFC 1122 3.2.2)."

    # --- UDP ---
    UDP_TRUNCATED = "The UDP datagram is shorter than its header (RFC 768)."
    UDP_BAD_LENGTH = "The UDP length field disagrees with the IP payload length (RFC 768)."
    UDP_BAD_CHECKSUM = "The UDP checksum is wrong (RFC 1122 4.1.3.4)."
    UDP_MISSING_CHECKSUM_V6 = "A UDP datagram over IPv6 carries a zero checksum (RFC 8200 8.1)."
    UDP_NO_LISTENER = "No socket is bound to the destination port (RFC 1122 4.1.3.1)."
    UDP_RECEIVE_QUEUE_FULL = "The socket's receive queue is full (RFC 1122 4.1.3.5)."

    # --- IGMP ---
    IGMP_TRUNCATED = "The IGMP message is shorter than its 8-octet header (RFC 2236 2)."
    IGMP_BAD_CHECKSUM = "The IGMP checksum is wrong (RFC 2236 2.3, RFC 3376 4.1.2)."
    IGMP_UNKNOWN_TYPE = "Unrecognized IGMP message types MUST be silently ignored (RFC 3376 4)."
    IGMP_BAD_QUERY_LENGTH = "A query of 9 to 11 octets matches no IGMP version and MUST be ignored (RFC 3376 7.1)."
    IGMP_QUERY_SOURCES_TRUNCATED = "The IGMPv3 query's source list runs past the message (RFC 3376 4.1.8)."
    IGMP_REPORT_TRUNCATED = "An IGMPv3 report's group record runs past the message (RFC 3376 4.2.4)."
    IGMP_GENERAL_QUERY_WITH_SOURCES = "A general query carries sources; ignored like Linux (RFC 3376 4.1.8)."
    IGMP_QUERY_BAD_GROUP = "The queried group is neither 0.0.0.0 nor a multicast address (RFC 3376 4.1.3)."
    IGMP_REPORT_NOT_MULTICAST = "A membership report not sent to a group is not used for suppression (RFC 2236 3)."
    IGMP_FOR_ROUTERS = "A Leave Group or IGMPv3 report is for multicast routers; a host takes no action (RFC 3376 5)."

    # --- Fragmentation and reassembly ---
    FRAGMENT_EMPTY = "A fragment carries no data (RFC 791 3.2, RFC 8200 4.5)."
    FRAGMENT_DATAGRAM_TOO_LONG = "The fragment reaches past the largest datagram, 65,535 octets (RFC 791 3.1)."
    FRAGMENT_DUPLICATE = "An exact duplicate of a fragment already queued; the datagram is kept (RFC 8200 4.5)."
    FRAGMENT_OVERLAP = "Fragments overlap; the whole datagram is silently discarded (RFC 5722 4)."
    FRAGMENT_OF_DISCARDED_DATAGRAM = "A fragment of a datagram discarded for overlapping fragments (RFC 5722 4)."
    FRAGMENT_INCONSISTENT_LENGTH = "Fragments disagree on where the datagram ends; it is discarded (RFC 791 3.2)."
    FRAGMENT_TOO_MANY = "The datagram has more fragments than the per-datagram cap; it is discarded (RFC 8200 4.5)."
    FRAGMENT_MEMORY_EXCEEDED = "Reassembly memory passed its high threshold; oldest datagrams evicted (RFC 1122 3.3.2)."
    FRAGMENT_REASSEMBLED_TOO_LONG = "The reassembled datagram would exceed 65,535 octets (RFC 8200 4.5)."
    IPV6_FRAGMENT_LENGTH_NOT_MULTIPLE_OF_8 = "A non-last fragment's length is not a multiple of 8; Parameter Problem sent (RFC 8200 4.5)."
    IPV6_FRAGMENT_BEYOND_MAX = "Fragment offset plus length exceed 65,535; Parameter Problem sent (RFC 8200 4.5)."
    IPV6_FIRST_FRAGMENT_INCOMPLETE_CHAIN = "The first fragment lacks the header chain; Parameter Problem code 3 sent (RFC 7112 5)."
    IPV6_FRAGMENT_NESTED = "A Fragment header follows another; each may occur at most once (RFC 8200 4.1)."
    NDP_FRAGMENTED = "A Neighbor Discovery message arrived with a Fragment header (RFC 6980 5)."

    # --- Outbound (counted in stats.tx_drops, never as a frame verdict) ---
    NEIGHBOR_QUEUE_FULL = "A packet waiting for address resolution was displaced (RFC 1122 2.3.2.2)."
    NEIGHBOR_RESOLUTION_FAILED = "Address resolution gave up after its retransmissions (RFC 4861 7.3.3)."
    NO_ROUTE = "No route to the destination of an outbound packet (RFC 1122 3.3.1)."
    PACKET_TOO_BIG = "The packet exceeds the link MTU and cannot be fragmented (RFC 1122 3.3.3)."
    OUTBOUND_QUEUE_FULL = "The link's outbound queue is full (stack design)."

    # --- IPv6 (owned by the IPv6 work) ---
    IPV6_TRUNCATED = "The packet is shorter than the 40-octet IPv6 header (RFC 8200 3)."
    IPV6_BAD_VERSION = "The IP version is not 6 (RFC 8200 3)."
    IPV6_PAYLOAD_LENGTH_EXCEEDS_FRAME = "The Payload Length runs past the end of the frame (RFC 8200 3)."
    IPV6_MULTICAST_SOURCE = "The source address is multicast (RFC 4291 2.7)."
    IPV6_LOOPBACK_ADDRESS = "The source or destination is ::1 on a real link (RFC 4291 2.5.3)."
    IPV6_NOT_FOR_US = "The destination is not one of our addresses or joined groups (RFC 8200 3)."
    IPV6_EXT_HEADER_TRUNCATED = "An extension header runs past the Payload Length (RFC 8200 4)."
    IPV6_TOO_MANY_EXT_HEADERS = "The extension header chain is longer than we walk (RFC 8200 4.1)."
    IPV6_OPTION_TRUNCATED = "A Hop-by-Hop or Destination option runs past its header (RFC 8200 4.2)."
    IPV6_UNRECOGNIZED_OPTION_DISCARD = "An unrecognized option's type asks for a silent discard (RFC 8200 4.2)."
    IPV6_UNRECOGNIZED_OPTION = "An unrecognized option; a Parameter Problem code 2 was sent (RFC 8200 4.2)."
    IPV6_HOP_BY_HOP_NOT_FIRST = "A Hop-by-Hop header not right after the IPv6 header; Parameter Problem sent (RFC 8200 4.1)."
    IPV6_ROUTING_TYPE_UNRECOGNIZED = "Segments Left is non-zero for a Routing Type we do not implement; Parameter Problem sent (RFC 8200 4.4)."
    IPV6_UNKNOWN_NEXT_HEADER = "No protocol handles the Next Header value; Parameter Problem code 1 sent (RFC 8200 4)."
    # --- IPv6 in depth ---
    IPV6_V4MAPPED_ADDRESS = "The source or destination is an IPv4-mapped address on the wire (RFC 4038 5.1)."
    IPV6_MULTICAST_SCOPE_INVALID = "A multicast destination of scope 0 or interface-local arrived on a link (RFC 4291 2.7)."
    IPV6_TENTATIVE_DESTINATION = "The destination is one of our addresses that is still tentative (RFC 4862 5.4)."
    IPV6_UNSPECIFIED_SOURCE_FORWARD = "A packet with the unspecified source is never forwarded (RFC 4291 2.5.2)."
    IPV6_EXT_CHAIN_TOO_LONG = "The extension headers exceed the total length we walk (RFC 8504 5.3)."
    IPV6_TOO_MANY_OPTIONS = "An options header carries more options than we process (RFC 8504 5.3)."
    IPV6_JUMBO_BAD_OPTION = "A Jumbo Payload option has a wrong length or alignment (RFC 2675 2)."
    IPV6_JUMBO_LENGTH_TOO_SMALL = "The Jumbo Payload Length is below 65,536; Parameter Problem sent (RFC 2675 3)."
    IPV6_JUMBO_WITH_PAYLOAD_LENGTH = "A Jumbo Payload option with a non-zero Payload Length; Parameter Problem sent (RFC 2675 3)."
    IPV6_JUMBO_WITH_FRAGMENT = "A Jumbo Payload option with a Fragment header; Parameter Problem sent (RFC 2675 3)."
    IPV6_ZERO_PAYLOAD_LENGTH = "Payload Length 0 with a Hop-by-Hop header but no Jumbo option; Parameter Problem sent (RFC 2675 3)."
    IPV6_JUMBOGRAM_NOT_SUPPORTED = "A jumbogram cannot arrive whole on a link whose MTU is below 65,575 (RFC 2675 1)."
    IPV6_HOP_LIMIT_EXCEEDED = "The Hop Limit ran out while forwarding; Time Exceeded sent (RFC 8200 3)."
    IPV6_FORWARD_NO_ROUTE = "No route to forward the packet; Destination Unreachable sent (RFC 4443 3.1)."
    IPV6_FORWARD_BEYOND_SCOPE = "A link-local source would leave its link; Destination Unreachable code 2 sent (RFC 4291 2.5.6)."
    IPV6_FORWARD_TOO_BIG = "The packet exceeds the next-hop MTU; Packet Too Big sent, never fragmented (RFC 8200 5)."
    ICMPV6_PTB_BELOW_MINIMUM_MTU = "A Packet Too Big reports an MTU below 1280; it is discarded (RFC 8201 4)."
    ICMPV6_PTB_NOT_OURS = "A Packet Too Big quotes a packet whose source is not ours (RFC 8201 4)."
    ICMPV6_ERROR_RATE_LIMITED = "An ICMPv6 error was not sent: the rate limit was exhausted (RFC 4443 2.4(f))."

    # --- ICMPv6 (owned by the IPv6 work) ---
    ICMPV6_TRUNCATED = "The ICMPv6 message is shorter than its type's fixed fields (RFC 4443 2.1)."
    ICMPV6_BAD_CHECKSUM = "The ICMPv6 checksum is wrong (RFC 4443 2.3)."
    ICMPV6_UNKNOWN_INFORMATIONAL = "An unknown informational ICMPv6 type is silently discarded (RFC 4443 2.4(b))."
    ICMPV6_UNSPECIFIED_SOURCE = "An echo request from :: cannot be answered (RFC 4443 4.2)."
    ICMPV6_ECHO_REPLY_UNSOLICITED = "An echo reply arrived and no ping socket waits for it (RFC 4443 4.2)."
    ICMPV6_ERROR_NO_HANDLER = "An ICMPv6 error quotes no packet of ours that an upper layer can take (RFC 4443 2.4(d))."
    ICMPV6_NOT_IMPLEMENTED = "The ICMPv6 message (MLD, router discovery, redirect) is not implemented yet (RFC 4443 2.4)."

    # --- NDP (owned by the IPv6 work) ---
    NDP_HOP_LIMIT_NOT_255 = "A Neighbor Discovery message's Hop Limit is not 255 (RFC 4861 7.1.1)."
    NDP_BAD_CODE = "A Neighbor Discovery message's ICMP Code is not 0 (RFC 4861 7.1.1)."
    NDP_TRUNCATED = "The Neighbor Discovery message is shorter than its fixed fields (RFC 4861 7.1.1)."
    NDP_MULTICAST_TARGET = "The Neighbor Discovery Target Address is multicast (RFC 4861 7.1.1)."
    NDP_ZERO_LENGTH_OPTION = "A Neighbor Discovery option has length zero (RFC 4861 7.1.1)."
    NDP_OPTION_TRUNCATED = "A Neighbor Discovery option runs past the message (RFC 4861 4.6)."
    NDP_BAD_LINK_LAYER_OPTION = "A link-layer address option does not hold one Ethernet address (RFC 4861 4.6.1)."
    NDP_DAD_NOT_TO_SOLICITED_NODE = "A Neighbor Solicitation from :: is not sent to a solicited-node group (RFC 4861 7.1.1)."
    NDP_DAD_WITH_SOURCE_LINK_ADDRESS = "A Neighbor Solicitation from :: carries a source link-layer option (RFC 4861 7.1.1)."
    NDP_TARGET_NOT_OURS = "The Neighbor Solicitation's target is not one of our addresses (RFC 4861 7.2.3)."
    NDP_SOLICITED_ADVERT_TO_MULTICAST = "A solicited Neighbor Advertisement was sent to a multicast group (RFC 4861 7.1.2)."
    NDP_ADVERT_NO_ENTRY = "A Neighbor Advertisement for a neighbor we have no entry for (RFC 4861 7.2.5)."
    NDP_ROUTER_SOLICIT_ON_HOST = "A host silently discards Router Solicitations (RFC 4861 6.2.6)."
    NDP_TARGET_TENTATIVE = "The Neighbor Solicitation's target is still tentative here (RFC 4862 5.4.3)."
    NDP_ADVERT_FOR_OUR_ADDRESS = "A Neighbor Advertisement claims one of our own addresses (RFC 4862 5.4.4)."
    NDP_ADVERT_WITHOUT_TARGET_LINK_ADDRESS = "An advertisement for an INCOMPLETE entry has no target link-layer option (RFC 4861 7.2.5)."
    IPV6_NO_ROUTE = "No route to send the IPv6 packet out of (RFC 4861 5.2)."
    # --- NDP validation, NUD, Redirect receive ---
    NDP_BAD_PREFIX_OPTION = "A Prefix Information option is not 32 octets or its Prefix Length exceeds 128 (RFC 4861 4.6.2)."
    NDP_BAD_MTU_OPTION = "An MTU option is not 8 octets long (RFC 4861 4.6.4)."
    NDP_ROUTER_SOLICIT_UNSPECIFIED_WITH_SLLA = "A Router Solicitation from :: carries a source link-layer option (RFC 4861 6.1.1)."
    NDP_REDIRECT_SOURCE_NOT_LINK_LOCAL = "A Redirect's source is not a link-local address (RFC 4861 8.1)."
    NDP_REDIRECT_NOT_FROM_FIRST_HOP = "A Redirect does not come from the current first-hop router for its destination (RFC 4861 8.1)."
    NDP_REDIRECT_BAD_TARGET = "A Redirect's target is neither link-local nor the destination itself (RFC 4861 8.1)."
    NDP_REDIRECT_MULTICAST_DESTINATION = "A Redirect's Destination Address is multicast (RFC 4861 8.1)."
    NDP_ANYCAST_ADVERTS_QUEUED = "Too many delayed anycast advertisements are waiting already (RFC 4861 7.2.7; Linux proxy_qlen)."
    NDP_REDIRECT_ON_ROUTER = "A Redirect reached a node that forwards; only hosts follow them (RFC 4861 8.3, Linux accept_redirects)."
    # --- Router discovery, DAD, SLAAC ---
    NDP_DAD_LOOPED_BACK = "A DAD Neighbor Solicitation carrying our own nonce came back to us; not a duplicate (RFC 7527 4)."
    NDP_RA_SOURCE_NOT_LINK_LOCAL = "A Router Advertisement's source is not a link-local address (RFC 4861 6.1.2)."
    NDP_RA_ON_ROUTER = "A router does not configure itself from Router Advertisements (RFC 4861 6.2.7)."
    NDP_RA_NOT_ACCEPTED = "Router Advertisements are not processed on this interface (accept_ra off, RFC 4861 6.3.4)."
    IPV6_DISABLED_BY_DAD = "IPv6 is off on the interface: its hardware-based link-local address is a duplicate (RFC 4862 5.4.5)."

    # --- MLD and source address selection ---
    MLD_TRUNCATED = "The MLD message is shorter than its fixed fields (RFC 2710 3, RFC 3810 5)."
    MLD_BAD_QUERY_LENGTH = "An MLD Query is neither 24 nor at least 28 octets long (RFC 3810 8.1)."
    MLD_QUERY_SOURCES_TRUNCATED = "An MLDv2 Query's source list runs past the message (RFC 3810 5.1.10)."
    MLD_REPORT_TRUNCATED = "An MLDv2 Report's address records run past the message (RFC 3810 5.2)."
    MLD_SOURCE_NOT_LINK_LOCAL = "An MLD Query's source is not a link-local address (RFC 3810 5.1.14)."
    MLD_HOP_LIMIT_NOT_1 = "An MLD Query's Hop Limit is not 1 (RFC 3810 6.2, RFC 2710 3)."
    MLD_NO_ROUTER_ALERT = "An MLD Query has no Router Alert option for MLD in a Hop-by-Hop header (RFC 3810 6.2)."
    MLD_QUERY_BAD_GROUP = "An MLD Query's Multicast Address is neither :: nor a multicast address (RFC 3810 5.1.5)."
    MLD_GENERAL_QUERY_WITH_SOURCES = "An MLDv2 General Query carries sources (RFC 3810 5.1.10)."
    MLD_V1_QUERY_IGNORED = "An MLDv1 Query on an interface forced to MLDv2 (force_mld_version=2) (RFC 3810 8.2.1)."
    MLD_REPORT_BAD_SOURCE = "An MLDv1 Report from neither a link-local address nor :: (RFC 2710 3)."
    MLD_FOR_ROUTERS = "An MLD Done or MLDv2 Report is processed by routers only (RFC 3810 7)."
    # --- IPv4 options, ICMPv4 errors, forwarding ---
    IPV4_SOURCE_ROUTE_REJECTED = "A source-routed datagram (LSRR/SSRR) is dropped by policy, as Linux accept_source_route=0 (RFC 1122 3.3.5)."
    IPV4_SOURCE_ROUTE_FAILED = "The accepted source route cannot be followed here; an ICMP error is sent where allowed (RFC 1812 5.2.4.1)."
    IPV4_FORWARD_MARTIAN = "A datagram to 0/8, 127/8, class E or an unjoined group is not forwarded (RFC 1812 5.3.7)."
    IPV4_FORWARD_LINK_BROADCAST = "A unicast datagram received as a link-layer broadcast or multicast is not forwarded (RFC 1812 5.3.4)."
    IPV4_FRAGMENTATION_NEEDED = "DF is set and the datagram exceeds the next hop's MTU; Fragmentation Needed sent (RFC 1812 5.2.6)."
    IPV4_FORWARD_CANNOT_FRAGMENT = "The datagram exceeds the next hop's MTU and no fragmenter is available (RFC 1812 5.2.6)."
    ICMPV4_ERROR_RATE_LIMITED = "An ICMPv4 error was not sent: the token bucket was empty (RFC 1812 4.3.2.8)."
