"""The ARP cache over time (RFC 1122 §2.3.2.1, RFC 826 "Related issue"), failure to ARP as
negative advice on a gateway (RFC 1122 §3.3.1.4-3.3.1.5) and the byte order of ARP packets (RFC
826 "Why is it done this way??").

The cache timeout is the DUT's "arp_cache_timeout" timer (Linux base_reachable_time): an entry
not confirmed for about that long is out of date. Waits are real time on real backends, so the
test shortens the timeout rather than waiting out the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, rfc
from harness.time_budget import require_dut_time

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
RETRANS_S: Final = 1.0  # RFC 4861 10 RETRANS_TIMER, Linux's ARP retrans_time


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


def _arp(dut: DUT, op: int, address: str) -> None:
    """An ARP packet from ``address`` (at its MAC) to the DUT: a reply, or a request for the DUT."""
    mac = GATEWAYS[address]
    dut.send(Ether(src=mac, dst=dut.info.dut_mac if op == 2 else "ff:ff:ff:ff:ff:ff")
             / ARP(op=op, hwsrc=mac, psrc=address, hwdst=dut.info.dut_mac if op == 2 else "00:00:00:00:00:00",
                   pdst=str(dut.info.dut_ipv4.ip)))


def _two_default_gateways(dut: DUT, data: bytes) -> tuple[str, str]:
    """Give the DUT both default gateways and send ``data`` off-link: the gateway it resolves
    for that (the current default), and the other one."""
    for gateway in GATEWAYS:
        dut.add_route("0.0.0.0/0", via=gateway)
    dut.udp_bind(PORT)
    dut.udp_send(PORT, data, OFF_LINK, TESTER_PORT)
    current = str(dut.expect(ARP(op=1))[ARP].pdst)
    assert current in GATEWAYS, f"the DUT resolved {current} for an off-link destination, not a default gateway"
    return current, next(gw for gw in GATEWAYS if gw != current)


def _answered_a_new_request(dut: DUT, other: str) -> None:
    """Once the DUT has given up on ``other``, a new datagram to it makes a new request: answer it.
    (Datagrams sent while the first resolution still runs wait with it and are discarded when it
    fails: send until a request comes.)"""
    deadline, n = dut.now() + 2 * GIVE_UP_S, 0
    while True:
        n += 1
        data = f"to the other gateway, again {n}".encode()
        dut.udp_send(PORT, data, other, TESTER_PORT)
        try:
            dut.expect(ARP(op=1, pdst=other), within=0.5)
            break
        except ExpectationFailed:
            assert dut.now() < deadline, f"the DUT made no new request for {other} after its first resolution ended"
    _arp(dut, 2, other)
    dut.expect(Ether(dst=GATEWAYS[other]), IP(dst=other), Raw(load=data))


def _asked_then_replied(dut: DUT, other: str) -> None:
    """After the DUT gave up on ``other`` (RetransTimer after the last request; a second more for a
    loaded DUT, counted from that request), ``other`` asks for the DUT's address, then sends it an
    ARP reply: the DUT learns it anew, then hears from it."""
    dut.wait(0.5)
    _arp(dut, 1, other)
    dut.expect(ARP(op=2, pdst=other))
    _arp(dut, 2, other)
    dut.barrier()  # an in-order DUT has taken the reply in before the next datagram is sent


@pytest.mark.parametrize("revived", [_answered_a_new_request, _asked_then_replied],
                         ids=["answers-a-new-request", "asks-then-replies"])
@rfc("RFC1122-3.3.1.5-1", "RFC1122-3.3.1.4-1", "RFC1122-3.3.1.4-5")
def test_failed_default_gateway_gives_way_to_one_heard_from_since_it_failed(
    dut: DUT, revived: Callable[[DUT, str], None]
) -> None:
    # RFC 1122 3.3.1.4: "Failure to ARP or to re-validate ARP mappings may be used as negative
    # advice for the corresponding IP address." Both gateways fail to ARP; then one of them is
    # heard from again in ARP, which is positive advice on it. The current default, still
    # silent, has failed: "the IP layer MUST select a different default gateway" (3.3.1.5), and
    # the one heard from is the gateway to go to, its earlier failure no reason to avoid it.
    current, other = _two_default_gateways(dut, b"through the default")
    # The other gateway's resolution starts after the current one's (so it also fails later),
    # prompted by a datagram to its own address; neither is answered.
    dut.wait(0.2)
    dut.udp_send(PORT, b"to the other gateway", other, TESTER_PORT)
    # Its requests end (RFC 1122 leaves the count to the implementation): no request for
    # RetransTimer and more after the last one.
    while True:
        try:
            dut.expect(ARP(op=1, pdst=other), within=RETRANS_S + 0.5)
        except ExpectationFailed:
            break
    revived(dut, other)
    # The current default failed to ARP before the other one did; off-link traffic now goes to
    # the gateway heard from since, at once.
    dut.udp_send(PORT, b"after both failed, one revived", OFF_LINK, TESTER_PORT)
    try:
        sent = dut.expect(IP(dst=OFF_LINK), UDP(sport=PORT), Raw(load=b"after both failed, one revived"))
    except ExpectationFailed:
        raise AssertionError(
            f"{current} failed to ARP and {other} was heard from since: no off-link datagram went out within 2 s "
            f"(the DUT kept to the failed default gateway)") from None
    assert sent[Ether].dst.lower() == GATEWAYS[other], (
        f"the off-link datagram went to {sent[Ether].dst}, not to {other} ({GATEWAYS[other]}), "
        f"the gateway heard from after {current} failed to ARP")


@rfc("RFC1122-3.3.1.5-1", "RFC1122-3.3.1.4-1")
def test_default_gateway_that_fails_revalidation_is_left_at_once(dut: DUT) -> None:
    # RFC 1122 3.3.1.4: "Failure to ARP or to re-validate ARP mappings may be used as negative
    # advice for the corresponding IP address." The current default gateway answered once, then
    # stays silent, also to the re-validation of its out-of-date entry (unicast requests). The
    # DUT may keep sending through it while it re-validates, or leave it earlier; but the first
    # datagram it does not send through it must go to the other gateway ("the IP layer MUST
    # select a different default gateway", 3.3.1.5), not to a new resolution of the failed one.
    window_s = OUT_OF_DATE_S + PROBE_WITHIN_S + GIVE_UP_S + 2.0
    require_dut_time(dut, window_s)
    dut.set_timer("arp_cache_timeout", TIMEOUT_S / 2)
    current, other = _two_default_gateways(dut, b"first")
    _arp(dut, 2, current)
    dut.expect(Ether(dst=GATEWAYS[current]), IP(dst=OFF_LINK), Raw(load=b"first"))
    dut.wait(1.5 * TIMEOUT_S / 2 + 0.5)  # out of date: using it now starts its re-validation
    deadline, n = dut.now() + window_s, 0
    while True:
        n += 1
        data = f"after the last answer {n}".encode()
        dut.udp_send(PORT, data, OFF_LINK, TESTER_PORT)
        frame = _datagram_or_request(dut, GATEWAYS[current])
        if IP in frame and frame[Ether].dst.lower() == GATEWAYS[current]:
            assert dut.now() < deadline, (
                f"{current} has answered nothing for {window_s:g} s, not even its re-validation, "
                "and the DUT still sends through it")
            dut.wait(0.5)
            continue
        break
    assert ARP in frame and frame[ARP].pdst == other, (
        f"{current} stopped answering; the first datagram the DUT did not send through it made it send "
        f"{frame.summary()}, not a request for the other gateway {other}")
    _arp(dut, 2, other)
    dut.expect(Ether(dst=GATEWAYS[other]), IP(dst=OFF_LINK), Raw(load=data))


def _datagram_or_request(dut: DUT, revalidated_mac: str) -> Packet:
    """The DUT's next datagram from PORT or ARP request, skipping its unicast requests to
    ``revalidated_mac`` (a re-validation) and its other frames."""
    while True:
        frame = dut.expect(Ether, within=2.0)
        if UDP in frame and frame[UDP].sport == PORT:
            return frame
        if ARP in frame and frame[ARP].op == 1 and frame[Ether].dst.lower() != revalidated_mac:
            return frame


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
