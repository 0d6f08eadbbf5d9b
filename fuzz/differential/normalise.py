"""What a DUT answered, with what may legitimately differ between two RFC-abiding stacks taken out.

Each frame a DUT emits within a stimulus's window becomes a ``Token``: ``kind`` says what the
frame is and does (``ICMPv6 param-problem/2 ptr=hbh.opt(0x9e).type quote=max``), ``detail``
holds what only this stimulus can tell (a digest of echoed data). Two DUTs answered alike when
their tokens are equal as multisets. Taken out, each for a reason:

- the DUT's MAC and addresses: written as their role on the link (``symbols.py``);
- IPv4 Identification: RFC 6864 4.1 leaves it to the sender ("The IPv4 ID field MUST NOT be
  used for purposes other than fragmentation and reassembly"), so its value says nothing;
- IPv6 Flow Label: RFC 6437 3 lets a source choose any value ("Flow label values should be
  chosen such that their bits exhibit a high degree of variability");
- checksums: recomputed and written as ``bad-chksum`` only when wrong;
- the length of an ICMP error's quote: written as what the RFCs bound (RFC 1122 3.2.2: "at least
  the first 8 data octets ... more than 8 octets MAY be sent"; RFC 4443 2.4(c): "as much of
  invoking packet as possible without the ICMPv6 packet exceeding the minimum IPv6 MTU");
- a Parameter Problem pointer: written as the field it points at (``fields.py``);
- the order of frames: tokens are sorted, as independent answers may leave in any order;
- IPv4 options an answer carries: written as their types (a Timestamp's values are the DUT's clock);
- a TOS / Traffic Class copied from the stimulus: written as ``as-stimulus``.
Rate limits are switched off on every DUT and timing is bounded by the window, not compared.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from scapy.layers.inet import IP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from fuzz.differential.fields import field_at
from fuzz.differential.shape import ipv4_option_kinds
from fuzz.differential.stimulus import Stimulus
from fuzz.differential.symbols import Symbols
from fuzz.strategies.wire import inet_checksum, pseudo_header

MAX_TOKENS: Final = 40  # per DUT and stimulus; a storm is summarised, not listed
IPV4_MIN_QUOTE: Final = 8  # RFC 1122 3.2.2: "at least the first 8 data octets"
IPV6_MIN_MTU: Final = 1280  # RFC 8200 5
ICMPV4_NAMES: Final = {0: "echo-reply", 3: "dest-unreach", 4: "source-quench", 5: "redirect", 8: "echo-request",
                       11: "time-exceeded", 12: "param-problem", 13: "timestamp", 14: "timestamp-reply",
                       17: "mask-request", 18: "mask-reply"}
ICMPV6_NAMES: Final = {1: "dest-unreach", 2: "packet-too-big", 3: "time-exceeded", 4: "param-problem",
                       128: "echo-request", 129: "echo-reply", 130: "mld-query", 131: "mldv1-report",
                       132: "mld-done", 133: "rs", 134: "ra", 135: "ns", 136: "na", 137: "redirect",
                       143: "mldv2-report"}
_EXT_NAMES: Final[dict[type[Packet], str]] = {IPv6ExtHdrHopByHop: "hbh", IPv6ExtHdrDestOpt: "dst", IPv6ExtHdrRouting: "rh",
                     IPv6ExtHdrFragment: "frag"}


class Token(NamedTuple):
    """One frame a DUT emitted. ``kind`` is the message (``IPv6/ICMPv6 param-problem/2``),
    ``attrs`` what the RFCs let us compare about it, ``detail`` a digest of what only this
    stimulus can tell (data carried back), compared between DUTs but never shown as a cluster."""

    kind: str
    attrs: tuple[tuple[str, str], ...] = ()
    detail: str = ""

    def __str__(self) -> str:
        return " ".join([self.kind, *(f"{k}={v}" for k, v in self.attrs)])

    @property
    def kind_class(self) -> str:
        """The message family an attribute difference is counted under: every ICMP error
        alike, so a choice that shows in all of them (a TOS value) is one finding."""
        family, _, message = self.kind.partition(" | ")
        name = message.split("/")[0]
        if name in ("ICMP dest-unreach", "ICMP source-quench", "ICMP redirect", "ICMP time-exceeded",
                    "ICMP param-problem", "ICMPv6 dest-unreach", "ICMPv6 packet-too-big",
                    "ICMPv6 time-exceeded", "ICMPv6 param-problem"):
            return f"{family} | {name.split()[0]} error"
        return self.kind


@dataclass(frozen=True)
class Context:
    """What the normaliser needs to know about the stimulus: its addresses and its IP packets."""

    addresses: dict[str, str]  # "src"/"dst" of the first IP frame
    packets: tuple[bytes, ...]  # the IP packets sent (trimmed to their own length)
    echo_data: dict[tuple[int, int], bytes]  # (id, seq) of whole echo requests -> their data
    tos: int | None = None  # the TOS / Traffic Class octet of the first IP frame

    @classmethod
    def of(cls, stimulus: Stimulus) -> Context:
        addresses: dict[str, str] = {}
        tos: int | None = None
        packets: list[bytes] = []
        echo: dict[tuple[int, int], bytes] = {}
        for frame in stimulus.frames:
            l3 = _ip_packet(frame)
            if l3 is None:
                continue
            packets.append(l3)
            if not addresses:
                addresses = _addresses(l3)
                tos = l3[1] if l3[0] >> 4 == 4 else (struct.unpack_from("!H", l3, 0)[0] >> 4) & 0xFF
            key_data = _echo_request(l3)
            if key_data is not None:
                echo[key_data[0]] = key_data[1]
        return cls(addresses, tuple(packets), echo, tos)


def normalise(frames: Iterable[bytes], ctx: Context, symbols: Symbols) -> tuple[Token, ...]:
    """The sorted tokens of the frames one DUT emitted; never raises."""
    tokens = sorted(describe(frame, ctx, symbols) for frame in frames)
    if len(tokens) > MAX_TOKENS:
        tokens = [*tokens[:MAX_TOKENS], Token(f"... {len(tokens) - MAX_TOKENS} more frames")]
    return tuple(tokens)


Attrs = list[tuple[str, str]]


def describe(frame: bytes, ctx: Context, symbols: Symbols) -> Token:
    try:
        eth = Ether(frame)
    except Exception:
        return Token("undecodable", (), _digest(frame))
    link: Attrs = []
    if symbols.mac(eth.src) != "DUT":
        link.append(("l2src", symbols.mac(eth.src)))
    if symbols.mac(eth.dst) not in ("TESTER", "mcast4", "mcast6", "bcast"):
        link.append(("l2dst", symbols.mac(eth.dst)))
    try:
        if ARP in eth:
            kind, attrs, detail = _arp(eth[ARP], symbols)
        elif IP in eth and eth.type == 0x0800:
            kind, attrs, detail = _ipv4(eth[IP], ctx, symbols)
        elif IPv6 in eth and eth.type == 0x86DD:
            kind, attrs, detail = _ipv6(eth[IPv6], ctx, symbols)
        else:
            kind, attrs, detail = f"ethertype {eth.type:#06x}", [], _digest(frame)
    except Exception as exc:  # a frame Scapy dissects but cannot walk is itself worth seeing
        kind, attrs, detail = f"ethertype {eth.type:#06x} | undecodable ({type(exc).__name__})", [], _digest(frame)
    return Token(kind, tuple(attrs + link), detail)


# ---- ARP and IPv4 ----------------------------------------------------------------------------
def _arp(arp: Packet, symbols: Symbols) -> tuple[str, Attrs, str]:
    op = {1: "request", 2: "reply"}.get(int(arp.op), f"op{arp.op}")
    return f"ARP | {op}", [("sender", f"{symbols.mac(arp.hwsrc)}/{symbols.address(arp.psrc)}"),
                           ("target", f"{symbols.mac(arp.hwdst)}/{symbols.address(arp.pdst)}")], ""


def _ipv4(ip: Packet, ctx: Context, symbols: Symbols) -> tuple[str, Attrs, str]:
    raw = bytes(ip)
    ihl = (raw[0] & 0x0F) * 4
    total = struct.unpack_from("!H", raw, 2)[0]
    attrs: Attrs = [("src", symbols.address(ip.src, ctx.addresses)), ("dst", symbols.address(ip.dst, ctx.addresses)),
                    ("ttl", str(ip.ttl)), ("tos", _relative(ip.tos, ctx.tos))]
    flags = int(ip.flags)
    if flags & 2:
        attrs.append(("df", "1"))
    if ihl > 20:
        attrs.append(("options", _option_types(raw[20:ihl])))
    if inet_checksum(raw[:ihl]) != 0:
        attrs.append(("ip-chksum", "bad"))
    body = raw[ihl:total]
    if flags & 1 or ip.frag:  # a fragment of a longer answer: its payload is not a whole message
        attrs.append(("fragment", f"off={ip.frag * 8},mf={flags & 1}"))
        return "IPv4 | fragment", attrs, _digest(body)
    if ip.proto == 1:
        kind, more, detail = _icmpv4(body, ctx)
        if len(raw) > 576 and kind.split("/")[0] in ERROR_NAMES:
            # RFC 1812 4.3.2.3: "SHOULD NOT ... exceed 576 bytes"; RFC 1122 3.2.2 for hosts.
            more.append(("len", ">576"))
    elif ip.proto == 2:
        kind, more, detail = _igmp(body, symbols, ctx)
    elif ip.proto == 17:
        kind, more, detail = _udp(body, raw[12:16], raw[16:20])
    else:
        kind, more, detail = f"proto {ip.proto}", [], _digest(body)
    return f"IPv4 | {kind}", attrs + more, detail


ERROR_NAMES: Final = frozenset({"ICMP dest-unreach", "ICMP source-quench", "ICMP redirect", "ICMP time-exceeded",
                                "ICMP param-problem"})


def _icmpv4(body: bytes, ctx: Context) -> tuple[str, Attrs, str]:
    if len(body) < 8:
        return f"ICMP truncated({len(body)})", [], body.hex()
    kind, code = body[0], body[1]
    text = f"ICMP {ICMPV4_NAMES.get(kind, f'type{kind}')}/{code}"
    attrs: Attrs = [("chksum", "bad")] if inet_checksum(body) != 0 else []
    if kind == 0:
        # The code of an Echo Reply is an attribute, not its identity: a DUT that copies the
        # request's code still sent the reply (RFC 792: "Code 0").
        more, detail = _echo_reply(body, ctx)
        return "ICMP echo-reply", [("code", str(code)), *attrs, *more], detail
    if kind in (3, 4, 5, 11, 12):
        quote = body[8:]
        attrs.append(("quote", _quote_class4(quote, ctx)))
        if kind == 12:
            attrs.append(("ptr", field_at(_closest(quote, ctx), body[4])))
        if kind == 3 and code == 4:
            attrs.append(("mtu", str(struct.unpack_from("!H", body, 6)[0])))
        return text, attrs, ""
    return text, attrs, _digest(body[4:])


def _quote_class4(quote: bytes, ctx: Context) -> str:
    invoking = _invoking(quote, ctx)
    if invoking is None:
        return "other"
    if len(quote) >= len(invoking):
        return "whole"
    ihl = (invoking[0] & 0x0F) * 4
    return "head" if len(quote) >= ihl + IPV4_MIN_QUOTE else "short"


def _igmp(body: bytes, symbols: Symbols, ctx: Context) -> tuple[str, Attrs, str]:
    if len(body) < 8:
        return f"IGMP truncated({len(body)})", [], body.hex()
    kind = body[0]
    attrs: Attrs = [("chksum", "bad")] if inet_checksum(body) != 0 else []
    names = {0x11: "query", 0x12: "v1-report", 0x16: "v2-report", 0x17: "leave", 0x22: "v3-report"}
    name = f"IGMP {names.get(kind, f'type{kind:#04x}')}"
    if kind != 0x22:
        group = ".".join(str(b) for b in body[4:8])
        return name, [("group", symbols.address(group, ctx.addresses)), *attrs], ""
    count = struct.unpack_from("!H", body, 6)[0]
    records, at = [], 8
    for _ in range(min(count, 16)):
        if at + 8 > len(body):
            break
        rtype, aux, nsrc = body[at], body[at + 1], struct.unpack_from("!H", body, at + 2)[0]
        group = ".".join(str(b) for b in body[at + 4 : at + 8])
        records.append(f"{rtype}:{symbols.address(group, ctx.addresses)}/{nsrc}")
        at += 8 + 4 * nsrc + 4 * aux
    return name, [("records", " ".join(sorted(records))), *attrs], ""


def _udp(body: bytes, src: bytes, dst: bytes) -> tuple[str, Attrs, str]:
    if len(body) < 8:
        return f"UDP truncated({len(body)})", [], body.hex()
    sport, dport, length, csum = struct.unpack_from("!HHHH", body)
    attrs: Attrs = [("ports", f"{sport}>{dport}")]
    if length != len(body):
        attrs.append(("len", str(length)))
    if csum and inet_checksum(body, pseudo_header(src, dst, 17, len(body))) != 0:
        attrs.append(("chksum", "bad"))
    return "UDP", attrs, _digest(body[8:])


# ---- IPv6 ------------------------------------------------------------------------------------
def _ipv6(ip: Packet, ctx: Context, symbols: Symbols) -> tuple[str, Attrs, str]:
    raw = bytes(ip)
    plen = struct.unpack_from("!H", raw, 4)[0]
    raw = raw[: 40 + plen]
    attrs: Attrs = [("src", symbols.address(ip.src, ctx.addresses)), ("dst", symbols.address(ip.dst, ctx.addresses)),
                    ("hlim", str(ip.hlim)), ("tc", _relative(ip.tc, ctx.tos))]
    layer, chain, fragment = ip.payload, [], False
    while type(layer) in _EXT_NAMES:
        name = _EXT_NAMES[type(layer)]
        if isinstance(layer, IPv6ExtHdrHopByHop | IPv6ExtHdrDestOpt):
            opts = [f"{int(o.otype):#04x}" for o in layer.options if int(o.otype) not in (0, 1)]
            name += f"({','.join(opts)})" if opts else ""
        if isinstance(layer, IPv6ExtHdrFragment):
            name += f"(off={int(layer.offset) * 8},m={int(layer.m)})"
            fragment = fragment or bool(layer.offset)
        chain.append(name)
        layer = layer.payload
    if chain:
        attrs.append(("ext", "/".join(chain)))
    upper = bytes(layer)
    nh = int(getattr(layer.underlayer, "nh", 59)) if layer.underlayer is not None else 59
    if fragment:
        return "IPv6 | fragment", attrs, _digest(upper)
    if nh == 58:
        kind, more, detail = _icmpv6(upper, raw[8:24], raw[24:40], ctx, symbols)
    elif nh == 17:
        kind, more, detail = _udp(upper, raw[8:24], raw[24:40])
    else:
        kind, more, detail = f"nh {nh}", [], _digest(upper)
    return f"IPv6 | {kind}", attrs + more, detail


def _icmpv6(body: bytes, src: bytes, dst: bytes, ctx: Context, symbols: Symbols) -> tuple[str, Attrs, str]:
    if len(body) < 4:
        return f"ICMPv6 truncated({len(body)})", [], body.hex()
    kind, code = body[0], body[1]
    text = f"ICMPv6 {ICMPV6_NAMES.get(kind, f'type{kind}')}/{code}"
    attrs: Attrs = [("chksum", "bad")] if inet_checksum(body, pseudo_header(src, dst, 58, len(body))) != 0 else []
    if kind == 129:  # RFC 4443 4.2: "Code 0"; an attribute, as for ICMPv4
        more, detail = _echo_reply(body, ctx)
        return "ICMPv6 echo-reply", [("code", str(code)), *attrs, *more], detail
    if kind < 128:
        quote = body[8:]
        invoking = _invoking(quote, ctx)
        if invoking is None:
            attrs.append(("quote", "other"))
        else:
            most = min(len(invoking), IPV6_MIN_MTU - 48)
            attrs.append(("quote", "max" if len(quote) == most else "short" if len(quote) < most else "long"))
        if kind == 4 and len(body) >= 8:
            attrs.append(("ptr", field_at(_closest(quote, ctx), struct.unpack_from("!I", body, 4)[0])))
        if kind == 2 and len(body) >= 8:
            attrs.append(("mtu", str(struct.unpack_from("!I", body, 4)[0])))
        return text, attrs, ""
    if kind in (135, 136, 137) and len(body) >= 24:
        attrs.append(("target", symbols.address(_v6(body[8:24]), ctx.addresses)))
        if kind == 136:
            attrs.append(("flags", "".join(f for f, bit in (("R", 0x80), ("S", 0x40), ("O", 0x20)) if body[4] & bit)))
        attrs += _ndp_options(body[24 if kind != 137 else 40 :], symbols)
        return text, attrs, ""
    if kind == 143 and len(body) >= 8:
        return text, [("records", _mldv2_records(body, symbols, ctx)), *attrs], ""
    if kind in (131, 132) and len(body) >= 24:
        return text, [("group", symbols.address(_v6(body[8:24]), ctx.addresses)), *attrs], ""
    if kind == 133:
        return text, attrs + _ndp_options(body[8:], symbols), ""
    return text, attrs, _digest(body[4:])


def _ndp_options(opts: bytes, symbols: Symbols) -> Attrs:
    names = []
    while len(opts) >= 2 and opts[1]:
        kind, size = opts[0], opts[1] * 8
        value = opts[2:size]
        if kind in (1, 2) and len(value) >= 6:
            names.append(f"{'slla' if kind == 1 else 'tlla'}:{symbols.mac(':'.join(f'{b:02x}' for b in value[:6]))}")
        else:
            names.append(f"opt{kind}")
        opts = opts[size:]
    return [("options", ",".join(names))] if names else []


def _mldv2_records(body: bytes, symbols: Symbols, ctx: Context) -> str:
    count = struct.unpack_from("!H", body, 6)[0]
    records, at = [], 8
    for _ in range(min(count, 16)):
        if at + 20 > len(body):
            break
        rtype, aux, nsrc = body[at], body[at + 1], struct.unpack_from("!H", body, at + 2)[0]
        records.append(f"{rtype}:{symbols.address(_v6(body[at + 4 : at + 20]), ctx.addresses)}/{nsrc}")
        at += 20 + 16 * nsrc + 4 * aux
    return " ".join(sorted(records))


# ---- shared --------------------------------------------------------------------------------
def _echo_reply(body: bytes, ctx: Context) -> tuple[Attrs, str]:
    """An echo reply carries the request's data back (RFC 792, RFC 4443 4.2). A request the
    context cannot see whole (fragmented, behind extension headers) is compared by digest."""
    ident, seq = struct.unpack_from("!HH", body, 4)
    data = ctx.echo_data.get((ident, seq))
    if data is None:
        return [("request", "not-whole-in-stimulus")], _digest(body[4:])
    if body[8:] == data:
        return [("data", "as-request")], ""
    return [("data", f"differs({len(body) - 8} of {len(data)})")], _digest(body[8:])


def _invoking(quote: bytes, ctx: Context) -> bytes | None:
    """The packet of the stimulus that ``quote`` is a prefix of (or the whole of)."""
    for packet in ctx.packets:
        if quote and (packet.startswith(quote) or quote.startswith(packet)):
            return packet
    return None


def _relative(value: int, stimulus: int | None) -> str:
    """A TOS / Traffic Class octet, written as "as-stimulus" when it is the stimulus's own (an echo
    reply may copy the request's, RFC 1122 3.2.2.6), so that stimuli drawn with different values
    show one behaviour once."""
    if value and value == stimulus:
        return "as-stimulus"
    return f"{value:#04x}"


def _option_types(options: bytes) -> str:
    """The types of the IPv4 options in an answer (their contents depend on the stimulus)."""
    kinds, broken = ipv4_option_kinds(options)
    return ",".join([f"{kind:#04x}" for kind in kinds] + (["malformed"] if broken else []))


def _closest(quote: bytes, ctx: Context) -> bytes:
    """The packet a pointer is read against: the stimulus's packet the quote shares the longest
    prefix with (a DUT may quote a header it updated before it found the fault, RFC 1812
    4.3.2.3), else the quote itself."""
    def common(packet: bytes) -> int:
        n = 0
        for a, b in zip(packet, quote, strict=False):
            if a != b:
                break
            n += 1
        return n

    best = max(ctx.packets, key=common, default=None)
    return best if best is not None and common(best) >= 12 else quote


def _ip_packet(frame: bytes) -> bytes | None:
    if len(frame) < 34:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    l3 = frame[14:]
    if ethertype == 0x0800 and l3[0] >> 4 == 4:
        total = struct.unpack_from("!H", l3, 2)[0]
        return l3[: max(total, 20)] if total <= len(l3) else l3
    if ethertype == 0x86DD and len(l3) >= 40 and l3[0] >> 4 == 6:
        plen = struct.unpack_from("!H", l3, 4)[0]
        return l3[: 40 + plen] if 0 < plen <= len(l3) - 40 else l3
    return None


def _addresses(l3: bytes) -> dict[str, str]:
    if l3[0] >> 4 == 4:
        return {"src": ".".join(map(str, l3[12:16])), "dst": ".".join(map(str, l3[16:20]))}
    return {"src": _v6(l3[8:24]), "dst": _v6(l3[24:40])}


def _echo_request(l3: bytes) -> tuple[tuple[int, int], bytes] | None:
    """((id, seq), data) of an unfragmented echo request in ``l3`` with no extension headers."""
    if l3[0] >> 4 == 4:
        ihl = (l3[0] & 0x0F) * 4
        frag = struct.unpack_from("!H", l3, 6)[0] & 0x3FFF
        if l3[9] == 1 and not frag and len(l3) >= ihl + 8 and l3[ihl] == 8:
            return struct.unpack_from("!HH", l3, ihl + 4), l3[ihl + 8 :]
        return None
    if l3[6] == 58 and len(l3) >= 48 and l3[40] == 128:
        return struct.unpack_from("!HH", l3, 44), l3[48:]
    return None


def _v6(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(raw))


def _digest(data: bytes) -> str:
    return f"{len(data)}#{zlib.crc32(data):08x}"
