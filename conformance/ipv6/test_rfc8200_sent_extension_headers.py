"""RFC 8200 §4.1, §4.2, RFC 2711 §2.1: the extension headers the DUT puts on what it sends
itself: the Hop-by-Hop header of its MLD reports (RFC 3810 §5, RFC 2710 §3: Router Alert; an MLDv2
Report from a DUT that speaks MLDv2, else an MLDv1 one) and the Fragment
header of a datagram too large for the link.

The headers are read octet by octet from the frames (Scapy would re-pad what it dissects).
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import ICMPv6MLReport, ICMPv6MLReport2, IPv6, IPv6ExtHdrFragment
from scapy.packet import Packet

from harness import DUT, l3_bytes, rfc
from harness.mld import site_group

HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS = 0, 43, 44, 60
PAD1, PADN, ROUTER_ALERT = 0, 1, 5
PORT: Final = 40820


def _chain(raw: bytes) -> list[tuple[int, int]]:
    """(header type, offset) of each extension header of IPv6 packet ``raw``, in order."""
    out, nh, at = [], raw[6], 40
    while nh in (HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS) and at + 2 <= len(raw):
        out.append((nh, at))
        length = 8 if nh == FRAGMENT else (raw[at + 1] + 1) * 8
        nh, at = raw[at], at + length
    return out


def _options(raw: bytes, at: int) -> list[tuple[int, int, bytes]]:
    """(type, offset from the header's start, data) of each option of the header at ``at``."""
    end, i, out = at + (raw[at + 1] + 1) * 8, at + 2, []
    while i < end:
        if raw[i] == PAD1:
            out.append((PAD1, i - at, b""))
            i += 1
            continue
        length = raw[i + 1]
        out.append((raw[i], i - at, raw[i + 2 : i + 2 + length]))
        i += 2 + length
    return out


def _report(dut: DUT, n: int) -> bytes:
    group = site_group(0x820 + n)
    dut.join_group(group)
    if "mldv2" in dut.features:
        return l3_bytes(dut.expect(IPv6, ICMPv6MLReport2, within=1.5))
    return l3_bytes(dut.expect(IPv6, ICMPv6MLReport(mladdr=group), within=1.5))


def _hop_by_hop(raw: bytes) -> list[tuple[int, int, bytes]]:
    chain = _chain(raw)
    assert chain and chain[0][0] == HOP_BY_HOP, f"the report's headers are {chain}, no Hop-by-Hop header first"
    return _options(raw, chain[0][1])


def _fragments(dut: DUT) -> list[Packet]:
    dut.udp_bind(PORT, 6)
    dut.udp_send(PORT, bytes(3000), str(dut.info.tester_ipv6), PORT)
    return [dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), IPv6ExtHdrFragment, within=1.0) for _ in range(3)]


@rfc("RFC8200-4.1-1")
def test_sent_packets_carry_each_extension_header_once(dut: DUT) -> None:
    sent = [("MLD report", _report(dut, 1))] + [("fragment", l3_bytes(f)) for f in _fragments(dut)]
    for name, raw in sent:
        kinds = [kind for kind, _ in _chain(raw)]
        assert kinds, f"the {name} carries no extension header"
        assert len(kinds) == len(set(kinds)), f"the {name} repeats an extension header: {kinds}"


@rfc("RFC2711-2.1-1")
def test_report_carries_exactly_one_router_alert_option(dut: DUT) -> None:
    alerts = [o for o in _hop_by_hop(_report(dut, 2)) if o[0] == ROUTER_ALERT]
    assert len(alerts) == 1, f"{len(alerts)} Router Alert options in one Hop-by-Hop header"
    assert alerts[0][2] == b"\x00\x00", f"Router Alert value {alerts[0][2].hex()}, not 0 (MLD)"


@rfc("RFC8200-4.2-7")
def test_router_alert_option_is_aligned_2n(dut: DUT) -> None:
    # RFC 2711 §2.1: "Alignment requirement: 2n+0".
    for kind, offset, _ in _hop_by_hop(_report(dut, 3)):
        if kind == ROUTER_ALERT:
            assert offset % 2 == 0, f"the Router Alert option starts at offset {offset} of its header (2n+0 wanted)"


@rfc("RFC8200-4.2-9")
def test_padding_of_more_than_one_octet_is_one_padn(dut: DUT) -> None:
    options = _hop_by_hop(_report(dut, 4))
    kinds = [kind for kind, _, _ in options]
    runs = "".join("1" if k == PAD1 else "." for k in kinds).split(".")
    assert max(len(r) for r in runs) <= 1, f"consecutive Pad1 options instead of a PadN: {kinds}"
