"""Rules for every datagram and frame a host sends (RFC 791 §3.1-3.2, RFC 792, RFC 1122 §2.3,
§3.2.1.3, §3.2.1.7, §3.3.6, RFC 7126 §4.22.1), each checked over all the DUT sent in a broad
mix of traffic (``harness.traffic``: echo replies with and without options, fragments, ICMP
errors, UDP unicast, broadcast and multicast, ARP, IGMP, a TCP reset).

One test per rule: a DUT that breaks one rule fails that rule's test only. Each test first
asserts the mix made the DUT send the frames its rule is about, so a DUT that sends nothing
cannot pass.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Final

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet
from scapy.utils import checksum

from harness import DUT, MUST, described, rfc
from harness.traffic import ipv4_traffic

ZERO_NET: Final = IPv4Network("0.0.0.0/8")  # {0, 0} and {0, Host-number}, RFC 1122 3.2.1.3 (a), (b)
LOOPBACK: Final = IPv4Network("127.0.0.0/8")  # RFC 1122 3.2.1.3 (g)
# RFC 3692-style experiment option types (RFC 4727 2.5): copy flag, class and number 30.
EXPERIMENT_OPTIONS: Final = frozenset({30, 94, 158, 222})
ICMP_ERRORS: Final = frozenset({3, 11, 12})


def _datagrams(dut: DUT) -> list[Packet]:
    frames = ipv4_traffic(dut)
    datagrams = [f for f in frames if IP in f]
    kinds = {(d[IP].proto, d[ICMP].type if ICMP in d else None) for d in datagrams}
    # The mix's answers: echo replies, ICMP errors, UDP. Without them there is nothing to check.
    assert {(1, 0), (1, 3), (17, None)} <= kinds, f"the DUT answered too little of the traffic mix: {sorted(kinds, key=str)}"
    return datagrams


def _failures(datagrams: list[Packet], bad: list[Packet], rule: str) -> str:
    shown = "\n".join(f"  {d.summary()}" for d in bad[:10])
    return f"{len(bad)} of {len(datagrams)} datagrams the DUT sent break the rule: {rule}\n{shown}"


def _options(ip: Packet) -> bytes:
    return bytes(ip)[20 : ip.ihl * 4]


def _option_types(options: bytes) -> list[int]:
    types, i = [], 0
    while i < len(options) and options[i] != 0:
        types.append(options[i])
        i += 1 if options[i] == 1 else max(2, options[i + 1] if i + 1 < len(options) else 2)
    return types


@rfc("RFC791-3.1-4", quote="Bit 0: reserved, must be zero")
def test_reserved_flag_is_clear_in_every_datagram(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    bad = [d for d in datagrams if d[IP].flags.evil]
    assert not bad, _failures(datagrams, bad, "the reserved flag (bit 0) must be zero")


@rfc("RFC1122-3.2.1.7-1")
def test_no_datagram_has_ttl_zero(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    bad = [d for d in datagrams if d[IP].ttl == 0]
    assert not bad, _failures(datagrams, bad, "TTL 0")


@rfc("RFC1122-3.2.1.3-1", "RFC1122-3.2.1.3-2")
def test_no_datagram_uses_this_network_addresses(dut: DUT) -> None:
    # No initialization procedure runs (the DUT's address is configured), so neither {0, 0} nor
    # {0, Host-number} may appear, as source or destination.
    datagrams = _datagrams(dut)
    bad = [d for d in datagrams if IPv4Address(d[IP].src) in ZERO_NET or IPv4Address(d[IP].dst) in ZERO_NET]
    assert not bad, _failures(datagrams, bad, "an address of 0.0.0.0/8 ({0, 0} or {0, Host-number})")


@rfc("RFC1122-3.2.1.3-3", "RFC1122-3.2.1.3-4", "RFC1122-3.2.1.3-5", "RFC1122-3.2.1.3-6")
def test_no_datagram_has_a_broadcast_source(dut: DUT) -> None:
    # On the class C network 198.51.100.0/24 the Directed, Subnet Directed and All-Subnets
    # Directed Broadcasts are all 198.51.100.255; the Limited Broadcast is 255.255.255.255.
    forms = {"255.255.255.255", str(dut.info.dut_ipv4.network.broadcast_address)}
    datagrams = _datagrams(dut)
    assert any(d[IP].dst in forms for d in datagrams), "the DUT sent no broadcast at all: the check saw none"
    bad = [d for d in datagrams if d[IP].src in forms]
    assert not bad, _failures(datagrams, bad, f"a broadcast source ({', '.join(sorted(forms))})")


@rfc("RFC1122-3.2.1.3-7")
def test_no_datagram_carries_a_loopback_address(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    bad = [d for d in datagrams if IPv4Address(d[IP].src) in LOOPBACK or IPv4Address(d[IP].dst) in LOOPBACK]
    assert not bad, _failures(datagrams, bad, "an address of 127.0.0.0/8")


@rfc("RFC1122-3.2.1.3-9")
def test_every_datagram_comes_from_the_dut_address(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    mine = str(dut.info.dut_ipv4.ip)
    bad = [d for d in datagrams if d[IP].src != mine]
    assert not bad, _failures(datagrams, bad, f"the source must be the DUT's own address {mine}")


@rfc("RFC791-3.2-23")
def test_header_padding_is_zero(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    with_options = [d for d in datagrams if d[IP].ihl > 5]
    # The echo reply to the request with Record Route (11 octets) and Timestamp (12) needs padding.
    assert with_options, "the DUT sent no datagram with options: the check saw none"
    bad = []
    for d in with_options:
        options = _options(d[IP])
        i = 0
        while i < len(options) and options[i] != 0:
            i += 1 if options[i] == 1 else options[i + 1]
        if set(options[i:]) - {0}:
            bad.append(d)
    assert not bad, _failures(with_options, bad, "the header after the options must be filled with octets of zeros")


@rfc("RFC7126-4.22.1-1")
def test_no_datagram_carries_an_experiment_option(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    bad = [d for d in datagrams if EXPERIMENT_OPTIONS & set(_option_types(_options(d[IP])))]
    assert not bad, _failures(datagrams, bad, "an RFC 3692-style experiment option (type 30, 94, 158 or 222)")


@rfc("RFC792-MessageFormats-1", quote='Any field labeled "unused" is reserved for later extensions and must be zero when sent')
def test_unused_fields_of_icmp_errors_are_zero(dut: DUT) -> None:
    errors = [d for d in _datagrams(dut) if ICMP in d and d[ICMP].type in ICMP_ERRORS]
    assert errors, "the DUT sent no ICMP error: the check saw none"
    bad = []
    for e in errors:
        rest = bytes(e[ICMP])[4:8]
        kind, code = e[ICMP].type, e[ICMP].code
        # RFC 792: Destination Unreachable and Time Exceeded: 32 bits unused (RFC 1191 4 puts the
        # Next-Hop MTU in the low 16 bits of Fragmentation Needed); Parameter Problem: the
        # pointer octet, then 24 bits unused.
        unused = rest[1:] if kind == 12 else rest[:2] if (kind, code) == (3, 4) else rest
        if set(unused) - {0}:
            bad.append(e)
    assert not bad, _failures(errors, bad, 'the "unused" field must be zero when sent')


@described(792, "Destination Unreachable Message", MUST,
           "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message "
           "starting with the ICMP Type.")
def test_every_icmp_message_carries_a_valid_checksum(dut: DUT) -> None:
    messages = [d for d in _datagrams(dut) if ICMP in d and not d[IP].frag and not d[IP].flags.MF]
    assert any(m[ICMP].type in ICMP_ERRORS for m in messages), "the DUT sent no whole ICMP error: the check saw none"
    bad = [m for m in messages if checksum(bytes(m[IP])[m[IP].ihl * 4 : m[IP].len]) != 0]
    assert not bad, _failures(messages, bad, "an ICMP message's checksum must verify")


@rfc("RFC792-MessageFormats-2")
def test_icmp_messages_have_a_ttl_for_any_path(dut: DUT) -> None:
    messages = [d for d in _datagrams(dut) if ICMP in d]
    # The sender cannot know how many gateways a message will pass, so its TTL must cover the
    # longest path: RFC 1122 3.2.1.7 (discussion) "A fixed value must be at least big enough for
    # the Internet "diameter," i.e., the longest possible path." The value "Assigned Numbers"
    # gives for it (RFC 1700, IP TTL) is 64.
    bad = [m for m in messages if m[IP].ttl < 64]
    assert not bad, _failures(messages, bad, "ICMP messages need a TTL of at least 64 to cross any Internet path")


@rfc("RFC1122-3.3.6-4")
def test_link_layer_broadcasts_carry_a_broadcast_or_multicast_destination(dut: DUT) -> None:
    datagrams = _datagrams(dut)
    broadcasts = [d for d in datagrams if d[Ether].dst.lower() == "ff:ff:ff:ff:ff:ff"]
    assert broadcasts, "the DUT sent no datagram as a link-layer broadcast: the check saw none"
    legal = {"255.255.255.255", str(dut.info.dut_ipv4.network.broadcast_address)}
    bad = [d for d in broadcasts if d[IP].dst not in legal and not IPv4Address(d[IP].dst).is_multicast]
    assert not bad, _failures(broadcasts, bad, "a link-layer broadcast must carry an IP broadcast or multicast destination")


# ---- the link layer ---------------------------------------------------------------------------

def _frames(dut: DUT) -> list[Packet]:
    frames = ipv4_traffic(dut)
    assert any(ARP in f for f in frames) and any(UDP in f for f in frames), "the DUT sent too little to check"
    return frames


@rfc("RFC1122-2.3.3-3", quote="this switch MUST default to RFC-894.")
def test_frames_are_ethernet_ii(dut: DUT) -> None:
    frames = _frames(dut)
    # RFC 894 frames carry an EtherType (0x0600 and above); IEEE 802.3 frames a length (<= 1500).
    bad = [f for f in frames if f[Ether].type < 0x0600]
    assert not bad, _failures(frames, bad, "frames at the defaults are RFC 894 (Ethernet II), not IEEE 802.3/SNAP")


@rfc("RFC1122-2.3.3-4")
def test_no_802_frame_uses_k1_6(dut: DUT) -> None:
    frames = _frames(dut)
    llc = [bytes(f[Ether].payload)[:2] for f in frames if f[Ether].type <= 1500]
    bad = [f for f, sap in zip([f for f in frames if f[Ether].type <= 1500], llc, strict=True) if 6 in sap]
    assert not bad, _failures(frames, bad, "no IEEE 802 frame with DSAP/SSAP (K1) 6")


@rfc("RFC1122-2.3.1-2")
def test_no_frame_uses_trailer_encapsulation(dut: DUT) -> None:
    frames = _frames(dut)
    # RFC 893 trailers use EtherTypes 0x1001-0x1010; IP goes out as 0x0800 and ARP as 0x0806.
    bad = [f for f in frames if 0x1001 <= f[Ether].type <= 0x1010]
    assert not bad, _failures(frames, bad, "no trailer encapsulation (EtherType 0x1001-0x1010) at the defaults")
