from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness.expect import Expectation, Seen, no_match_report

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def frame(pkt: Packet) -> Ether:
    return Ether(bytes(pkt))  # dissected, as the backends hand them to expect


PORT_UNREACH = frame(
    ETH / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP(type=3, code=3)
    / IP(src="198.51.100.2", dst="198.51.100.1") / UDP(sport=1000, dport=9)
)
ECHO_REPLY = frame(ETH / IP(src="198.51.100.1", dst="198.51.100.2", ttl=64) / ICMP(type=0, id=7) / b"hi")
ECHO6 = frame(ETH / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / ICMPv6EchoReply(id=1, data=b"x"))


def matches(frame: Ether, *layers: object, **fields: object) -> bool:
    return Expectation(layers, fields).matches(frame)  # type: ignore[arg-type]


def test_layer_classes_must_all_be_present() -> None:
    assert matches(ECHO_REPLY, IP, ICMP)
    assert matches(ECHO_REPLY, ICMP)
    assert not matches(ECHO_REPLY, IPv6)
    assert matches(ECHO6, IPv6, ICMPv6EchoReply)


def test_unset_template_fields_match_anything() -> None:
    assert matches(ECHO_REPLY, ICMP(type=0))
    assert matches(ECHO_REPLY, IP(src="198.51.100.1"), ICMP())
    assert not matches(ECHO_REPLY, ICMP(type=8))
    # IP() sets options=[] itself; that must not demand "no options".
    assert matches(frame(ETH / IP(options=[b"\x01\x01\x01\x00"]) / ICMP()), IP(), ICMP)


def test_keyword_fields_apply_to_the_innermost_given_layer() -> None:
    assert matches(ECHO_REPLY, IP, ICMP, type=0, id=7)
    assert not matches(ECHO_REPLY, IP, ICMP, type=8)
    assert matches(ECHO_REPLY, IP(ttl=64), ICMP, type="echo-reply")
    with pytest.raises(TypeError, match="ICMP has no field 'typ'"):
        Expectation([ICMP], {"typ": 0})
    with pytest.raises(TypeError, match="need a layer"):
        Expectation([], {"type": 0})


def test_template_chains_and_predicates() -> None:
    assert matches(ECHO_REPLY, IP(src="198.51.100.1") / ICMP(type=0))
    assert matches(ECHO_REPLY, IP, ttl=lambda t: t > 32)
    assert not matches(ECHO_REPLY, IP, ttl=lambda t: t > 64)
    assert matches(ECHO_REPLY, ICMP, Raw(load=b"hi"))


def test_classes_match_exactly_so_quoted_headers_do_not_count() -> None:
    # The UDP header inside an ICMP error is a UDPerror, not a UDP layer.
    assert not matches(PORT_UNREACH, UDP)
    assert matches(PORT_UNREACH, ICMP(type=3, code=3))


def test_templates_must_appear_in_order() -> None:
    assert matches(ECHO_REPLY, Ether, IP, ICMP)
    assert not matches(ECHO_REPLY, ICMP, IP)


def test_addresses_compare_by_value() -> None:
    assert matches(ECHO6, IPv6(src="2001:DB8:1:0:0::1"))
    assert matches(ECHO_REPLY, Ether(src="02:00:00:00:00:01".upper()))


def test_mismatch_report_lists_frames_and_the_closest_candidates_differences() -> None:
    exp = Expectation([IP, ICMP], {"type": 0, "id": 8})
    seen = [Seen(bytes(f), f, i * 0.5) for i, f in enumerate([ECHO6, ECHO_REPLY, PORT_UNREACH])]
    text = no_match_report(exp, 2.0, seen)
    assert text.startswith("expected IP / ICMP(type=echo-reply, id=0x8) within 2 s;")
    assert "3 frame(s), none matched" in text
    assert "[1] t=0.500s" in text
    assert "closest: [1]" in text
    assert "ICMP.id: expected 0x8, got 0x7" in text
    assert "no frames" in no_match_report(exp, 1.0, [])


def test_unknown_layer_argument_is_rejected() -> None:
    with pytest.raises(TypeError, match="Scapy layer"):
        Expectation(["ICMP"], {})  # type: ignore[list-item]


def test_ns_target_field() -> None:
    ns = frame(ETH / IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt="2001:db8:1::1"))
    assert matches(ns, IPv6(hlim=255), ICMPv6ND_NS(tgt="2001:db8:1::1"))
    assert not matches(ns, ICMPv6ND_NS, tgt="2001:db8:1::9")
