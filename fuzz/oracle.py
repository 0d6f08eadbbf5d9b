"""Independent judges of what the stack emits: Scapy dissection (always) and tshark (when
installed, batched: one tshark run over a pcap of many frames).

A frame is well formed when Scapy dissects every layer it should (no Raw where a protocol the
stack speaks should be, no Padding: the stack sizes its frames exactly), and rebuilding it with
every checksum and length field recomputed by Scapy gives back the same octets. Quoted packets
inside ICMP errors are truncated by design, so the rebuild stops at the quote.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import scapy.layers.igmp  # noqa: F401  (binds IGMP v1-v3 to IP protocol 2; not loaded by default)
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import IPv6, _ICMPv6Error
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Padding, Raw
from scapy.utils import wrpcap

from fuzz.strategies.wire import inet_checksum, pseudo_header
from fuzz.target import DUT_MAC

_RECOMPUTED = ("chksum", "cksum", "len", "plen")
# Layers whose "len" is a length Scapy computes; elsewhere (NDP options, extension headers) a
# None len is not recomputed faithfully (NDP options encode 0), so it is kept.
_LENGTH_LAYERS = (IP, UDP, IPv6)
_KNOWN_IP_PROTOCOLS = {1, 2, 17, 58, 0, 43, 44, 60, 59}
_QUOTE_NAMES = ("IPerror", "IPerror6", "UDPerror", "ICMPerror", "TCPerror")


def _is_quote(layer: Packet) -> bool:
    return type(layer).__name__ in _QUOTE_NAMES


def frame_problems(raw: bytes) -> list[str]:
    """What is wrong with one frame the stack emitted (empty list: nothing)."""
    problems: list[str] = []
    pkt = Ether(raw)
    if pkt.src != ":".join(f"{b:02x}" for b in DUT_MAC):
        problems.append(f"Ethernet source {pkt.src} is not the DUT's MAC")
    layer: Packet | None = pkt.payload
    while layer is not None and not isinstance(layer, Raw) and layer.name != "NoPayload":
        if _is_quote(layer):
            break  # a quoted datagram keeps whatever octets the invoking one had (even trailing ones)
        if isinstance(layer, Padding):
            problems.append(f"trailing octets after the packet: {bytes(layer)!r}")
            break
        nxt = layer.payload
        if isinstance(nxt, Raw) and not isinstance(layer, (UDP, ICMP, _ICMPv6Error, ARP)):
            proto = getattr(layer, "proto", getattr(layer, "nh", None))
            if isinstance(layer, (IP, IPv6)) or proto in _KNOWN_IP_PROTOCOLS:
                problems.append(f"{layer.name} is followed by undissectable octets {bytes(nxt)[:16].hex()}")
        layer = nxt if nxt.name != "NoPayload" else None
    if problems:
        return problems
    rebuilt = Ether(raw)
    quote_problem = _freeze_quote(rebuilt, raw)
    if quote_problem:
        problems.append(quote_problem)
    layer = rebuilt
    while layer is not None and layer.name != "NoPayload" and not _is_quote(layer) and not isinstance(layer, Raw):
        for name in _RECOMPUTED:
            if name in layer.fields and (name != "len" or isinstance(layer, _LENGTH_LAYERS)):
                setattr(layer, name, None)  # setattr, not .fields: it drops the cached raw octets
        layer = layer.payload
    again = bytes(rebuilt)
    if again != raw:
        first = next((i for i, (a, b) in enumerate(zip(again, raw, strict=False)) if a != b), min(len(again), len(raw)))
        problems.append(f"Scapy recomputes different checksum/length octets from offset {first}: "
                        f"{raw[first:first + 8].hex()} should be {again[first:first + 8].hex()}")
    return problems


def _freeze_quote(pkt: Packet, raw: bytes) -> str | None:
    """For an ICMP error, replace the ICMP message (header and quote) by its original octets and
    check its checksum independently; returns a problem or None. Scapy cannot rebuild a quote
    faithfully (IGMP's dissector adds a Router Alert option to the quoted header; RFC 4884
    extension handling rewrites ICMPv6 errors), so only the IP header is rebuilt by Scapy."""
    offset = _quote_offset(raw)
    layer = pkt
    while layer.name != "NoPayload" and not _is_quote(layer.payload.payload):
        layer = layer.payload
    if layer.name == "NoPayload" or offset is None:
        return None
    start = offset - 8  # the ICMP header
    message = raw[start:]
    if raw[12:14] == b"\x08\x00":
        ok = inet_checksum(message) == 0
    else:
        ok = inet_checksum(message, pseudo_header(raw[22:38], raw[38:54], 58, len(message))) == 0
    layer.remove_payload()
    layer.add_payload(Raw(message))
    return None if ok else f"ICMP error checksum is wrong: {message[2:4].hex()}"


def _quote_offset(raw: bytes) -> int | None:
    """Where an ICMP/ICMPv6 error's quoted datagram starts in an Ethernet frame."""
    ethertype = int.from_bytes(raw[12:14], "big")
    if ethertype == 0x0800:
        return 14 + (raw[14] & 0x0F) * 4 + 8
    if ethertype != 0x86DD:
        return None
    nh, off = raw[20], 54
    while nh in (0, 43, 60, 44) and off + 8 <= len(raw):
        nh, off = raw[off], off + (8 if nh == 44 else (raw[off + 1] + 1) * 8)
    return off + 8 if nh == 58 else None


def tshark_path() -> str | None:
    return shutil.which("tshark")


def is_icmp_error(raw: bytes) -> bool:
    pkt = Ether(raw)
    return (ICMP in pkt and pkt[ICMP].type in (3, 4, 5, 11, 12)) or any(
        issubclass(cls, _ICMPv6Error) for cls in pkt.layers())


def tshark_problems(frames: list[bytes]) -> list[str]:
    """One tshark run over all ``frames``: frames it finds malformed or with error-level expert
    info (checksum validation switched on). Needs tshark (the caller checks ``tshark_path()``).

    ICMP errors are left out: tshark dissects the quoted packet too and rightly complains about
    the malformed input it quotes (a bad inner checksum or routing header is why the error was
    sent); frame_problems() judges their own headers and checksums."""
    frames = [f for f in frames if not is_icmp_error(f)]
    if not frames:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "emitted.pcap"
        wrpcap(str(pcap), [Ether(f) for f in frames])
        cmd = [tshark_path() or "tshark", "-n", "-r", str(pcap),
               "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
               "-Y", "_ws.malformed || _ws.expert.severity >= error",
               "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        return [f"tshark failed ({out.returncode}): {out.stderr.strip()[:300]}"]
    problems = []
    for line in out.stdout.splitlines():
        number, _, message = line.partition("\t")
        if number.strip():
            problems.append(f"frame {number}: {message} -- {frames[int(number) - 1].hex()}")
    return problems
