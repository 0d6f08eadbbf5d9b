"""ICMP probes and the answers conformance tests look for, for both families: an Echo Request
is the stimulus most tests use to see whether the DUT processed a packet, and its Echo Reply
(or an ICMPv6 Parameter Problem) is the evidence.

One copy here keeps the probes of different test modules identical; tests import them from
``harness``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ParamProblem, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness.frames import l3_bytes

if TYPE_CHECKING:
    from harness.dut import DUT

ECHO_DATA = b"stackcheck"


def _to_tester(dut: DUT, src: str | None) -> Packet:
    """An IPv6 template: to the tester's global address (and from ``src``, if given)."""
    template = IPv6(dst=str(dut.info.tester_ipv6))
    if src is not None:
        template.src = src
    return template


def echo4(dut: DUT, ident: int, data: bytes = ECHO_DATA, *, seq: int = 1, **ip: Any) -> Packet:
    """An ICMPv4 Echo Request from the tester to the DUT; ``ip`` overrides IPv4 header fields."""
    return dut.ipv4(**ip) / ICMP(type=8, id=ident, seq=seq) / Raw(data)


def echo6(dut: DUT, ident: int, data: bytes = ECHO_DATA, *, seq: int = 1, **ip: Any) -> Packet:
    """An ICMPv6 Echo Request from the tester to the DUT; ``ip`` overrides IPv6 header fields."""
    return dut.ipv6(**ip) / ICMPv6EchoRequest(id=ident, seq=seq, data=data)


def echo_data4(reply: Packet) -> bytes:
    """The Data field of an ICMPv4 echo (reply), delimited by the IP Total Length (not by
    whatever trailer the frame carries)."""
    ip = reply[IP]
    return bytes(ip)[ip.ihl * 4 + 8 : ip.len]


def expect_echo_reply6(dut: DUT, ident: int, *, seq: int = 1, data: bytes | None = None,
                       src: str | None = None) -> Packet:
    """The DUT's ICMPv6 Echo Reply to the tester's global address. With ``data``, assert it
    returns exactly that; with ``src``, that it comes from that address."""
    reply = dut.expect(_to_tester(dut, src), ICMPv6EchoReply(id=ident, seq=seq))
    if data is not None:
        assert bytes(reply[ICMPv6EchoReply].data) == data, "the reply's data differs from the request's"
    return reply


def expect_param_problem(dut: DUT, code: int, *, pointer: int | None = None, quote: bytes | None = None,
                         src: str | None = None) -> Packet:
    """The DUT's ICMPv6 Parameter Problem of ``code`` to the tester's global address. With
    ``pointer``, assert it points there; with ``quote``, that the error quotes exactly those
    octets (the invoking packet from its IPv6 header on); with ``src``, where it comes from."""
    error = dut.expect(_to_tester(dut, src), ICMPv6ParamProblem(code=code))
    if pointer is not None:
        got = error[ICMPv6ParamProblem].ptr
        assert got == pointer, f"pointer {got}, not {pointer}"
    if quote is not None:
        assert l3_bytes(error)[48:] == quote, "the quote is not the invoking packet"
    return error


# ---- for the rate-limit suites: the tokens a bucket earns back during a burst -------------------

DUT_TICK_S = 0.01  # a DUT's clock counts in ticks (Linux: jiffies, 10 ms at HZ=100 at most)


def tokens_earned(errors: Sequence[Packet], refill_s: float) -> tuple[int, float]:
    """The tokens a bucket that earns one every ``refill_s`` seconds got back between the first
    and the last of ``errors`` at the DUT (their arrival times), and that time. A tester
    descheduled in the middle of a burst sends its rest late, and the bucket rightly refills
    meanwhile: a test allows that many errors on top of the burst."""
    spread = float(errors[-1].time) - float(errors[0].time) if errors else 0.0
    return int((spread + DUT_TICK_S) / refill_s), spread


# ---- for the NDP suites: echoes from on-link neighbors, and where the reply goes --------------


def echo_request_from(dut: DUT, src: str, ident: int, *, data: bytes = b"", mac: str | None = None) -> Packet:
    """An ICMPv6 Echo Request (seq 1) to the DUT's global address from on-link ``src``.

    The frame leaves from ``mac`` (default: the link's "other" MAC, so that the DUT learns
    nothing about the tester from it); answering it makes the DUT resolve ``src`` unless it
    already has a Neighbor Cache entry, which is how the NDP tests drive resolution.
    """
    return (
        dut.ether(src=mac or dut.info.other_mac)
        / IPv6(src=src, dst=str(dut.info.dut_ipv6.ip))
        / ICMPv6EchoRequest(id=ident, seq=1, data=data)
    )


def expect_echo_reply_to(dut: DUT, dst: str, ident: int, mac: str, *, within: float | None = None) -> Packet:
    """Assert that the DUT's echo reply (``ident``, seq 1) to ``dst`` goes to link-layer ``mac``;
    return it (its ``time``: when the DUT used the entry).

    The destination MAC of the reply is what shows the DUT's Neighbor Cache entry for ``dst``.
    ``within`` defaults to the DUT's own ``expect`` timeout.
    """
    kw = {} if within is None else {"within": within}
    reply = dut.expect(IPv6(dst=dst), ICMPv6EchoReply(id=ident, seq=1), **kw)
    got = str(reply[Ether].dst).lower()
    assert got == mac, f"echo reply sent to {got}, not to {mac}"
    return reply
