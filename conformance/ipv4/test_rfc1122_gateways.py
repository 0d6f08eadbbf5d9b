"""Gateways (RFC 1122 §3.2.2.1-3.2.2.2, §3.3.1.2-3.3.1.5): several default gateways, detecting a
dead one and moving to another, Redirects, and what a Destination Unreachable does not prove.

Two gateways sit on the test link, 198.51.100.11 and .12, reached by the tester's MACs for them;
the DUT sends UDP datagrams to 203.0.113.5, off-link. Which gateway it uses shows in the
Ethernet destination of each datagram.
"""

from __future__ import annotations

import contextlib
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, rfc

GW1, GW1_MAC = "198.51.100.11", "02:00:00:00:00:11"
GW2, GW2_MAC = "198.51.100.12", "02:00:00:00:00:12"
GATEWAYS: Final = {GW1: GW1_MAC, GW2: GW2_MAC}
OFF_LINK: Final = "203.0.113.5"
OTHER_OFF_LINK: Final = "203.0.113.6"
PORT: Final = 5080
TESTER_PORT: Final = 40080
SILENCE_S: Final = 1.0
TIMEOUT_S: Final = 2.0  # the ARP cache timeout: a gateway unconfirmed this long is out of date
SWITCH_WITHIN_S: Final = 25.0  # out of date (3 s), DELAY_FIRST_PROBE_TIME (5 s), 3 probes, slack


def _answer_arp(dut: DUT, address: str, mac: str, within: float = 2.0) -> None:
    dut.expect(ARP(op=1, pdst=address), within=within)
    dut.send(Ether(src=mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=mac, psrc=address, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))


def _announce(dut: DUT, address: str, mac: str) -> None:
    """``address`` asks for the DUT's MAC, so the DUT knows it (RFC 826 learns the requester)."""
    dut.send(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=address, pdst=str(dut.info.dut_ipv4.ip)))
    dut.expect(ARP(op=2, pdst=address))


def _send(dut: DUT, data: bytes, dst: str = OFF_LINK) -> None:
    dut.udp_send(PORT, data, dst, TESTER_PORT)


def _sent(dut: DUT, data: bytes, dst: str = OFF_LINK, within: float = 2.0) -> Packet:
    return dut.expect(IP(dst=dst), UDP(sport=PORT), Raw(load=data), within=within)


def _via(frame: Packet) -> str:
    mac = frame[Ether].dst.lower()
    return next((gw for gw, m in GATEWAYS.items() if m == mac), mac)


def _two_default_gateways(dut: DUT) -> str:
    """Configure GW1 and GW2 as default gateways, send one datagram off-link and let the gateway
    the DUT picks answer ARP; return that gateway."""
    dut.add_route("0.0.0.0/0", via=GW1)
    dut.add_route("0.0.0.0/0", via=GW2)
    dut.udp_bind(PORT)
    _send(dut, b"first")
    request = dut.expect(ARP(op=1))
    chosen = request[ARP].pdst
    assert chosen in GATEWAYS, f"the DUT resolved {chosen} for an off-link destination, not a default gateway"
    dut.send(Ether(src=GATEWAYS[chosen], dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=GATEWAYS[chosen], psrc=chosen, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
    assert _via(_sent(dut, b"first")) == chosen
    return chosen


# ---- default gateways and dead gateway detection ---------------------------------------------

@rfc("RFC1122-3.3.1.2-3", "RFC1122-3.3.1.2-4")
def test_off_link_datagram_goes_to_one_of_the_default_gateways(dut: DUT) -> None:
    chosen = _two_default_gateways(dut)
    _send(dut, b"second")
    assert _via(_sent(dut, b"second")) == chosen, "the DUT changed gateways with both of them working"


@rfc("RFC1122-3.3.1.4-1", "RFC1122-3.3.1.5-1", "RFC1122-3.3.1.4-2", "RFC1122-3.3.1.4-5")
def test_dead_default_gateway_is_detected_and_another_chosen(dut: DUT) -> None:
    dut.set_timer("arp_cache_timeout", TIMEOUT_S)
    chosen = _two_default_gateways(dut)
    other = GW2 if chosen == GW1 else GW1
    # From now on the chosen gateway answers nothing, not even a re-validation of its address;
    # the other one answers whenever asked. Traffic goes on, one datagram a second. The DUT may
    # check the silent gateway, go back to it while its address is merely out of date, but in the
    # end its datagrams must go to the other one, and stay there.
    used: list[str] = []
    deadline = dut.now() + SWITCH_WITHIN_S
    n = 0
    while dut.now() < deadline and used[-3:] != [other] * 3:
        n += 1
        _send(dut, f"datagram {n}".encode())
        end = dut.now() + 1.0
        while (left := end - dut.now()) > 0:
            try:
                frame = dut.expect(Ether, within=left)
            except ExpectationFailed:
                break
            if ARP in frame and frame[ARP].op == 1 and frame[ARP].pdst == other:
                dut.send(Ether(src=GATEWAYS[other], dst=dut.info.dut_mac)
                         / ARP(op=2, hwsrc=GATEWAYS[other], psrc=other, hwdst=dut.info.dut_mac,
                               pdst=str(dut.info.dut_ipv4.ip)))
            elif UDP in frame and frame[UDP].sport == PORT:
                used.append(_via(frame))
    assert used[-3:] == [other] * 3, (
        f"{chosen} stopped answering; {SWITCH_WITHIN_S:.0f} s later the DUT still sends through it: {used}")


@rfc("RFC1122-3.3.1.4-3", "RFC1122-3.3.1.4-4")
def test_gateways_are_not_pinged(dut: DUT) -> None:
    chosen = _two_default_gateways(dut)
    # Idle: no traffic to the gateway, so no ping may go to it.
    dut.expect_none(ICMP(type=8), within=5.0)
    # Traffic, and the gateway shows it is alive by answering ARP: still no ping.
    for n in range(10):
        _send(dut, f"busy {n}".encode())
        assert _via(_sent(dut, f"busy {n}".encode())) == chosen
        with contextlib.suppress(ExpectationFailed):  # a re-validation of the gateway, answered
            _answer_arp(dut, chosen, GATEWAYS[chosen], within=0.0)
        dut.wait(0.5)
    dut.expect_none(ICMP(type=8), within=0.5)


@pytest.mark.parametrize("code", [0, 1, 5], ids=["net", "host", "source-route-failed"])
@rfc("RFC1122-3.2.2.1-6", "RFC1122-3.2.2.1-5")
def test_destination_unreachable_is_no_proof_of_a_dead_gateway(dut: DUT, code: int) -> None:
    chosen = _two_default_gateways(dut)
    _send(dut, b"refused")
    quoted = _sent(dut, b"refused")[IP]
    dut.send(Ether(src=GATEWAYS[chosen], dst=dut.info.dut_mac) / IP(src=chosen, dst=str(dut.info.dut_ipv4.ip))
             / ICMP(type=3, code=code) / Raw(bytes(quoted)[:28]))
    # The socket hears of it (a hint) ...
    reports = dut.udp_errors(PORT)
    assert [(r.type, r.code) for r in reports] == [(3, code)], f"the socket was told {reports}"
    # ... but the destination is not given up, and the gateway stays in use.
    for n in range(3):
        _send(dut, f"again {n}".encode())
        assert _via(_sent(dut, f"again {n}".encode())) == chosen, "a Destination Unreachable made the DUT leave its gateway"


# ---- Redirects ---------------------------------------------------------------------------------

def _via_gw1(dut: DUT) -> Packet:
    """A route to 203.0.113.0/24 through GW1, GW1 resolved, GW2 known; one datagram sent through
    GW1, which is returned (the datagram a Redirect quotes)."""
    dut.add_route("203.0.113.0/24", via=GW1)
    dut.udp_bind(PORT)
    _announce(dut, GW2, GW2_MAC)
    _send(dut, b"to be redirected")
    _answer_arp(dut, GW1, GW1_MAC)
    sent = _sent(dut, b"to be redirected")
    assert _via(sent) == GW1
    return sent


def _redirect(dut: DUT, sent: Packet, code: int, gateway: str, src: str = GW1) -> None:
    dut.send(Ether(src=GATEWAYS.get(src, dut.info.other_mac), dst=dut.info.dut_mac)
             / IP(src=src, dst=str(dut.info.dut_ipv4.ip)) / ICMP(type=5, code=code, gw=gateway)
             / Raw(bytes(sent[IP])[:28]))


# RFC 792 codes: 0 network, 1 host, 2 type of service and network, 3 type of service and host; a
# datagram sent with TOS 0 is redirected by any of them ("MUST update its routing information").
@pytest.mark.parametrize("code", [1, 0, 3, 2], ids=["host", "network", "tos-host", "tos-network"])
@rfc("RFC1122-3.2.2.2-2", "RFC1122-3.2.2.2-3")
def test_redirect_moves_the_destination_to_the_new_gateway(dut: DUT, code: int) -> None:
    sent = _via_gw1(dut)
    _redirect(dut, sent, code, GW2)
    dut.wait(0.2)
    _send(dut, b"redirected")
    assert _via(_sent(dut, b"redirected")) == GW2, f"after a Redirect (code {code}) to {GW2} the datagram went elsewhere"


@rfc("RFC1122-3.2.2.2-2")
def test_a_second_redirect_moves_the_destination_again(dut: DUT) -> None:
    sent = _via_gw1(dut)
    _redirect(dut, sent, 1, GW2)
    dut.wait(0.2)
    _send(dut, b"through the second gateway")
    moved = _sent(dut, b"through the second gateway")
    assert _via(moved) == GW2, "the first Redirect was not followed"
    _redirect(dut, moved, 1, GW1, src=GW2)  # now from the current first hop, back to the first
    dut.wait(0.2)
    _send(dut, b"back through the first")
    assert _via(_sent(dut, b"back through the first")) == GW1, "the second Redirect was not followed"


@rfc("RFC1122-3.3.1.2-2")
def test_network_redirect_moves_only_its_destination(dut: DUT) -> None:
    sent = _via_gw1(dut)
    _redirect(dut, sent, 0, GW2)  # a Network Redirect about 203.0.113.5
    dut.wait(0.2)
    _send(dut, b"same network, other host", OTHER_OFF_LINK)
    assert _via(_sent(dut, b"same network, other host", OTHER_OFF_LINK)) == GW1, (
        "a Network Redirect for one host moved another host of its network too")
    _send(dut, b"the redirected host")
    assert _via(_sent(dut, b"the redirected host")) == GW2  # positive control


@pytest.mark.parametrize(
    "case", ["gateway-off-link", "not-from-the-first-hop", "gateway-subnet-broadcast", "gateway-is-the-dut"])
@rfc("RFC1122-3.2.2.2-4")
def test_redirect_is_ignored_when_it_cannot_be_trusted(dut: DUT, case: str) -> None:
    sent = _via_gw1(dut)
    if case == "gateway-off-link":
        _redirect(dut, sent, 1, "203.0.113.77")
    elif case == "not-from-the-first-hop":
        _redirect(dut, sent, 1, GW2, src=str(dut.info.other_ipv4))  # not the current first hop
    else:
        # Addresses on the connected subnet that no gateway on it can have: its broadcast address,
        # and the DUT's own (a host that sent through itself would send nowhere).
        gateway = dut.info.dut_ipv4.network.broadcast_address if case == "gateway-subnet-broadcast" \
            else dut.info.dut_ipv4.ip
        _redirect(dut, sent, 1, str(gateway))
    dut.wait(0.2)
    _send(dut, b"not redirected")
    assert _via(_sent(dut, b"not redirected")) == GW1, f"a Redirect ({case}) was followed"


@rfc("RFC1122-3.2.2.2-1")
def test_host_sends_no_redirect(dut: DUT) -> None:
    dut.add_route("203.0.113.0/24", via=GW1)
    # A datagram for 203.0.113.5 sent to the DUT, whose route to it leads back out the same link
    # to GW1: a gateway forwarding it would send a Redirect. A host sends none.
    dut.send(dut.ipv4(dst=OFF_LINK) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(b"not for a host"))
    dut.expect_none(ICMP(type=5), within=SILENCE_S)
    dut.send(dut.ipv4() / ICMP(type=8, id=0xF01))  # positive control: the DUT is there
    dut.expect(ICMP(type=0, id=0xF01))
