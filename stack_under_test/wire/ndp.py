"""Neighbor Discovery messages and options (RFC 4861 §4.1-§4.6, RFC 4191 §2.3, RFC 7527).

Messages parse the ICMPv6 message body (everything after Type, Code and Checksum) and encode it
back; wire/icmpv6.py adds the header and checksum. Parsing never raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import ClassVar, Final

from stack_under_test.drops import Drop
from stack_under_test.wire.numbers import ICMPv6Type, NDPOptionType

ETHERNET_ADDR_LEN: Final = 6
# RFC 4861 §4.3, §4.4: 4 octets (reserved, or flags and reserved) + 16 target; ICMP length >= 24
# (§7.1.1, §7.1.2).
TARGET_BODY_LEN: Final = 20
# RFC 4861 §6.1.1: "ICMP length (derived from the IP length) is 8 or more octets": 4 reserved.
ROUTER_SOLICIT_BODY_LEN: Final = 4
# RFC 4861 §6.1.2: "ICMP length (derived from the IP length) is 16 or more octets".
ROUTER_ADVERT_BODY_LEN: Final = 12
# RFC 4861 §8.1: "ICMP length (derived from the IP length) is 40 or more octets".
REDIRECT_BODY_LEN: Final = 36
# RFC 4861 §4.6.2: the Prefix Information option is Length 4 (32 octets); 30 after Type and Length.
PREFIX_INFO_DATA_LEN: Final = 30
# RFC 4861 §4.6.4: the MTU option is Length 1: 2 reserved octets and the 32-bit MTU.
MTU_DATA_LEN: Final = 6
# RFC 4861 §4.6.3: "Reserved ... 6 octets" come before the redirected IP header and data.
REDIRECTED_HEADER_RESERVED: Final = 6
# RFC 7527 §4.2 / RFC 3971 §5.3.2: the nonce fills a Length-1 option (6 octets) on the senders we know.
NONCE_LEN: Final = 6

# RFC 4191 §2.1 preference values (2-bit signed): 01 High, 00 Medium, 11 Low, 10 reserved.
PREF_HIGH: Final = 1
PREF_MEDIUM: Final = 0
PREF_LOW: Final = -1
_PRF_BITS: Final = {0b01: PREF_HIGH, 0b00: PREF_MEDIUM, 0b11: PREF_LOW}
_PRF_RESERVED: Final = 0b10
_PRF_ENCODE: Final = {PREF_HIGH: 0b01, PREF_MEDIUM: 0b00, PREF_LOW: 0b11}

_ROUTER: Final = 0x80
_SOLICITED: Final = 0x40
_OVERRIDE: Final = 0x20
_MANAGED: Final = 0x80
_OTHER: Final = 0x40
_ON_LINK: Final = 0x80
_AUTONOMOUS: Final = 0x40


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

    def find(self, opt_type: int) -> NDPOption | None:
        """The first option of ``opt_type``, None when absent."""
        return next((opt for opt in self.options if opt.type == opt_type), None)

    def has(self, opt_type: int) -> bool:
        return self.find(opt_type) is not None

    def prefix_infos(self) -> list[PrefixInfo]:
        """Every readable Prefix Information option (RFC 4861 §4.6.2), in order.

        One whose Length is not 4 or whose Prefix Length exceeds 128 cannot be read and is left
        out, the others kept: RFC 4862 §5.5.3 processes "each Prefix-Information option", and one
        that can form no address "MUST be ignored" -- that option, not the advertisement. Linux's
        addrconf_prefix_rcv() likewise ignores a "prefix option too short".
        """
        infos: list[PrefixInfo] = []
        for opt in self.options:
            if opt.type == NDPOptionType.PREFIX_INFORMATION:
                info = PrefixInfo.parse(opt.data)
                if not isinstance(info, Drop):
                    infos.append(info)
        return infos

    def mtu(self) -> int | Drop | None:
        """The MTU option's value (RFC 4861 §4.6.4), None when absent, Drop when not Length 1."""
        opt = self.find(NDPOptionType.MTU)
        if opt is None:
            return None
        if len(opt.data) != MTU_DATA_LEN:
            return Drop.NDP_BAD_MTU_OPTION
        return int(struct.unpack_from("!I", opt.data, 2)[0])

    def route_infos(self) -> list[RouteInfo]:
        """Every valid Route Information option (RFC 4191 §2.3), in order; invalid ones are
        left out, since RFC 4191 says an invalid option "MUST be ignored" (not the whole RA)."""
        infos: list[RouteInfo] = []
        for opt in self.options:
            if opt.type == NDPOptionType.ROUTE_INFORMATION:
                info = RouteInfo.parse(opt.data)
                if info is not None:
                    infos.append(info)
        return infos

    def nonce(self) -> bytes | None:
        """The Nonce option's nonce (RFC 7527 §4.2, format RFC 3971 §5.3.2), None when absent."""
        opt = self.find(NDPOptionType.NONCE)
        return None if opt is None else opt.data


@dataclass(frozen=True, slots=True)
class PrefixInfo:  # RFC 4861 §4.6.2
    prefix_len: int
    on_link: bool
    autonomous: bool
    valid_lifetime_s: int  # 0xffffffff = infinity
    preferred_lifetime_s: int
    prefix: IPv6Address

    @classmethod
    def parse(cls, data: bytes) -> PrefixInfo | Drop:
        """From the option data after Type and Length."""
        if len(data) != PREFIX_INFO_DATA_LEN:
            return Drop.NDP_BAD_PREFIX_OPTION
        prefix_len, flags, valid, preferred = struct.unpack_from("!BBII", data)
        # §4.6.2: "Prefix Length 8-bit unsigned integer. The number of leading bits in the
        # Prefix that are valid. The value ranges from 0 to 128."
        if prefix_len > 128:
            return Drop.NDP_BAD_PREFIX_OPTION
        prefix = IPv6Address(data[14:30])
        return cls(prefix_len, bool(flags & _ON_LINK), bool(flags & _AUTONOMOUS), valid, preferred, prefix)

    def option(self) -> NDPOption:
        flags = (_ON_LINK if self.on_link else 0) | (_AUTONOMOUS if self.autonomous else 0)
        data = struct.pack("!BBIII", self.prefix_len, flags, self.valid_lifetime_s, self.preferred_lifetime_s, 0)
        return NDPOption(NDPOptionType.PREFIX_INFORMATION, data + self.prefix.packed)


@dataclass(frozen=True, slots=True)
class RouteInfo:  # RFC 4191 §2.3
    prefix_len: int
    preference: int  # PREF_HIGH, PREF_MEDIUM or PREF_LOW
    lifetime_s: int  # 0xffffffff = infinity
    prefix: IPv6Address

    @classmethod
    def parse(cls, data: bytes) -> RouteInfo | None:
        """From the option data after Type and Length; None when the option must be ignored."""
        if len(data) not in (6, 14, 22):
            # RFC 4191 §2.3: "The Length field is 1, 2, or 3 depending on the Prefix Length."
            return None
        prefix_len, flags, lifetime = struct.unpack_from("!BBI", data)
        length = (len(data) + 2) // 8
        # RFC 4191 §2.3: "The value ranges from 0 to 128." "If Prefix Length is greater than
        # 64, then Length must be 3. If Prefix Length is greater than 0, then Length must be 2
        # or 3."
        if prefix_len > 128 or (prefix_len > 64 and length != 3) or (prefix_len > 0 and length < 2):
            return None
        prf = (flags >> 3) & 0b11
        # RFC 4191 §2.3: "If the Reserved (10) value is received, the Route Information Option
        # MUST be ignored."
        if prf == _PRF_RESERVED:
            return None
        raw = bytes(data[6:]) + bytes(22 - len(data))
        # RFC 4191 §2.3: "The bits in the prefix after the prefix length are reserved and MUST
        # be initialized to zero by the sender and ignored by the receiver."
        value = int.from_bytes(raw, "big")
        if prefix_len < 128:
            value &= ~((1 << (128 - prefix_len)) - 1) & ((1 << 128) - 1)
        return cls(prefix_len, _PRF_BITS[prf], lifetime, IPv6Address(value))

    def option(self) -> NDPOption:
        """Encoded with the shortest Length that holds ``prefix_len`` bits."""
        octets = 0 if self.prefix_len == 0 else 8 if self.prefix_len <= 64 else 16
        flags = _PRF_ENCODE[self.preference] << 3
        data = struct.pack("!BBI", self.prefix_len, flags, self.lifetime_s) + self.prefix.packed[:octets]
        return NDPOption(NDPOptionType.ROUTE_INFORMATION, data)


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


@dataclass(frozen=True, slots=True)
class RouterSolicit:  # RFC 4861 §4.1
    TYPE: ClassVar[int] = ICMPv6Type.ROUTER_SOLICIT
    options: NDPOptions = NDPOptions()

    @classmethod
    def parse(cls, body: memoryview) -> RouterSolicit | Drop:
        if len(body) < ROUTER_SOLICIT_BODY_LEN:
            return Drop.NDP_TRUNCATED
        options = NDPOptions.parse(body[ROUTER_SOLICIT_BODY_LEN:])
        return options if isinstance(options, Drop) else cls(options)

    def encode(self) -> bytes:
        return bytes(4) + self.options.encode()


@dataclass(frozen=True, slots=True)
class RouterAdvert:  # RFC 4861 §4.2, RFC 4191 §2.2 (preference)
    TYPE: ClassVar[int] = ICMPv6Type.ROUTER_ADVERT
    cur_hop_limit: int = 0
    managed: bool = False
    other: bool = False
    preference: int = PREF_MEDIUM
    router_lifetime_s: int = 0
    reachable_time_ms: int = 0
    retrans_timer_ms: int = 0
    options: NDPOptions = NDPOptions()

    @classmethod
    def parse(cls, body: memoryview) -> RouterAdvert | Drop:
        if len(body) < ROUTER_ADVERT_BODY_LEN:
            return Drop.NDP_TRUNCATED
        hop_limit, flags, lifetime, reachable, retrans = struct.unpack_from("!BBHII", body)
        options = NDPOptions.parse(body[ROUTER_ADVERT_BODY_LEN:])
        if isinstance(options, Drop):
            return options
        # RFC 4191 §2.2: "If the Reserved (10) value is received, the receiver MUST treat the
        # value as if it were (00)."
        preference = _PRF_BITS.get((flags >> 3) & 0b11, PREF_MEDIUM)
        return cls(
            hop_limit, bool(flags & _MANAGED), bool(flags & _OTHER), preference, lifetime, reachable, retrans, options
        )

    def encode(self) -> bytes:
        flags = (_MANAGED if self.managed else 0) | (_OTHER if self.other else 0)
        flags |= _PRF_ENCODE.get(self.preference, 0) << 3
        fixed = struct.pack(
            "!BBHII", self.cur_hop_limit, flags, self.router_lifetime_s, self.reachable_time_ms, self.retrans_timer_ms
        )
        return fixed + self.options.encode()


@dataclass(frozen=True, slots=True)
class Redirect:  # RFC 4861 §4.5
    TYPE: ClassVar[int] = ICMPv6Type.REDIRECT
    target: IPv6Address
    destination: IPv6Address
    options: NDPOptions = NDPOptions()

    @classmethod
    def parse(cls, body: memoryview) -> Redirect | Drop:
        if len(body) < REDIRECT_BODY_LEN:
            return Drop.NDP_TRUNCATED
        options = NDPOptions.parse(body[REDIRECT_BODY_LEN:])
        if isinstance(options, Drop):
            return options
        return cls(IPv6Address(bytes(body[4:20])), IPv6Address(bytes(body[20:36])), options)

    def encode(self) -> bytes:
        return bytes(4) + self.target.packed + self.destination.packed + self.options.encode()


NDPMessage = NeighborSolicit | NeighborAdvert | RouterSolicit | RouterAdvert | Redirect


def parse_message(icmp_type: int, body: memoryview) -> NDPMessage | Drop:
    """The NDP message of ``icmp_type`` (133-137) from the body after Type, Code, Checksum."""
    if icmp_type == ICMPv6Type.NEIGHBOR_SOLICIT:
        return NeighborSolicit.parse(body)
    if icmp_type == ICMPv6Type.NEIGHBOR_ADVERT:
        return NeighborAdvert.parse(body)
    if icmp_type == ICMPv6Type.ROUTER_SOLICIT:
        return RouterSolicit.parse(body)
    if icmp_type == ICMPv6Type.ROUTER_ADVERT:
        return RouterAdvert.parse(body)
    return Redirect.parse(body)


NDP_TYPES: Final = frozenset(
    {
        ICMPv6Type.ROUTER_SOLICIT,
        ICMPv6Type.ROUTER_ADVERT,
        ICMPv6Type.NEIGHBOR_SOLICIT,
        ICMPv6Type.NEIGHBOR_ADVERT,
        ICMPv6Type.REDIRECT,
    }
)


def options_of(*opts: NDPOption | NDPOptions) -> NDPOptions:
    """Join options and option lists in order: options_of(source_link_option(mac), nonce_option(n))."""
    joined: list[NDPOption] = []
    for one in opts:
        joined.extend(one.options if isinstance(one, NDPOptions) else (one,))
    return NDPOptions(tuple(joined))


def nonce_option(nonce: bytes) -> NDPOptions:
    """RFC 7527 §4.2: a Nonce option (RFC 3971 §5.3.2) for a DAD Neighbor Solicitation.
    Pass NONCE_LEN (6) octets so it fills one 8-octet unit exactly."""
    return NDPOptions((NDPOption(NDPOptionType.NONCE, nonce),))


def mtu_option(mtu: int) -> NDPOptions:
    return NDPOptions((NDPOption(NDPOptionType.MTU, struct.pack("!HI", 0, mtu)),))


def redirected_header_option(packet: bytes) -> NDPOptions:
    """RFC 4861 §4.6.3; ``packet`` should already be cut to fit the minimum MTU."""
    return NDPOptions((NDPOption(NDPOptionType.REDIRECTED_HEADER, bytes(REDIRECTED_HEADER_RESERVED) + packet),))


def source_link_option(mac: bytes) -> NDPOptions:
    return NDPOptions((NDPOption(NDPOptionType.SOURCE_LINK_ADDRESS, mac),))


def target_link_option(mac: bytes) -> NDPOptions:
    return NDPOptions((NDPOption(NDPOptionType.TARGET_LINK_ADDRESS, mac),))
