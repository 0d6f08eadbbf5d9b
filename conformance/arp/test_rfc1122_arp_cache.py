"""The ARP cache over time (RFC 1122 §2.3.2.1, RFC 826 "Related issue"), failure to ARP as
negative advice on a gateway (RFC 1122 §3.3.1.4-3.3.1.5) and the byte order of ARP packets (RFC
826 "Why is it done this way??").

The cache timeout is the DUT's "arp_cache_timeout" timer (Linux base_reachable_time): an entry
not confirmed for about that long is out of date. Waits are real time on real backends, so the
test shortens the timeout rather than waiting out the default.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from harness import DUT, ExpectationFailed, rfc

NEIGHBOUR: Final = "198.51.100.4"
NEIGHBOUR_MAC: Final = "02:00:00:00:00:04"
PORT: Final = 5070
TESTER_PORT: Final = 40070
TIMEOUT_S: Final = 2.0  # the ARP cache timeout the test sets
# RFC 4861 6.3.2 (which Linux's ARP follows): ReachableTime is drawn between 0.5 and 1.5 times
# the base value; then the first use waits DELAY_FIRST_PROBE_TIME (5 s) before probing, and
# MAX_UNICAST_SOLICIT (3) probes go RetransTimer (1 s) apart.
OUT_OF_DATE_S: Final = 1.5 * TIMEOUT_S + 0.5
PROBE_WITHIN_S: Final = 5.0 + 2.0
GIVE_UP_S: Final = 3 * 1.0 + 1.0
# Two default gateways on the test link, reached by the tester's MACs for them.
GATEWAYS: Final = {"198.51.100.11": "02:00:00:00:00:11", "198.51.100.12": "02:00:00:00:00:12"}
OFF_LINK: Final = "203.0.113.5"
# RFC 4861 10 (Linux's ARP defaults): MAX_MULTICAST_SOLICIT requests, RETRANS_TIMER apart.
REQUESTS: Final = 3


def _send(dut: DUT, data: bytes) -> None:
    dut.udp_send(PORT, data, NEIGHBOUR, TESTER_PORT)


@rfc("RFC1122-2.3.2.1-1", "RFC1122-2.3.2.1-2", "RFC826-RelatedIssue-2")
def test_out_of_date_entry_is_revalidated_then_flushed(dut: DUT) -> None:
    dut.set_timer("arp_cache_timeout", TIMEOUT_S)
    dut.udp_bind(PORT)
    # Resolve the neighbour: a broadcast request, answered.
    _send(dut, b"first")
    dut.expect(ARP(op=1, pdst=NEIGHBOUR))
    dut.send(Ether(src=NEIGHBOUR_MAC, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=NEIGHBOUR_MAC, psrc=NEIGHBOUR, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))
    sent = dut.expect(IP(dst=NEIGHBOUR), UDP(sport=PORT))
    assert sent[Ether].dst.lower() == NEIGHBOUR_MAC
    # Past the timeout the entry is out of date: using it makes the DUT ask again.
    dut.wait(OUT_OF_DATE_S)
    _send(dut, b"after the timeout")
    dut.expect(ARP(op=1, pdst=NEIGHBOUR), within=PROBE_WITHIN_S)
    # The neighbour stays silent: the entry is flushed, so the next datagram is not sent to the
    # old address but waits for a fresh (broadcast) resolution.
    dut.wait(GIVE_UP_S)
    _send(dut, b"after the flush")
    dut.expect(Ether(dst="ff:ff:ff:ff:ff:ff"), ARP(op=1, pdst=NEIGHBOUR))
    dut.expect_none(Ether(dst=NEIGHBOUR_MAC), IP(dst=NEIGHBOUR), Raw(load=b"after the flush"), within=0.5)


def _reply(dut: DUT, address: str) -> None:
    mac = GATEWAYS.get(address, NEIGHBOUR_MAC)
    dut.send(Ether(src=mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=mac, psrc=address, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))


@rfc("RFC1122-3.3.1.5-1", "RFC1122-3.3.1.4-1", "RFC1122-3.3.1.4-5")
def test_failed_default_gateway_gives_way_to_one_that_answered_since_it_failed(dut: DUT) -> None:
    # RFC 1122 3.3.1.4: "Failure to ARP or to re-validate ARP mappings may be used as negative
    # advice for the corresponding IP address." Both gateways fail to ARP; then one of them
    # answers a request again, which is positive advice on it. The current default, still
    # silent, has failed: "the IP layer MUST select a different default gateway" (3.3.1.5), and
    # the one that answered is the gateway to go to, its earlier failure no reason to avoid it.
    dut.add_route("0.0.0.0/0", via="198.51.100.11")
    dut.add_route("0.0.0.0/0", via="198.51.100.12")
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"through the default", OFF_LINK, TESTER_PORT)
    current = dut.expect(ARP(op=1))[ARP].pdst
    assert current in GATEWAYS, f"the DUT resolved {current} for an off-link destination, not a default gateway"
    other = next(gw for gw in GATEWAYS if gw != current)
    # The other gateway's resolution starts after the current one's (so it also fails later),
    # prompted by a datagram to its own address; neither is answered.
    dut.wait(0.2)
    dut.udp_send(PORT, b"to the other gateway", other, TESTER_PORT)
    for _ in range(REQUESTS):
        dut.expect(ARP(op=1, pdst=other))
    # Once the DUT has given up on the other gateway, a new datagram to it makes a new request:
    # that one is answered. (Datagrams sent while the first resolution still runs wait with it
    # and are discarded when it fails: send until a request comes.)
    deadline, n = dut.now() + 2 * GIVE_UP_S, 0
    while True:
        n += 1
        dut.udp_send(PORT, f"to the other gateway, again {n}".encode(), other, TESTER_PORT)
        try:
            dut.expect(ARP(op=1, pdst=other), within=0.5)
            break
        except ExpectationFailed:
            assert dut.now() < deadline, f"the DUT made no new request for {other} after its first {REQUESTS}"
    _reply(dut, other)
    dut.expect(Ether(dst=GATEWAYS[other]), IP(dst=other), Raw(load=f"to the other gateway, again {n}".encode()))
    # The current default failed to ARP before the other one did; off-link traffic now goes to
    # the gateway that answered, at once.
    dut.udp_send(PORT, b"after both failed, one answered", OFF_LINK, TESTER_PORT)
    try:
        sent = dut.expect(IP(dst=OFF_LINK), UDP(sport=PORT), Raw(load=b"after both failed, one answered"))
    except ExpectationFailed:
        raise AssertionError(
            f"{current} failed to ARP and {other} answered since: no off-link datagram went out within 2 s "
            f"(the DUT kept to the failed default gateway)") from None
    assert sent[Ether].dst.lower() == GATEWAYS[other], (
        f"the off-link datagram went to {sent[Ether].dst}, not to {other} ({GATEWAYS[other]}), "
        f"the gateway that answered after {current} failed to ARP")


@rfc("RFC826-WhyIsItDoneThisWay-4")
def test_arp_words_are_sent_most_significant_byte_first(dut: DUT) -> None:
    other, other_mac = str(dut.info.other_ipv4), dut.info.other_mac
    dut.send(Ether(src=other_mac, dst="ff:ff:ff:ff:ff:ff")
             / ARP(op=1, hwsrc=other_mac, psrc=other, pdst=str(dut.info.dut_ipv4.ip)))
    reply = bytes(dut.expect(ARP(op=2, pdst=other)))
    # ar$hrd (Ethernet, 1), ar$pro (IP, 0x0800), then the two length octets, then ar$op (reply, 2).
    hrd, pro, op = reply[14:16], reply[16:18], reply[20:22]
    assert (hrd, pro, op) == (b"\x00\x01", b"\x08\x00", b"\x00\x02"), (
        f"ar$hrd {hrd.hex()}, ar$pro {pro.hex()}, ar$op {op.hex()}: not most significant byte first")
