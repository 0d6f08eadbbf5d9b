"""Numbers the wire formats assign: EtherTypes and IP protocol numbers as plain ints (hot paths
compare against them, and an IntEnum attribute costs more than a global int), message types and
codes as IntEnums."""

from __future__ import annotations

import enum


class ICMPv4Type(enum.IntEnum):  # RFC 792
    ECHO_REPLY = 0
    DEST_UNREACHABLE = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    ROUTER_ADVERTISEMENT = 9
    ROUTER_SOLICITATION = 10
    TIME_EXCEEDED = 11
    PARAMETER_PROBLEM = 12
    TIMESTAMP = 13
    TIMESTAMP_REPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    ADDRESS_MASK_REQUEST = 17  # RFC 950; RFC 1122 3.2.2 lists Address Mask among the query messages
    ADDRESS_MASK_REPLY = 18


# RFC 1122 3.2.2: the error types, about which no ICMP error is ever sent.
ICMPV4_ERROR_TYPES = frozenset(
    {
        ICMPv4Type.DEST_UNREACHABLE,
        ICMPv4Type.SOURCE_QUENCH,
        ICMPv4Type.REDIRECT,
        ICMPv4Type.TIME_EXCEEDED,
        ICMPv4Type.PARAMETER_PROBLEM,
    }
)


class ICMPv4DestUnreachableCode(enum.IntEnum):  # RFC 792, RFC 1122 3.2.2.1
    NET = 0
    HOST = 1
    PROTOCOL = 2
    PORT = 3
    FRAGMENTATION_NEEDED = 4
    SOURCE_ROUTE_FAILED = 5


class ICMPv4TimeExceededCode(enum.IntEnum):  # RFC 792
    TTL = 0
    REASSEMBLY = 1


class ICMPv6Type(enum.IntEnum):  # RFC 4443, RFC 4861, RFC 2710, RFC 3810
    DEST_UNREACHABLE = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAMETER_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    MLD_QUERY = 130
    MLD_REPORT = 131
    MLD_DONE = 132
    ROUTER_SOLICIT = 133
    ROUTER_ADVERT = 134
    NEIGHBOR_SOLICIT = 135
    NEIGHBOR_ADVERT = 136
    REDIRECT = 137
    MLDV2_REPORT = 143


class ICMPv6DestUnreachableCode(enum.IntEnum):  # RFC 4443 3.1
    NO_ROUTE = 0
    ADMIN_PROHIBITED = 1
    BEYOND_SCOPE = 2
    ADDRESS = 3
    PORT = 4


class ICMPv6TimeExceededCode(enum.IntEnum):  # RFC 4443 3.3
    HOP_LIMIT = 0
    REASSEMBLY = 1


class ICMPv6ParamProblemCode(enum.IntEnum):  # RFC 4443 3.4, RFC 7112
    ERRONEOUS_HEADER = 0
    UNRECOGNIZED_NEXT_HEADER = 1
    UNRECOGNIZED_OPTION = 2
    INCOMPLETE_HEADER_CHAIN = 3


class NDPOptionType(enum.IntEnum):  # RFC 4861 4.6
    SOURCE_LINK_ADDRESS = 1
    TARGET_LINK_ADDRESS = 2
    PREFIX_INFORMATION = 3
    REDIRECTED_HEADER = 4
    MTU = 5
    NONCE = 14  # RFC 3971 5.3.2, used by RFC 7527
    ROUTE_INFORMATION = 24  # RFC 4191 2.3


# EtherTypes (IEEE 802: RFC 894, RFC 826, RFC 2464) and IP protocol numbers (IANA; the IPv4
# Protocol field and the IPv6 Next Header field share them).
ETH_P_IPV4 = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PROTO_ICMP = 1
PROTO_IGMP = 2
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
# Next Header values that name an IPv6 extension header (RFC 8200 4, RFC 4302) or nothing at all.
PROTO_HOP_BY_HOP = 0
PROTO_ROUTING = 43
PROTO_FRAGMENT = 44
PROTO_AH = 51
PROTO_NO_NEXT_HEADER = 59
PROTO_DEST_OPTS = 60
