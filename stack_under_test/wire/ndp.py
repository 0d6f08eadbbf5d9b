"""Neighbor Discovery messages and options (RFC 4861 §4.3, §4.4, §4.6).

Messages parse the ICMPv6 message body (everything after Type, Code and Checksum) and encode it
back; wire/icmpv6.py adds the header and checksum. Parsing never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import ClassVar, Final

from stack_under_test.drops import Drop
from stack_under_test.wire.numbers import ICMPv6Type, NDPOptionType

ETHERNET_ADDR_LEN: Final = 6
# RFC 4861 §4.3, §4.4: 4 octets (reserved, or flags and reserved) + 16 target; ICMP length >= 24
# (§7.1.1, §7.1.2).
TARGET_BODY_LEN: Final = 20

_ROUTER: Final = 0x80
_SOLICITED: Final = 0x40
_OVERRIDE: Final = 0x20


@dataclass(frozen=True, slots=True)
class NDPOption:
    """One option: type and the octets after the Length field (RFC 4861 §4.6)."""

    type: int
    data: bytes

    def encode(self) -> bytes:
        total = (2 + len(self.data) + 7) // 8 * 8
        return bytes([self.type, total // 8]) + self.data + bytes(total - 2 - len(self.data))


@dataclass(frozen=True, slots=True)
class NDPOptions:
    options: tuple[NDPOption, ...] = ()

    @classmethod
    def parse(cls, buf: memoryview) -> NDPOptions | Drop:
        # Each option is at least 8 octets, so the loop runs at most len(buf) / 8 times.
        options: list[NDPOption] = []
        i = 0
        while i < len(buf):
            if len(buf) - i < 2:
                return Drop.NDP_OPTION_TRUNCATED
            length = buf[i + 1] * 8
            # RFC 4861 §4.6: "The value 0 is invalid. Nodes MUST silently discard an ND packet
            # that contains an option with length zero."
            if length == 0:
                return Drop.NDP_ZERO_LENGTH_OPTION
            if i + length > len(buf):
                return Drop.NDP_OPTION_TRUNCATED
            options.append(NDPOption(buf[i], bytes(buf[i + 2 : i + length])))
            i += length
        return cls(tuple(options))

    def encode(self) -> bytes:
        return b"".join(opt.encode() for opt in self.options)

    def link_address(self, opt_type: int) -> bytes | Drop | None:
        """The Ethernet address of the first option of `opt_type`, None when absent.

        RFC 4861 §4.6.1 leaves several such options undefined; Linux keeps the first one.
        RFC 2464 §6: on Ethernet the option is 8 octets holding a 6-octet address; Linux
        drops the message when it is any other size ("invalid link-layer address length").
        """
        for opt in self.options:
            if opt.type == opt_type:
                if len(opt.data) != ETHERNET_ADDR_LEN:
                    return Drop.NDP_BAD_LINK_LAYER_OPTION
                return opt.data
        return None


def _target_and_options(body: memoryview) -> tuple[IPv6Address, NDPOptions] | Drop:
    """The Target Address and options that Neighbor Solicitation and Advertisement share, both
    20 octets in (RFC 4861 §4.3, §4.4)."""
    if len(body) < TARGET_BODY_LEN:
        return Drop.NDP_TRUNCATED
    target = IPv6Address(bytes(body[4:20]))
    # RFC 4861 §7.1.1 and §7.1.2: "Target Address is not a multicast address."
    if target.is_multicast:
        return Drop.NDP_MULTICAST_TARGET
    options = NDPOptions.parse(body[20:])
    return options if isinstance(options, Drop) else (target, options)


@dataclass(frozen=True, slots=True)
class NeighborSolicit:  # RFC 4861 §4.3
    TYPE: ClassVar[int] = ICMPv6Type.NEIGHBOR_SOLICIT
    target: IPv6Address
    options: NDPOptions = NDPOptions()

    @classmethod
    def parse(cls, body: memoryview) -> NeighborSolicit | Drop:
        parsed = _target_and_options(body)
        return parsed if isinstance(parsed, Drop) else cls(*parsed)

    def encode(self) -> bytes:
        return bytes(4) + self.target.packed + self.options.encode()


@dataclass(frozen=True, slots=True)
class NeighborAdvert:  # RFC 4861 §4.4
    TYPE: ClassVar[int] = ICMPv6Type.NEIGHBOR_ADVERT
    target: IPv6Address
    router: bool = False
    solicited: bool = False
    override: bool = False
    options: NDPOptions = NDPOptions()

    @classmethod
    def parse(cls, body: memoryview) -> NeighborAdvert | Drop:
        parsed = _target_and_options(body)
        if isinstance(parsed, Drop):
            return parsed
        target, options = parsed
        flags = body[0]
        return cls(target, bool(flags & _ROUTER), bool(flags & _SOLICITED), bool(flags & _OVERRIDE), options)

    def encode(self) -> bytes:
        flags = (_ROUTER if self.router else 0) | (_SOLICITED if self.solicited else 0)
        flags |= _OVERRIDE if self.override else 0
        return bytes([flags, 0, 0, 0]) + self.target.packed + self.options.encode()


def source_link_option(mac: bytes) -> NDPOptions:
    return NDPOptions((NDPOption(NDPOptionType.SOURCE_LINK_ADDRESS, mac),))


def target_link_option(mac: bytes) -> NDPOptions:
    return NDPOptions((NDPOption(NDPOptionType.TARGET_LINK_ADDRESS, mac),))
