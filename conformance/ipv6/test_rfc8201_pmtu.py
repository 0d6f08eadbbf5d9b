"""RFC 8201 §4: what a Packet Too Big does to the DUT's path MTU towards the tester.

The DUT sends a 1400-octet UDP datagram (1448 octets of IPv6 packet: it fits the 1500-octet
link); the tester answers with a Packet Too Big quoting it, as a router on the path would;
the size of the DUT's next datagram shows the path MTU it now uses.
"""

from __future__ import annotations

from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6, IPv6ExtHdrFragment
from scapy.packet import Packet, Raw

from harness import DUT, MUST, described, l3_bytes, rfc
from harness.rfc import IPV6_MIN_MTU
from harness.time_budget import require_dut_time

PORT, DPORT = 40900, 40901
UNSENT_PORT = 40902  # bound by no socket of the DUT
SIZE = 1400
PACKET = 40 + 8 + SIZE  # 1448 octets unfragmented


def _send(dut: DUT, size: int = SIZE) -> list[Packet]:
    """Send one datagram and return its frames (one, or its fragments)."""
    src, dst = str(dut.info.dut_ipv6.ip), str(dut.info.tester_ipv6)
    dut.udp_send(PORT, bytes(size), dst, DPORT)
    first = dut.expect(IPv6(src=src, dst=dst))
    if not first.haslayer(IPv6ExtHdrFragment):
        return [first]
    frames = [first]
    ident = first[IPv6ExtHdrFragment].id
    while sum(len(l3_bytes(f)) - 48 for f in frames) < 8 + size:
        frames.append(dut.expect(IPv6(src=src, dst=dst), IPv6ExtHdrFragment(id=ident)))
    return frames


def _packet_too_big(dut: DUT, mtu: int, quoted: Packet) -> None:
    dut.send(dut.ipv6() / ICMPv6PacketTooBig(mtu=mtu) / Raw(l3_bytes(quoted)[: IPV6_MIN_MTU - 48]))
    # Taken in before the next datagram is asked for: the request travels another way than the
    # frame and can overtake it on a loaded machine.
    dut.barrier()


def _lower(dut: DUT, mtu: int) -> None:
    """Open the socket, send a full-size datagram and answer it with a Packet Too Big."""
    dut.udp_bind(PORT, 6)
    # A small datagram first, so the neighbor is resolved: lwIP cut the first datagram it queued
    # for an unresolved neighbor at 1280 octets (a node may always send 1280, RFC 8201 4), once in
    # a full run.
    _send(dut, 8)
    frames = _send(dut)
    assert len(frames) == 1 and len(l3_bytes(frames[0])) == PACKET, "the probe was not sent whole"
    _packet_too_big(dut, mtu, frames[0])


def _sizes(frames: list[Packet]) -> list[int]:
    return [len(l3_bytes(f)) for f in frames]


@rfc("RFC8201-4-4", "RFC8201-1-1", "RFC8201-3-7", "RFC8201-4-6", "RFC8201-4-7", "RFC8201-4-9")
def test_packet_too_big_lowers_the_path_mtu(dut: DUT) -> None:
    _lower(dut, 1300)
    sizes = _sizes(_send(dut))
    assert len(sizes) > 1 and max(sizes) <= 1300, f"after a Packet Too Big of 1300 the DUT sent {sizes}"


# A path MTU that is not a multiple of 8 (1287 = 8 * 160 + 7): the fragments must still fit it,
# each but the last carrying a multiple of 8 octets, so none may be rounded up to 1288.
ODD_MTU = 1287


@rfc("RFC8201-4-4")
def test_fragments_fit_a_path_mtu_that_is_not_a_multiple_of_8(dut: DUT) -> None:
    _lower(dut, ODD_MTU)
    sizes = _sizes(_send(dut))
    assert len(sizes) > 1 and max(sizes) <= ODD_MTU, f"after a Packet Too Big of {ODD_MTU} the DUT sent {sizes}"


@described(8200, "4.5", MUST,
           "Each complete fragment, except possibly the last (\"rightmost\") one, is an integer multiple of "
           "8 octets long.")
def test_fragments_cut_for_a_path_mtu_not_a_multiple_of_8_carry_multiples_of_8_octets(dut: DUT) -> None:
    _lower(dut, ODD_MTU)
    frames = sorted(_send(dut), key=lambda f: f[IPv6ExtHdrFragment].offset)
    lengths = [len(l3_bytes(f)) - 48 for f in frames]  # the Fragmentable Part each one carries
    assert len(frames) > 1, f"after a Packet Too Big of {ODD_MTU} the datagram went out whole"
    assert all(n % 8 == 0 for n in lengths[:-1]), f"fragment lengths {lengths} at a path MTU of {ODD_MTU}"


@rfc("RFC8201-4-2", "RFC8201-4-3", "RFC8201-6-1")
def test_packet_too_big_below_1280_is_discarded(dut: DUT) -> None:
    # Discarded, the message changes nothing: the next full-size datagram still goes out whole
    # (a stack that clamps the value to 1280 instead would fragment it at 1280).
    _lower(dut, 1000)
    frames = _send(dut)
    assert _sizes(frames) == [PACKET], f"after a Packet Too Big of 1000 the DUT sent {_sizes(frames)}"


@rfc("RFC8504-5.1-7")
def test_no_atomic_fragments_after_a_packet_too_big_below_1280(dut: DUT) -> None:
    # RFC 2460 once asked for a Fragment header in every later packet on such a path; RFC 8200
    # dropped that (RFC 8021).
    _lower(dut, 1000)
    frames = _send(dut, 500)
    assert len(frames) == 1 and not frames[0].haslayer(IPv6ExtHdrFragment), "an atomic fragment"


@rfc("RFC8201-4-12", "RFC8201-6-2")
def test_packet_too_big_does_not_raise_the_path_mtu(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    probe, = _send(dut)
    _packet_too_big(dut, 1300, probe)
    _packet_too_big(dut, 1400, probe)  # larger than the current estimate: must be ignored
    sizes = _sizes(_send(dut))
    assert max(sizes) <= 1300, f"after Packet Too Big 1300 then 1400 the DUT sent {sizes}"


@rfc("RFC8201-4-1")
def test_packet_too_big_quoting_a_datagram_no_socket_sent_is_ignored(dut: DUT) -> None:
    # The quote is the DUT's own datagram with its source port changed to one no socket of the
    # DUT has (UNSENT_PORT): from the DUT's address, to the tester, but never sent. It must not
    # lower the path MTU; the same Packet Too Big quoting the datagram as sent does (control).
    dut.udp_bind(PORT, 6)
    probe, = _send(dut)
    forged = probe.copy()
    forged[UDP].sport = UNSENT_PORT
    del forged[UDP].chksum
    _packet_too_big(dut, 1300, IPv6(bytes(forged[IPv6])))
    frames = _send(dut)
    assert _sizes(frames) == [PACKET], f"after a Packet Too Big about a datagram it never sent the DUT sent {_sizes(frames)}"
    _packet_too_big(dut, 1300, frames[0])
    sizes = _sizes(_send(dut))
    assert max(sizes) <= 1300, f"control: a Packet Too Big quoting the datagram it sent had no effect ({sizes})"


@rfc("RFC8201-4-1")
def test_packet_too_big_quoting_another_nodes_packet_is_ignored(dut: DUT) -> None:
    # The DUT's own datagram with the source address of another node on the link (ports and
    # destination kept, so a socket of the DUT would match it by port alone): a packet the DUT
    # could not have sent. It must not lower the path MTU to the tester; the same Packet Too Big
    # quoting the datagram as sent does (control).
    dut.udp_bind(PORT, 6)
    probe, = _send(dut)
    forged = probe.copy()
    forged[IPv6].src = str(dut.info.other_ipv6)
    del forged[UDP].chksum
    _packet_too_big(dut, 1300, IPv6(bytes(forged[IPv6])))
    frames = _send(dut)
    assert _sizes(frames) == [PACKET], (
        f"after a Packet Too Big about another node's packet the DUT sent {_sizes(frames)}")
    _packet_too_big(dut, 1300, frames[0])
    sizes = _sizes(_send(dut))
    assert max(sizes) <= 1300, f"control: a Packet Too Big quoting the datagram it sent had no effect ({sizes})"


@rfc("RFC8201-5.3-2", "RFC8201-5.3-4", "RFC8201-5.6-1")
def test_lowered_path_mtu_is_raised_again_after_the_expiry_timer(dut: DUT) -> None:
    # RFC 8201 §3: "To detect increases in a path's PMTU, a node periodically increases its assumed PMTU."
    # The timer is shortened so the linux run stays quick (RFC 8201 recommends 10 minutes).
    dut.set_timer("ipv6_pmtu_expiry", 2.0)
    _lower(dut, 1300)
    assert max(_sizes(_send(dut))) <= 1300, "the Packet Too Big had no effect"
    dut.wait(dut.info.timers["ipv6_pmtu_expiry"] + 1.0)
    frames = _send(dut)
    assert _sizes(frames) == [PACKET], f"after the expiry the DUT still sent {_sizes(frames)}"


# ---- how soon a larger packet may be tried again, at the DUT's default timer (§4, §5.3) --------------

MINUTE_S = 60.0



@rfc("RFC8201-4-11", "RFC8201-4-10", "RFC8201-3-4")
def test_no_larger_packet_within_five_minutes_of_a_packet_too_big(dut: DUT) -> None:
    require_dut_time(dut, 5 * MINUTE_S)
    _lower(dut, 1300)
    # A full-size datagram every 20 s for five minutes: none may go out larger than 1300 octets.
    started = dut.now()
    while dut.now() - started < 5 * MINUTE_S - 20:
        sizes = _sizes(_send(dut))
        assert max(sizes) <= 1300, (
            f"{dut.now() - started:.0f} s after a Packet Too Big of 1300 the DUT sent {sizes}")
        dut.wait(20)


@rfc("RFC8201-5.3-3")
def test_larger_packet_is_tried_again_after_about_ten_minutes(dut: DUT) -> None:
    # "on the order of 10 minutes": by 15 minutes (and, per §4, not before 5) a full-size
    # datagram goes out whole again.
    require_dut_time(dut, 15 * MINUTE_S)
    _lower(dut, 1300)
    started = dut.now()
    while dut.now() - started < 15 * MINUTE_S:
        dut.wait(MINUTE_S)
        if _sizes(_send(dut)) == [PACKET]:
            assert dut.now() - started >= 5 * MINUTE_S, "a larger packet less than 5 minutes after the Packet Too Big"
            return
    raise AssertionError("15 minutes after a Packet Too Big the DUT still sends datagrams no larger than 1300")
