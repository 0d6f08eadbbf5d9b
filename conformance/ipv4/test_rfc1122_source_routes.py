"""Source routes (RFC 791 §3.1, RFC 1122 §3.2.1.8 (c), §3.2.2.6 and §3.3.5): the DUT as the final
destination of a source route (the recorded route reversed for the reply, passed up to the
transport) and as a hop on one, forwarding by the gateway rules.

Source routes are refused at the backends' baseline (Linux accept_source_route=0); each test that
needs them switches them on, and forwarding too where the DUT is a hop. The hop after the DUT,
198.51.100.10, is a host on the test link the tester answers ARP for.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, echo4, rfc, with_ipv4_options

HOP: Final = "198.51.100.10"  # an on-link host, the next hop of the routes
HOP_MAC: Final = "02:00:00:00:00:10"
OFF_LINK: Final = "203.0.113.5"  # reached only through a gateway
EOL, NOP, RR, TS, LSRR, SSRR = 0, 1, 7, 68, 131, 137
SOURCE_ROUTES: Final = (LSRR, SSRR)
DATA: Final = b"stackcheck source route"
PORT: Final = 5040
SILENCE_S: Final = 1.0


def _packed(address: str) -> bytes:
    return bytes(int(o) for o in address.split("."))


def _route(kind: int, pointer: int, *hops: str) -> bytes:
    data = b"".join(_packed(h) for h in hops)
    return bytes((kind, 3 + len(data), pointer)) + data


def _options(frame: Packet) -> list[bytes]:
    """The options of the frame's IP header, each from its type octet (NOP and EOL left out)."""
    ip = bytes(frame[IP])
    raw, out, i = ip[20 : (ip[0] & 0x0F) * 4], [], 0
    while i < len(raw) and raw[i] != EOL:
        if raw[i] == NOP:
            i += 1
            continue
        out.append(raw[i : i + raw[i + 1]])
        i += raw[i + 1]
    return out


def _source_routes(frame: Packet) -> list[bytes]:
    return [o for o in _options(frame) if o[0] in SOURCE_ROUTES]


def _answer_arp(dut: DUT, address: str = HOP, mac: str = HOP_MAC) -> None:
    """The DUT resolves ``address`` before sending to it: answer its ARP Request."""
    dut.expect(ARP(op=1, pdst=address))
    dut.send(Ether(src=mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=mac, psrc=address, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))


def _as_hop(dut: DUT) -> None:
    dut.set_accept_source_route(True)
    dut.set_forwarding(4, True)


# ---- the DUT as the final destination ---------------------------------------------------------

@pytest.mark.parametrize("pointer", [8, 12], ids=["just-past", "far-past"])
@rfc("RFC1122-3.2.2.6-9")
def test_echo_reply_reverses_the_recorded_route(dut: DUT, pointer: int) -> None:
    dut.set_accept_source_route(True)
    # The tester's request came through HOP, which recorded itself: {HOP >>}, completed. RFC 791:
    # "If the pointer is greater than the length, the source route is empty" -- by any amount
    # ("far-past": 12 for a length of 7), the recorded route being the whole data area either way.
    dut.send(with_ipv4_options(echo4(dut, 0xB01, DATA), _route(LSRR, pointer, HOP)))
    _answer_arp(dut)
    reply = dut.expect(IP(dst=HOP), ICMP(type=0, id=0xB01))
    assert reply[Ether].dst.lower() == HOP_MAC, "the reply did not go to the first hop of the reversed route"
    assert _source_routes(reply) == [_route(LSRR, 4, str(dut.info.tester_ipv4))], (
        f"the reply's source route is {[o.hex() for o in _source_routes(reply)]}: not {{>>tester}} through {HOP}")


@pytest.mark.parametrize("hops", [3, 9], ids=["three", "nine"])
@rfc("RFC1122-3.2.2.6-9")
def test_echo_reply_reverses_a_route_of_several_hops(dut: DUT, hops: int) -> None:
    dut.set_accept_source_route(True)
    tester = str(dut.info.tester_ipv4)
    # The request came through 203.0.113.1, 203.0.113.2, ... and HOP, in that order: {G1, G2, ...
    # HOP >>}. Nine hops fill the header: a 39-octet route and a NOP make 40 octets of options,
    # and the reply's route (eight gateways and the tester) is as long.
    gateways = [f"203.0.113.{n}" for n in range(1, hops)]
    route = _route(LSRR, 4 + 4 * hops, *gateways, HOP)
    dut.send(with_ipv4_options(echo4(dut, 0xB04, DATA), route + bytes((NOP,)) * (-len(route) % 4)))
    _answer_arp(dut)
    reply = dut.expect(IP(dst=HOP), ICMP(type=0, id=0xB04))
    # Reversed: to HOP first, then the gateways backwards and the tester, the final destination.
    expected = _route(LSRR, 4, *gateways[::-1], tester)
    assert _source_routes(reply) == [expected], (
        f"the reply's source route is {[o.hex() for o in _source_routes(reply)]}, not {expected.hex()} via {HOP}")


@rfc("RFC1122-3.2.1.8-7")
def test_return_route_is_well_formed_when_the_source_recorded_itself(dut: DUT) -> None:
    dut.set_accept_source_route(True)
    tester = str(dut.info.tester_ipv4)
    # Case (B): the originator listed itself first, so the route arrives as {S, HOP >>}.
    dut.send(with_ipv4_options(echo4(dut, 0xB02, DATA), _route(LSRR, 12, tester, HOP)))
    _answer_arp(dut)
    reply = dut.expect(IP(dst=HOP), ICMP(type=0, id=0xB02))
    # Back through HOP to S, with S once: {>>S}, never {>>S, S}.
    assert _source_routes(reply) == [_route(LSRR, 4, tester)], (
        f"the return route is {[o.hex() for o in _source_routes(reply)]}, not {{>>{tester}}}")


@pytest.mark.parametrize("kind", SOURCE_ROUTES, ids=["lsrr", "ssrr"])
@rfc("RFC1122-3.2.1.8-8")
def test_reply_carries_one_source_route_option(dut: DUT, kind: int) -> None:
    dut.set_accept_source_route(True)
    # A route and a Record Route: the reply returns the route reversed and the Record Route;
    # never a second source route.
    options = _route(kind, 8, HOP) + bytes((RR, 7, 4)) + bytes(4) + bytes((NOP,))
    dut.send(with_ipv4_options(echo4(dut, 0xB03, DATA), options))
    _answer_arp(dut)
    reply = dut.expect(ICMP(type=0, id=0xB03))
    assert len(_source_routes(reply)) == 1, f"the reply carries {len(_source_routes(reply))} source route options"


@rfc("RFC1122-3.2.1.8-6")
def test_completed_source_route_is_passed_up_as_received(dut: DUT) -> None:
    dut.set_accept_source_route(True)
    dut.udp_bind(PORT)
    route = _route(LSRR, 8, HOP)
    dut.send(with_ipv4_options(dut.ipv4() / UDP(sport=40040, dport=PORT) / Raw(b"routed"), route + bytes((NOP,))))
    got = dut.udp_recvmsg(PORT)
    assert got is not None and got.data == b"routed", "the source-routed datagram did not reach the socket"
    assert route in got.options, f"the socket was told of options {got.options.hex()}, not the route {route.hex()}"


SECOND_HOP: Final = "198.51.100.20"


@pytest.mark.parametrize("hops", [1, 2], ids=["one-hop", "two-hops"])
@pytest.mark.parametrize("kind", SOURCE_ROUTES, ids=["lsrr", "ssrr"])
@rfc("RFC1122-3.2.1.8-5", quote="A host MUST support originating a source route")
def test_application_originates_a_source_route(dut: DUT, kind: int, hops: int) -> None:
    # The application's route to OFF_LINK goes through HOP (and SECOND_HOP); as BSD and Linux
    # IP_OPTIONS take it, the route lists the hops in order. The datagram goes to HOP, the
    # header's destination, and its option names the rest and OFF_LINK, the pointer at the first
    # (RFC 791: the next address in the route "replaces the address in the destination address
    # field" at each hop).
    route = (HOP, SECOND_HOP)[:hops]
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, DATA, OFF_LINK, 40041, options=_route(kind, 4, *route))
    _answer_arp(dut)
    sent = dut.expect(IP(dst=HOP), UDP(sport=PORT, dport=40041))
    want = _route(kind, 4, *route[1:], OFF_LINK)
    assert _source_routes(sent) == [want], (
        f"the datagram to the first hop carries source routes {[o.hex() for o in _source_routes(sent)]}, not {want.hex()}")
    assert bytes(sent[UDP].payload)[: len(DATA)] == DATA


@rfc("RFC791-3.1-20")
def test_strict_route_whose_first_hop_is_off_link_is_not_sent(dut: DUT) -> None:
    # The first address of an application's strict route is reached only through a gateway: the
    # datagram cannot go "directly to the next address", so the send fails and nothing leaves.
    dut.add_route("203.0.113.0/24", via=str(dut.info.other_ipv4))
    dut.udp_bind(PORT)
    # In-process and tap backends raise ValueError; the Linux agent's sendmsg(2) fails
    # (ENETUNREACH) and the harness raises AgentFailed, a RuntimeError.
    with pytest.raises((ValueError, RuntimeError)):
        dut.udp_sendmsg(PORT, DATA, str(dut.info.tester_ipv4), 40042, options=_route(SSRR, 4, OFF_LINK))
    # Control: the same route as a loose one goes, through the gateway.
    dut.udp_sendmsg(PORT, DATA, str(dut.info.tester_ipv4), 40042, options=_route(LSRR, 4, OFF_LINK))
    _answer_arp(dut, str(dut.info.other_ipv4), dut.info.other_mac)
    dut.expect(IP(dst=OFF_LINK), UDP(sport=PORT, dport=40042))
    dut.expect_none(IP(dst=OFF_LINK), UDP(sport=PORT, dport=40042), within=0)


# ---- the DUT as a hop ---------------------------------------------------------------------------

def _through_dut(dut: DUT, ident: int, kind: int = LSRR, *, extra: bytes = b"", ttl: int = 9, size: int = 0,
                 df: bool = False, to: str = HOP) -> None:
    """An echo request from the tester, its route through the DUT (the header's destination now)
    on to ``to``."""
    options = _route(kind, 4, to) + extra
    options += bytes((NOP,)) * (-len(options) % 4)
    frame = echo4(dut, ident, DATA + bytes(size), ttl=ttl, flags="DF" if df else 0)
    dut.send(with_ipv4_options(frame, options))


@pytest.mark.parametrize("kind", SOURCE_ROUTES, ids=["lsrr", "ssrr"])
@rfc("RFC1122-3.3.5-3")
def test_forwarded_source_routed_datagram_has_its_ttl_decremented(dut: DUT, kind: int) -> None:
    _as_hop(dut)
    _through_dut(dut, 0xB10, kind, ttl=9)
    _answer_arp(dut)
    forwarded = dut.expect(IP(dst=HOP), ICMP(type=8, id=0xB10))
    assert forwarded[IP].ttl == 8, f"forwarded with TTL {forwarded[IP].ttl}, not 9 - 1"
    # RFC 791: the address just used is replaced by the DUT's, the pointer moves on by four.
    assert _source_routes(forwarded) == [_route(kind, 8, str(dut.info.dut_ipv4.ip))]


@rfc("RFC1122-3.3.5-3", quote="the datagram perhaps discarded as specified for a gateway")
def test_source_routed_datagram_whose_ttl_runs_out_is_discarded(dut: DUT) -> None:
    _as_hop(dut)
    _through_dut(dut, 0xB11, ttl=1)
    # RFC 1812 5.3.1: TTL 1 cannot be forwarded; Time Exceeded in transit goes back.
    dut.expect(ICMP(type=11, code=0))
    dut.expect_none(IP(dst=HOP), ICMP(type=8, id=0xB11), within=SILENCE_S)


@rfc("RFC791-3.1-20")
def test_strict_route_goes_directly_to_the_next_address(dut: DUT) -> None:
    _as_hop(dut)
    # The strict route's next address is on the test link: the datagram goes straight to it
    # (one that is not on a connected network fails: test_hop_reports_a_route_it_cannot_follow).
    _through_dut(dut, 0xB12, SSRR)
    _answer_arp(dut)
    forwarded = dut.expect(IP(dst=HOP), ICMP(type=8, id=0xB12))
    assert forwarded[Ether].dst.lower() == HOP_MAC, f"a strict route's next hop was reached via {forwarded[Ether].dst}"


@pytest.mark.parametrize("reason", ["source-route-failed", "fragmentation-needed"])
@rfc("RFC1122-3.3.5-4")
def test_hop_reports_a_route_it_cannot_follow(dut: DUT, reason: str) -> None:
    _as_hop(dut)
    if reason == "source-route-failed":
        # The next hop of a strict route is not on a connected network (a gateway would be needed).
        dut.add_route("203.0.113.0/24", via=str(dut.info.other_ipv4))
        _through_dut(dut, 0xB13, SSRR, to=OFF_LINK)
        error = dut.expect(ICMP(type=3, code=5))
    else:
        # 1,000 octets with DF set, and a path MTU of 576 to the next hop.
        dut.add_route(f"{HOP}/32", mtu=576)
        _through_dut(dut, 0xB14, LSRR, size=1000, df=True)
        error = dut.expect(ICMP(type=3, code=4))
        assert error[ICMP].nexthopmtu == 576, f"Fragmentation Needed names MTU {error[ICMP].nexthopmtu}, not 576"
    assert error[IP].dst == str(dut.info.tester_ipv4)


@rfc("RFC1122-3.3.5-6")
def test_forwarded_source_route_updates_record_route(dut: DUT) -> None:
    _as_hop(dut)
    _through_dut(dut, 0xB15, extra=bytes((RR, 11, 4)) + bytes(8))
    _answer_arp(dut)
    forwarded = dut.expect(IP(dst=HOP), ICMP(type=8, id=0xB15))
    rr = [o for o in _options(forwarded) if o[0] == RR]
    assert rr and rr[0][2] == 8, f"Record Route forwarded as {rr[0].hex() if rr else 'missing'}: nothing recorded"
    assert rr[0][3:7] == dut.info.dut_ipv4.ip.packed, f"Record Route holds {rr[0][3:7].hex()}, not the DUT's address"


@rfc("RFC1122-3.3.5-7")
def test_forwarded_source_route_gets_a_timestamp(dut: DUT) -> None:
    _as_hop(dut)
    _through_dut(dut, 0xB16, extra=bytes((TS, 12, 5, 0)) + bytes(8))  # timestamps only, two slots
    _answer_arp(dut)
    forwarded = dut.expect(IP(dst=HOP), ICMP(type=8, id=0xB16))
    ts = [o for o in _options(forwarded) if o[0] == TS]
    assert ts and ts[0][2] == 9, f"Timestamp forwarded as {ts[0].hex() if ts else 'missing'}: no timestamp added"


# Options around the route (24 octets each), for the fragments after the first to keep the copied
# ones (copied flag set: the route; type 158, an unassigned copied option) and drop the others
# (Record Route: "Not copied on fragmentation, goes in first fragment only"; type 30, unassigned).
UNKNOWN, UNKNOWN_COPIED = bytes((30, 2)), bytes((158, 2))  # no data: length 2, the shortest
LAYOUTS: Final = {
    # The route after a NOP, options ended by End of Option List; the octets after it are not
    # options (RFC 791: "used at the end of all options"), though they would read as a Router Alert.
    "nop-first-eol-last": (bytes((NOP,)), bytes((RR, 7, 4)) + bytes(4) + bytes((EOL, 2, 148, 4, 0, 0, 0, 0, 0))),
    # Options of length 2 before the route and in the header's last two octets.
    "short-options": (bytes((NOP,)) + UNKNOWN, bytes((RR, 7, 4)) + bytes(4) + bytes((NOP,)) * 5 + UNKNOWN_COPIED),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("kind", SOURCE_ROUTES, ids=["lsrr", "ssrr"])
@rfc("RFC791-3.1-18", "RFC791-3.1-21")
def test_source_route_is_copied_into_every_fragment(dut: DUT, kind: int, layout: str) -> None:
    _as_hop(dut)
    dut.add_route(f"{HOP}/32", mtu=576)
    before, after = LAYOUTS[layout]
    options = before + _route(kind, 4, HOP) + after
    # No DF: the DUT fragments it for the 576-octet path.
    dut.send(with_ipv4_options(echo4(dut, 0xB17, DATA + bytes(1000)), options))
    _answer_arp(dut)
    fragments = sorted((dut.expect(IP(dst=HOP, proto=1)) for _ in range(2)), key=lambda f: f[IP].frag)
    # RFC 791: the address just used is replaced by the DUT's, the pointer moves on by four.
    route = _route(kind, 8, str(dut.info.dut_ipv4.ip))
    for fragment in fragments:
        assert len(bytes(fragment[IP])) <= 576
        where = f"the fragment at offset {fragment[IP].frag * 8}"
        assert _source_routes(fragment) == [route], (
            f"{where} carries source routes {[o.hex() for o in _source_routes(fragment)]}, not {route.hex()}")
    later = [o[0] for o in _options(fragments[1]) if o[0] not in SOURCE_ROUTES]
    copied = [UNKNOWN_COPIED[0]] if layout == "short-options" else []
    assert later == copied, f"the later fragment carries options of types {later}, besides the route: not {copied}"


# Next addresses a router must not forward to (RFC 1812 5.3.7 and the illegal destinations of
# 4.2.3.1): following the route puts the next address into the destination field (RFC 791).
MARTIAN_NEXT_HOPS: Final = {"network-0": "0.1.2.3", "loopback": "127.0.0.1", "multicast": "224.0.1.1",
                            "class-e": "240.0.0.1"}


@pytest.mark.parametrize("hop", list(MARTIAN_NEXT_HOPS))
@rfc("RFC1812-5.3.7-5", "RFC1812-5.3.7-6")
def test_source_route_to_a_martian_next_hop_is_not_followed(dut: DUT, hop: str) -> None:
    _as_hop(dut)
    dut.add_route("0.0.0.0/0", via=str(dut.info.other_ipv4))  # where the martian would go
    martian = MARTIAN_NEXT_HOPS[hop]
    _through_dut(dut, 0xB20, to=martian)
    # Control, after it: a route on to an off-link host takes the default route; the martian
    # forwarded the same way would have been waiting on the gateway's address before it.
    _through_dut(dut, 0xB21, to=OFF_LINK)
    _answer_arp(dut, str(dut.info.other_ipv4), dut.info.other_mac)
    dut.expect(IP(dst=OFF_LINK), ICMP(type=8, id=0xB21))
    dut.expect_none(IP(dst=martian), ICMP(type=8, id=0xB20), within=0)


@pytest.mark.parametrize("why", ["refused", "not-forwarding"])
@rfc("RFC1122-3.3.5-10")
def test_source_route_not_followed_draws_source_route_failed(dut: DUT, why: str) -> None:
    # "refused": at the baseline the DUT follows no source route. "not-forwarding": source routes
    # accepted, but the DUT is a host that does not forward. Either way it is a listed hop that
    # does not pass the datagram on.
    if why == "not-forwarding":
        dut.set_accept_source_route(True)
    _through_dut(dut, 0xB18)
    error = dut.expect(ICMP(type=3, code=5))
    assert error[IP].dst == str(dut.info.tester_ipv4)
    dut.expect_none(IP(dst=HOP), ICMP(type=8, id=0xB18), within=SILENCE_S)
