"""RFC 4443 §3.1: "For security reasons, it is recommended that implementations SHOULD allow
sending of ICMP destination unreachable messages to be disabled, preferably on a per-interface
basis." The switch is ``set_ipv6_option("send_dest_unreachable", 0)`` on the test interface; the
probe is a UDP datagram to a port nothing listens on (a Port Unreachable, RFC 4443 §3.1 code 4).
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import UDP, UDPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.packet import Packet, Raw

from harness import DUT, Unsupported, rfc
from harness.rfc import ICMPv6Unreach

CLOSED_PORT: Final = 33534  # nothing on the DUT listens here
SILENCE_S: Final = 1.0


def _to_closed_port(dut: DUT, sport: int) -> Packet:
    return dut.ipv6() / UDP(sport=sport, dport=CLOSED_PORT) / Raw(b"unreachable")


@rfc("RFC4443-3.1-5")
def test_destination_unreachable_can_be_disabled_on_the_interface(dut: DUT) -> None:
    tester = str(dut.info.tester_ipv6)
    dut.send(_to_closed_port(dut, 40441))  # control: by default the port is reported unreachable
    dut.expect(IPv6(dst=tester), ICMPv6DestUnreach(code=ICMPv6Unreach.PORT), UDPerror(sport=40441, dport=CLOSED_PORT))
    try:
        dut.set_ipv6_option("send_dest_unreachable", 0)
    except Unsupported as e:
        pytest.fail(f"the DUT offers no way to stop sending Destination Unreachable ({e})")
    dut.send(_to_closed_port(dut, 40442))
    dut.expect_none(ICMPv6DestUnreach, within=SILENCE_S, barrier=True)
    # The interface still answers what it should: only Destination Unreachable is off.
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4431, seq=1))
    dut.expect(IPv6(dst=tester), ICMPv6EchoReply(id=0x4431, seq=1))
