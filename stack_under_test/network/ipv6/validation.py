"""Validation every Neighbor Discovery message passes before it is processed (RFC 4861 §6.1.1,
§6.1.2, §7.1.1, §7.1.2, §8.1).

wire/icmpv6.py has already checked the checksum, "ICMP Code is 0", the minimum ICMP length, that
"All included options have a length that is greater than zero" and that a NS/NA Target Address
"is not a multicast address"; the endpoint dropped ND messages that carry a Fragment header
(RFC 6980 §5). What is left needs the IP header: this module. Checks that need state (the
first-hop router of a Redirect, the link-local source of an RA) live with their handlers.
"""

from __future__ import annotations

from stack_under_test.drops import Drop
from stack_under_test.params import NDP_HOP_LIMIT
from stack_under_test.wire.ipv6 import UNSPECIFIED, is_link_local, is_multicast, is_solicited_node
from stack_under_test.wire.ndp import NDPMessage, NeighborAdvert, NeighborSolicit, Redirect, RouterSolicit
from stack_under_test.wire.numbers import NDPOptionType


def check(hop_limit: int, src: bytes, dst: bytes, msg: NDPMessage) -> Drop | None:
    """The IP-header dependent validity checks of ``msg``; None when it may be processed."""
    # RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: "The IP Hop Limit field has a value of 255,
    # i.e., the packet could not possibly have been forwarded by a router."
    if hop_limit != NDP_HOP_LIMIT:
        return Drop.NDP_HOP_LIMIT_NOT_255
    # RFC 2464 §6 (Ethernet): a link-layer address option holds exactly one 6-octet address.
    # Like Linux, only the option the message type uses is judged (§4.1-§4.5: Source for RS, RA
    # and NS; Target for NA and Redirect); a malformed one drops the message.
    uses_target = isinstance(msg, (NeighborAdvert, Redirect))
    opt_type = NDPOptionType.TARGET_LINK_ADDRESS if uses_target else NDPOptionType.SOURCE_LINK_ADDRESS
    if isinstance(msg.options.link_address(opt_type), Drop):
        return Drop.NDP_BAD_LINK_LAYER_OPTION
    from_unspecified = src == UNSPECIFIED
    has_slla = msg.options.has(NDPOptionType.SOURCE_LINK_ADDRESS)
    if isinstance(msg, RouterSolicit):
        # RFC 4861 §6.1.1: "If the IP source address is the unspecified address, there is no
        # source link-layer address option in the message."
        if from_unspecified and has_slla:
            return Drop.NDP_ROUTER_SOLICIT_UNSPECIFIED_WITH_SLLA
    elif isinstance(msg, NeighborSolicit):
        if from_unspecified:
            # RFC 4861 §7.1.1: "If the IP source address is the unspecified address, the IP
            # destination address is a solicited-node multicast address."
            if not is_solicited_node(dst):
                return Drop.NDP_DAD_NOT_TO_SOLICITED_NODE
            # RFC 4861 §7.1.1: "If the IP source address is the unspecified address, there is no
            # source link-layer address option in the message."
            if has_slla:
                return Drop.NDP_DAD_WITH_SOURCE_LINK_ADDRESS
    elif isinstance(msg, NeighborAdvert):
        # RFC 4861 §7.1.2: "If the IP Destination Address is a multicast address the Solicited
        # flag is zero."
        if msg.solicited and is_multicast(dst):
            return Drop.NDP_SOLICITED_ADVERT_TO_MULTICAST
    elif isinstance(msg, Redirect):
        return _check_redirect(src, msg)
    return None


def _check_redirect(src: bytes, msg: Redirect) -> Drop | None:
    # RFC 4861 §8.1: "IP Source Address is a link-local address. Routers must use their
    # link-local address as the source for Router Advertisement and Redirect messages so that
    # hosts can uniquely identify routers."
    if not is_link_local(src):
        return Drop.NDP_REDIRECT_SOURCE_NOT_LINK_LOCAL
    # RFC 4861 §8.1: "The ICMP Destination Address field in the redirect message does not
    # contain a multicast address."
    if msg.destination.is_multicast:
        return Drop.NDP_REDIRECT_MULTICAST_DESTINATION
    # RFC 4861 §8.1: "The ICMP Target Address is either a link-local address (when redirected
    # to a router) or the same as the ICMP Destination Address (when redirected to the on-link
    # destination)."
    if not msg.target.is_link_local and msg.target != msg.destination:
        return Drop.NDP_REDIRECT_BAD_TARGET
    return None
