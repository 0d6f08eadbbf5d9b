"""The shape of a stimulus: the few things about it that decide which code of a stack handles it.

``ipv6 hbh/dst icmpv6/128 to=DUT6``: the family, the IPv4 options or IPv6 extension headers
present, the upper-layer message, and the roles of the addresses (the source only when it is not
the tester). Field values below that (an option's length, a checksum) are left out on purpose: a
cluster is named by its shape, and the stimulus Hypothesis shrank it to shows the fault itself.
Fragment plans are named by their faults (overlap, duplicate, gap, mixed identifications).
"""

from __future__ import annotations

import ipaddress
import struct

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from fuzz.differential.stimulus import Stimulus
from fuzz.differential.symbols import Symbols

_EXTENSIONS = {0: "hbh", 43: "rh", 44: "frag", 60: "dst", 51: "ah"}


def kind_of(stimulus: Stimulus, symbols: Symbols) -> str:
    """The coarse kind a finding is named with: the family of the stimulus, and where it was
    sent when that is not simply the DUT (``ipv4 l2=bcast``, ``ipv6 to=other``)."""
    frame = stimulus.frames[0]
    parts = [stimulus.kind]
    l2 = symbols.mac(":".join(f"{b:02x}" for b in frame[:6]))
    if l2 != "DUT":
        parts.append(f"l2={'bcast' if l2 == 'bcast' else 'mcast' if l2.startswith('mcast') else 'other'}")
    dst = _destination(frame)
    if dst is not None:
        role = symbols.address(dst)
        if role not in ("DUT4", "DUT6", "DUT_LL"):
            group = role in ("bcast", "subnet-bcast") or role.startswith(("sn(", "all-", "mldv2", "igmpv3", "v4-mult",
                                                                        "v6-mult"))
            parts.append(f"to={'bcast' if 'bcast' in role else 'group' if group else 'other'}")
    return " ".join(parts)


def _destination(frame: bytes) -> str | None:
    ethertype = struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
    if ethertype == 0x0800 and len(frame) >= 34:
        return ".".join(str(b) for b in frame[30:34])
    if ethertype == 0x86DD and len(frame) >= 54:
        return str(ipaddress.IPv6Address(frame[38:54]))
    return None


def shape_of(stimulus: Stimulus, symbols: Symbols) -> str:
    if stimulus.kind.startswith("fragments"):
        return _fragment_plan(stimulus)
    frame = stimulus.frames[0]
    l2 = symbols.mac(":".join(f"{b:02x}" for b in frame[:6]))
    link = "" if l2 == "DUT" else f" l2={'bcast' if l2 == 'bcast' else 'mcast' if l2.startswith('mcast') else 'other'}"
    try:
        text = _frame(Ether(frame), symbols)
    except Exception:
        return f"{stimulus.kind} undecodable{link}"
    return text + link


def _frame(eth: Packet, symbols: Symbols) -> str:
    if eth.type == 0x0806 and ARP in eth:
        arp = eth[ARP]
        odd = "" if (arp.hwtype, arp.ptype) == (1, 0x0800) else f" htype={arp.hwtype} ptype={arp.ptype:#06x}"
        return f"arp op={arp.op}{odd}"
    if eth.type == 0x0800 and IP in eth:
        ip = eth[IP]
        raw = bytes(ip)
        ihl = (raw[0] & 0x0F) * 4
        parts = ["ipv4"]
        if ihl > 20:
            parts.append(f"options({_option_names(raw[20:ihl])})")
        if int(ip.flags) & 1 or ip.frag:
            parts.append("fragment")
        body = raw[ihl:]
        parts.append({1: f"icmp/{body[0] if body else '-'}", 2: f"igmp/{body[0]:#04x}" if body else "igmp",
                      17: "udp"}.get(int(ip.proto), f"proto{ip.proto}"))
        return " ".join(parts + _roles(symbols, ip.src, ip.dst, ip.src == str(symbols.info.tester_ipv4)))
    if eth.type == 0x86DD and IPv6 in eth:
        raw = bytes(eth[IPv6])
        nh, at, chain = raw[6], 40, []
        while nh in _EXTENSIONS and at + 8 <= len(raw):
            name = _EXTENSIONS[nh]
            if nh == 43:
                name += str(raw[at + 2])  # the routing type decides who recognises it (RFC 8200 4.4)
            if nh == 44:
                nh, at = raw[at], at + 8
            else:
                size = (raw[at + 1] + 2) * 4 if nh == 51 else (raw[at + 1] + 1) * 8
                if nh in (0, 60) and _padding_run(raw[at + 2 : at + size]) > 7:
                    name += "+pad>7"  # RFC 8504 5.3 lets a host refuse long runs of padding
                nh, at = raw[at], at + size
            chain.append(name)
        upper = f"icmpv6/{raw[at]}" if nh == 58 and at < len(raw) else {17: "udp", 59: "no-next"}.get(nh, f"nh{nh}")
        tester = eth[IPv6].src in (str(symbols.info.tester_ipv6), str(symbols.info.tester_ipv6_ll))
        plen = struct.unpack_from("!H", raw, 4)[0]
        # A Payload Length of 0 (a would-be jumbogram, RFC 2675) or past the frame's end.
        length = ["plen=0"] if plen == 0 else ["plen>frame"] if 40 + plen > len(raw) else []
        return " ".join(["ipv6", *length, *(["/".join(chain)] if chain else []), upper,
                         *_roles(symbols, eth[IPv6].src, eth[IPv6].dst, tester)])
    return f"ethertype {eth.type:#06x}"


_OPTION_NAMES = {0: "eol", 1: "nop", 7: "rr", 68: "ts", 130: "sec", 131: "lsrr", 137: "ssrr", 148: "ra", 136: "sid"}


def ipv4_option_kinds(options: bytes) -> tuple[list[int], bool]:
    """The option types of an IPv4 option list in order (RFC 791 3.1), up to End of Option List,
    and whether the list breaks (a length that runs past the end or is below 2)."""
    kinds: list[int] = []
    at = 0
    while at < len(options):
        kind = options[at]
        kinds.append(kind)
        if kind == 0:
            break
        if kind == 1:
            at += 1
            continue
        if at + 1 >= len(options) or options[at + 1] < 2:
            return kinds, True
        at += options[at + 1]
    return kinds, False


def _option_names(options: bytes) -> str:
    """The IPv4 options by name, in order (RFC 791 3.1), ``bad`` where the list breaks."""
    kinds, broken = ipv4_option_kinds(options)
    return ",".join([_OPTION_NAMES.get(kind, f"{kind:#04x}") for kind in kinds] + (["bad"] if broken else []))


def _padding_run(options: bytes) -> int:
    """The longest run of Pad1/PadN octets in an options area (RFC 8200 4.2)."""
    run = longest = at = 0
    while at < len(options):
        kind = options[at]
        size = 1 if kind == 0 else (options[at + 1] + 2 if at + 1 < len(options) else 1)
        run = run + size if kind in (0, 1) else 0
        longest = max(longest, run)
        at += size
    return longest


def _roles(symbols: Symbols, src: str, dst: str, from_tester: bool) -> list[str]:
    roles = [f"to={symbols.address(dst)}"]
    if not from_tester:
        roles.append(f"from={symbols.address(src)}")
    return roles


def _fragment_plan(stimulus: Stimulus) -> str:
    """``fragments6 overlap+dup``: the faults of the plan, read back from its pieces."""
    pieces = []
    for frame in stimulus.frames:
        l3 = frame[14:]
        if frame[12:14] == b"\x08\x00":
            ihl = (l3[0] & 0x0F) * 4
            ident, ff = struct.unpack_from("!HH", l3, 4)
            total = struct.unpack_from("!H", l3, 2)[0]
            pieces.append((ident, (ff & 0x1FFF) * 8, total - ihl, bool(ff & 0x2000)))
        else:
            off_m, ident = struct.unpack_from("!HI", l3, 42)
            pieces.append((ident, off_m & 0xFFF8, len(l3) - 48, bool(off_m & 1)))
    faults = []
    spans = [(off, off + size) for _, off, size, _ in pieces]
    if len(set(spans)) < len(spans):
        faults.append("duplicate")
    if any(a[0] < b[1] and b[0] < a[1] and a != b for i, a in enumerate(spans) for b in spans[i + 1 :]):
        faults.append("overlap")
    if len({ident for ident, *_ in pieces}) > 1:
        faults.append("mixed-ids")
    covered = sorted(set(spans))
    end = max((e for (_, _, _, more), (_, e) in zip(pieces, spans, strict=True) if not more), default=None)
    reach = 0
    for start, stop in covered:
        if start > reach:
            break
        reach = max(reach, stop)
    if end is None or reach < end:
        faults.append("incomplete")
    if spans != sorted(spans):
        faults.append("out-of-order")
    return f"{stimulus.kind} {'+'.join(faults) or 'clean'}"
