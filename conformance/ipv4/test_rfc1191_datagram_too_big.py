"""Path MTU Discovery for IPv4 (RFC 1191 §3), the host's side: what a Datagram Too Big message
(ICMP Destination Unreachable, code 4 "fragmentation needed and DF set") does to the DUT's
estimate of the path MTU, seen in the size of the UDP datagrams it sends next.

The DUT reaches 203.0.113.5 through a gateway on the test link (198.51.100.11, the tester's MAC
for it), which also sends the Datagram Too Big messages. RFC 1122 leaves Path MTU Discovery to
the host ("MAY"): on a DUT whose datagrams do not carry DF these tests skip, saying so.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, MUST, ExpectationFailed, described, rfc
from harness.time_budget import require_dut_time

GATEWAY, GATEWAY_MAC = "198.51.100.11", "02:00:00:00:00:11"
OFF_LINK: Final = "203.0.113.5"
OTHER_OFF_LINK: Final = "203.0.113.6"
PORT: Final = 5191
TESTER_PORT: Final = 40191
DATA: Final = bytes(range(256)) * 5 + bytes(120)  # 1400 octets: a 1428-octet datagram
_DF: Final = 0x2


def _through_gateway(dut: DUT) -> None:
    dut.add_route("203.0.113.0/24", via=GATEWAY)
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"first", OFF_LINK, TESTER_PORT)
    dut.expect(ARP(op=1, pdst=GATEWAY))
    dut.send(Ether(src=GATEWAY_MAC, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=GATEWAY_MAC, psrc=GATEWAY, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
    dut.expect(IP(dst=OFF_LINK), UDP(sport=PORT), Raw(load=b"first"))


def _datagram(dut: DUT, data: bytes = DATA, dst: str = OFF_LINK) -> list[Packet]:
    """Send ``data`` from the DUT to ``dst``; the IP packets it leaves in (one, or its fragments)."""
    dut.udp_send(PORT, data, dst, TESTER_PORT)
    first = dut.expect(IP(dst=dst, proto=17), within=2.0)
    packets = [first]
    ident = first[IP].id
    while sum(len(bytes(p[IP].payload)) for p in packets) < 8 + len(data):
        try:
            packets.append(dut.expect(IP(dst=dst, proto=17, id=ident), within=1.0))
        except ExpectationFailed:
            break
    return packets


def _discovering(dut: DUT) -> Packet:
    """The DUT's first 1428-octet datagram off-link, which must carry DF (else: skip)."""
    _through_gateway(dut)
    packets = _datagram(dut)
    if len(packets) != 1 or not packets[0][IP].flags & _DF:
        pytest.skip("the DUT does not set DF on its UDP datagrams: it does not do Path MTU Discovery "
                    "(RFC 1191), which RFC 1122 leaves to a host")
    return packets[0]


def _too_big(dut: DUT, about: Packet, next_hop_mtu: int) -> None:
    """A Datagram Too Big from the gateway about ``about``, with ``next_hop_mtu`` (RFC 1191 4:
    the low-order 16 bits of the unused field; 0 as a router before RFC 1191 sends it)."""
    quote = bytes(about[IP])[: (bytes(about[IP])[0] & 0x0F) * 4 + 8]
    dut.send(Ether(src=GATEWAY_MAC, dst=dut.info.dut_mac)
             / IP(src=GATEWAY, dst=str(dut.info.dut_ipv4.ip))
             / ICMP(type=3, code=4, nexthopmtu=next_hop_mtu) / Raw(load=quote))
    # Taken in before the next datagram is asked for: the request travels another way than the
    # frame and can overtake it (a linux soak run under load: the next datagram left at 1428).
    dut.barrier()


def _sizes(packets: list[Packet]) -> list[int]:
    return [len(bytes(p[IP])) for p in packets]


@rfc("RFC1191-3-1", "RFC1191-3-2", "RFC1191-3-4")
def test_datagram_too_big_lowers_the_estimate_to_the_next_hop_mtu(dut: DUT) -> None:
    sent = _discovering(dut)
    _too_big(dut, sent, 1000)
    after = _datagram(dut)
    assert max(_sizes(after)) <= 1000, f"after a Datagram Too Big with Next-Hop MTU 1000: packets of {_sizes(after)}"
    # "based on the value of the Next-Hop MTU field": 1000, not less; fragments of a datagram
    # cut to fit it carry 8-octet multiples, so the largest is within 7 octets of it.
    assert max(_sizes(after)) > 1000 - 8, (
        f"after a Datagram Too Big with Next-Hop MTU 1000: packets of {_sizes(after)}, as if the MTU were lower")
    # A datagram of exactly the new estimate fits: it leaves whole and, PMTU Discovery going on (so
    # that a further decrease is detected "as fast as possible"), with DF set.
    exact = _datagram(dut, data=DATA[: 1000 - 28])
    assert _sizes(exact) == [1000] and exact[0][IP].flags & _DF, (
        f"a 1000-octet datagram within the estimate of 1000 left as {_sizes(exact)}, flags {exact[0][IP].flags}")
    # The relevant path only: another destination behind the same gateway keeps the first hop's MTU.
    other = _datagram(dut, dst=OTHER_OFF_LINK)
    assert _sizes(other) == [1428], f"a datagram to {OTHER_OFF_LINK} left as {_sizes(other)}"


@rfc("RFC1191-3-7")
def test_datagram_too_big_without_a_next_hop_mtu_still_lowers_the_estimate(dut: DUT) -> None:
    sent = _discovering(dut)
    _too_big(dut, sent, 0)
    after = _datagram(dut)
    assert max(_sizes(after)) < 1428, f"after a Datagram Too Big without Next-Hop MTU: packets of {_sizes(after)}"


@rfc("RFC1191-3-3")
def test_discovery_converges_without_next_hop_mtus(dut: DUT) -> None:
    # A path of MTU 500 whose router, as one before RFC 1191, reports no Next-Hop MTU: every
    # packet above 500 octets that may not be fragmented draws a Datagram Too Big. The DUT must
    # stop drawing them (smaller packets, or DF cleared) within the eleven plateaus of RFC 1191 7.
    sent = _discovering(dut)
    for _ in range(11):
        blocked = [p for p in [sent] if len(bytes(p[IP])) > 500 and p[IP].flags & _DF]
        if not blocked:
            return
        _too_big(dut, blocked[0], 0)
        packets = _datagram(dut)
        sent = max(packets, key=lambda p: len(bytes(p[IP])) if p[IP].flags & _DF else 0)
    raise AssertionError(f"still sending {_sizes([sent])}-octet packets with DF after 11 Datagram Too Big messages")


@rfc("RFC1191-3-8")
def test_estimate_never_goes_below_68(dut: DUT) -> None:
    sent = _discovering(dut)
    _too_big(dut, sent, 40)
    after = _datagram(dut, DATA[:200])
    assert min(_sizes(after[:-1]) or [228]) >= 68, f"after a Next-Hop MTU of 40: fragments of {_sizes(after)}"


@rfc("RFC1191-3-9")
def test_datagram_too_big_never_raises_the_estimate(dut: DUT) -> None:
    sent = _discovering(dut)
    _too_big(dut, sent, 1000)
    lowered = _datagram(dut)
    _too_big(dut, lowered[0], 1400)  # claims more room than the estimate of 1000
    after = _datagram(dut)
    assert max(_sizes(after)) <= 1000, f"after a Next-Hop MTU of 1400 on top of 1000: packets of {_sizes(after)}"


@rfc("RFC1191-3-5", "RFC1191-3-6")
def test_no_larger_datagram_within_five_minutes_of_a_datagram_too_big(dut: DUT) -> None:
    # "An attempt to detect an increase (by sending a datagram larger than the current estimate)
    # MUST NOT be done less than 5 minutes after a Datagram Too Big message has been received for
    # the given destination": a 1428-octet datagram every 20 s for 5 minutes leaves in pieces of
    # at most 1000 octets each time.
    require_dut_time(dut, 300.0)
    sent = _discovering(dut)
    _too_big(dut, sent, 1000)
    heard = dut.now()
    while dut.now() - heard < 299.0:
        # The gateway confirms its address now and then, so ARP keeps it (RFC 1122 2.3.2.1).
        dut.send(Ether(src=GATEWAY_MAC, dst=dut.info.dut_mac)
                 / ARP(op=2, hwsrc=GATEWAY_MAC, psrc=GATEWAY, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
        after = _datagram(dut)
        assert max(_sizes(after)) <= 1000, (
            f"{dut.now() - heard:.0f} s after a Datagram Too Big (Next-Hop MTU 1000): packets of {_sizes(after)}")
        dut.wait(min(20.0, max(0.0, 299.0 - (dut.now() - heard))))


@rfc("RFC1191-6.3-1")
def test_larger_datagram_is_tried_again_after_about_ten_minutes(dut: DUT) -> None:
    # "When a PMTU value has not been decreased for a while (on the order of 10 minutes), the PMTU
    # estimate should be set to the first-hop data-link MTU": by 15 minutes (and, per §3, not
    # before 5) a 1428-octet datagram leaves whole again.
    require_dut_time(dut, 900.0)
    sent = _discovering(dut)
    _too_big(dut, sent, 1000)
    heard = dut.now()
    while dut.now() - heard < 900.0:
        dut.wait(60.0)
        # The gateway confirms its address now and then, so ARP keeps it (RFC 1122 2.3.2.1).
        dut.send(Ether(src=GATEWAY_MAC, dst=dut.info.dut_mac)
                 / ARP(op=2, hwsrc=GATEWAY_MAC, psrc=GATEWAY, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
        after = _datagram(dut)
        if _sizes(after) == _sizes([sent]):
            assert dut.now() - heard >= 300.0, "a larger datagram less than 5 minutes after the Datagram Too Big"
            return
    raise AssertionError("15 minutes after a Datagram Too Big the DUT still sends datagrams no larger than 1000")


@described(1191, "2", MUST,
           "Upon receipt of such a message (henceforth called a \"Datagram Too Big\" message), the source host "
           "reduces its assumed PMTU for the path.")
def test_other_destination_unreachable_codes_leave_the_estimate_alone(dut: DUT) -> None:
    # "such a message": Destination Unreachable with the code "fragmentation needed and DF set"
    # only. A Port Unreachable about the same datagram, whose unused field happens to hold 1000
    # where a Datagram Too Big carries its Next-Hop MTU, must not move the estimate.
    sent = _discovering(dut)
    quote = bytes(sent[IP])[: (bytes(sent[IP])[0] & 0x0F) * 4 + 8]
    dut.send(Ether(src=GATEWAY_MAC, dst=dut.info.dut_mac)
             / IP(src=GATEWAY, dst=str(dut.info.dut_ipv4.ip))
             / ICMP(type=3, code=3, nexthopmtu=1000) / Raw(load=quote))
    after = _datagram(dut)
    assert _sizes(after) == [1428] and after[0][IP].flags & _DF, (
        f"after a Port Unreachable the datagram left as {_sizes(after)}, flags {after[0][IP].flags}")


@rfc("RFC1191-3-1", quote="for the relevant path")
def test_datagram_too_big_about_someone_elses_datagram_leaves_the_estimate_alone(dut: DUT) -> None:
    # The quoted datagram is the DUT's own but for its source, another host on the link: the path
    # it was too big for is not one of the DUT's, so nothing is learnt about 203.0.113.5.
    sent = _discovering(dut)
    forged = sent.copy()
    forged[IP].src = "198.51.100.77"
    del forged[IP].chksum
    _too_big(dut, Ether(bytes(forged)), 1000)
    after = _datagram(dut)
    assert _sizes(after) == [1428] and after[0][IP].flags & _DF, (
        f"after a Datagram Too Big about another host's datagram: {_sizes(after)}, flags {after[0][IP].flags}")
    # Control: the same message about the DUT's own datagram does lower it.
    _too_big(dut, after[0], 1000)
    lowered = _datagram(dut)
    assert max(_sizes(lowered)) <= 1000, f"after a Datagram Too Big about its own datagram: {_sizes(lowered)}"
