"""Hop-by-Hop and Destination Options TLVs (RFC 8200 §4.2, RFC 2711, RFC 2675): walker and encoders.

The walker is total over bytes: every read is bounds-checked against the header it walks, and it
returns an OptionsResult, a ParamProblem (the RFC asks for an ICMPv6 error) or a Drop. Pointers
are offsets from the first octet of the IPv6 fixed header (RFC 4443 §3.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.wire.numbers import ICMPv6ParamProblemCode

# TLV option types (RFC 8200 §4.2, RFC 2711 §2.1, RFC 2675 §2).
OPT_PAD1: Final = 0
OPT_PADN: Final = 1
OPT_ROUTER_ALERT: Final = 5
OPT_JUMBO: Final = 0xC2

# Linux net.ipv6.max_hbh_opts_number / max_dst_opts_number: at most 8 options other than padding
# per header, so a crafted header of 2-octet options costs a bounded walk (RFC 8504 §5.3 lets a
# host set such limits: "the default value SHOULD be set to 8").
MAX_OPTIONS: Final = 8
# RFC 8504 §5.3: "A host MAY limit the number of bytes in a PADN option to be less than 8." Like
# Linux (ip6_parse_tlv: "7 is therefore the highest valid value") we do: padding serves only to
# align the header to 8 octets.
MAX_PADN_LEN: Final = 7


@dataclass(frozen=True, slots=True)
class OptionLimits:
    """RFC 8504 §5.3 limits on one kind of options header (Destination or Hop-by-Hop), as Linux's
    net.ipv6.max_*_opts_number and max_*_length: ``max_count`` non-padding options (a negative
    value -n: n, and unknown options disallowed), ``max_length`` octets of header (0: none)."""

    max_count: int = MAX_OPTIONS
    max_length: int = 0

    @property
    def count(self) -> int:
        return abs(self.max_count)

    @property
    def disallow_unknown(self) -> bool:
        return self.max_count < 0


DEFAULT_LIMITS: Final = OptionLimits()

# ICMPv6 Parameter Problem codes (RFC 4443 §3.4), named here for the walkers that decide them.
PP_ERRONEOUS_HEADER: Final = ICMPv6ParamProblemCode.ERRONEOUS_HEADER
PP_UNRECOGNIZED_NEXT_HEADER: Final = ICMPv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER
PP_UNRECOGNIZED_OPTION: Final = ICMPv6ParamProblemCode.UNRECOGNIZED_OPTION


@dataclass(frozen=True, slots=True)
class ParamProblem:
    """The packet must be discarded and answered with ICMPv6 Parameter Problem (RFC 4443 §3.4)."""

    code: int
    pointer: int
    reason: Drop
    # RFC 4443 §2.4(e.3) exception (2): Code 2 for an option type whose highest-order two
    # bits are 10 is sent even when the packet's destination was multicast.
    to_multicast: bool = False


@dataclass(frozen=True, slots=True)
class OptionsResult:
    """What a header's options said, when all of them were acceptable."""

    router_alert: int | None = None  # RFC 2711 value
    jumbo_offset: int | None = None  # octet of a valid Jumbo Payload option's type (RFC 2675)


def walk_options(
    packet: memoryview, start: int, length: int, hop_by_hop: bool, dst_is_multicast: bool,
    limits: OptionLimits = DEFAULT_LIMITS,
) -> OptionsResult | ParamProblem | Drop:
    """Walk the TLVs of the options header at ``packet[start:start+length]`` (RFC 8200 §4.2)."""
    # RFC 8504 §5.3: "If a packet is received and the length of the Destination or Hop-by-Hop
    # Options extension header exceeds the length limit, then the packet SHOULD be silently
    # discarded."
    if limits.max_length and length > limits.max_length:
        return Drop.IPV6_OPTIONS_HEADER_TOO_LONG
    router_alert: int | None = None
    jumbo: int | None = None
    count = 0
    i = start + 2
    end = start + length
    while i < end:
        opt_type = packet[i]
        if opt_type == OPT_PAD1:
            i += 1
            continue
        if i + 2 > end or i + 2 + packet[i + 1] > end:
            return Drop.IPV6_OPTION_TRUNCATED
        opt_len = packet[i + 1]
        if opt_type != OPT_PADN:
            count += 1
            # RFC 8504 §5.3: "If a packet is received and the number of destination or hop-by-hop
            # options exceeds the limit, then the packet SHOULD be silently discarded."
            if count > limits.count:
                return Drop.IPV6_TOO_MANY_OPTIONS
        if opt_type == OPT_PADN:
            # RFC 8504 §5.3: "In such a case, if a PADN option is present that has a length
            # greater than 7, the packet SHOULD be silently discarded."
            if 2 + opt_len > MAX_PADN_LEN:
                return Drop.IPV6_PADN_TOO_LONG
        elif hop_by_hop and opt_type == OPT_ROUTER_ALERT:
            if opt_len != 2:  # RFC 2711 §2.1: "Opt Data Len = 2"
                return Drop.IPV6_OPTION_TRUNCATED
            router_alert = (packet[i + 2] << 8) | packet[i + 3]
        elif hop_by_hop and opt_type == OPT_JUMBO:
            verdict = _check_jumbo(packet, i, opt_len)
            if verdict is not None:
                return verdict
            jumbo = i
        elif limits.disallow_unknown:
            # RFC 8504 §5.3: "If a packet with unknown options is received and the host is
            # configured to disallow them, then the packet SHOULD be silently discarded."
            return Drop.IPV6_UNKNOWN_OPTION_DISALLOWED
        else:
            # RFC 8200 §4.2: the highest-order two bits of an unrecognized option's type say
            # what to do; 00 = "skip over this option and continue processing the header".
            action = opt_type >> 6
            if action == 1:  # 01: "discard the packet."
                return Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
            if action == 2:  # 10: "... send an ICMP Parameter Problem, Code 2 ... regardless of
                # whether or not the packet's Destination Address was a multicast address"
                return ParamProblem(
                    PP_UNRECOGNIZED_OPTION, i, Drop.IPV6_UNRECOGNIZED_OPTION, to_multicast=True
                )
            if action == 3:  # 11: "... only if the packet's Destination Address was not a multicast address"
                if dst_is_multicast:
                    return Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
                return ParamProblem(PP_UNRECOGNIZED_OPTION, i, Drop.IPV6_UNRECOGNIZED_OPTION)
        i += 2 + opt_len
    return OptionsResult(router_alert, jumbo)


def _check_jumbo(packet: memoryview, i: int, opt_len: int) -> ParamProblem | Drop | None:
    """RFC 2675 §3 error rules, in the order Linux's ipv6_hop_jumbo() applies them."""
    # RFC 2675 §2: "Opt Data Len = 4" with "an alignment requirement of 4n + 2"; Linux drops
    # a Jumbo option that breaks either without an error message.
    if opt_len != 4 or i % 4 != 2:
        return Drop.IPV6_JUMBO_BAD_OPTION
    jumbo_len = int.from_bytes(packet[i + 2 : i + 6], "big")
    # RFC 2675 §3: "error: Jumbo Payload option present and Jumbo Payload Length < 65,536
    # ... Code: 0 Pointer: high-order octet of the Jumbo Payload Length".
    if jumbo_len < 65536:
        return ParamProblem(PP_ERRONEOUS_HEADER, i + 2, Drop.IPV6_JUMBO_LENGTH_TOO_SMALL)
    # RFC 2675 §3: "error: IPv6 Payload Length != 0 and Jumbo Payload option present ...
    # Code: 0 Pointer: Option Type field of the Jumbo Payload option".
    if packet[4] or packet[5]:
        return ParamProblem(PP_ERRONEOUS_HEADER, i, Drop.IPV6_JUMBO_WITH_PAYLOAD_LENGTH)
    return None


# ---- encoders (used by the stack's own senders and by tests) --------------------------------


def option(opt_type: int, data: bytes = b"") -> bytes:
    """One TLV option; Pad1 is the single octet 0."""
    if opt_type == OPT_PAD1:
        return b"\x00"
    return bytes([opt_type, len(data)]) + data


def pad(n: int) -> bytes:
    """Padding of exactly n octets: Pad1 for one, PadN otherwise (RFC 8200 §4.2)."""
    if n <= 0:
        return b""
    if n == 1:
        return b"\x00"
    return option(OPT_PADN, bytes(n - 2))


def options_header(next_header: int, options: bytes) -> bytes:
    """A Hop-by-Hop or Destination Options header, padded to a multiple of 8 octets."""
    body_len = 2 + len(options)
    padded = (body_len + 7) // 8 * 8
    return bytes([next_header, padded // 8 - 1]) + options + pad(padded - body_len)
