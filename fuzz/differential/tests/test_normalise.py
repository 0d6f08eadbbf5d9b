"""The normaliser: what may legitimately differ between two stacks' answers is taken out, and
nothing else is."""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrHopByHop,
    PadN,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from fuzz.differential.normalise import Context, Token, normalise
from fuzz.differential.stimulus import Stimulus
from fuzz.differential.symbols import Symbols
from harness.backends.base import TEST_LINK

L = TEST_LINK
SYMBOLS = Symbols(L)
TO_TESTER: dict[str, Any] = {"src": L.dut_mac, "dst": L.tester_mac}


def _stimulus(*frames: Packet) -> Stimulus:
    return Stimulus("test", tuple(bytes(f) for f in frames))


def _echo4() -> Packet:
    return (Ether(src=L.tester_mac, dst=L.dut_mac) / IP(src=str(L.tester_ipv4), dst=str(L.dut_ipv4.ip))
            / ICMP(id=7, seq=1) / b"payload")


def _reply4(**ip: Any) -> bytes:
    return bytes(Ether(**TO_TESTER) / IP(src=str(L.dut_ipv4.ip), dst=str(L.tester_ipv4), **ip)
                 / ICMP(type=0, id=7, seq=1) / b"payload")


def _tokens(stimulus: Stimulus, *frames: bytes) -> tuple[Token, ...]:
    return normalise(frames, Context.of(stimulus), SYMBOLS)


def test_ip_identification_and_checksum_values_do_not_count() -> None:
    stim = _stimulus(_echo4())
    assert _tokens(stim, _reply4(id=1)) == _tokens(stim, _reply4(id=0xBEEF))


def test_an_echo_reply_is_named_by_roles_and_checks_the_data_it_carries_back() -> None:
    stim = _stimulus(_echo4())
    (token,) = _tokens(stim, _reply4())
    attrs = dict(token.attrs)
    assert token.kind == "IPv4 | ICMP echo-reply"
    assert (attrs["src"], attrs["dst"], attrs["code"], attrs["data"]) == ("DUT4", "TESTER4", "0", "as-request")
    wrong = bytes(Ether(**TO_TESTER) / IP(src=str(L.dut_ipv4.ip), dst=str(L.tester_ipv4))
                  / ICMP(type=0, id=7, seq=1) / b"payloax")
    assert dict(_tokens(stim, wrong)[0].attrs)["data"].startswith("differs")


def test_a_wrong_checksum_is_seen_and_a_right_one_is_not_written() -> None:
    stim = _stimulus(_echo4())
    bad = Ether(_reply4())
    bad[ICMP].chksum ^= 0x0101
    (token,) = _tokens(stim, bytes(bad))
    assert ("chksum", "bad") in token.attrs
    assert not any(name == "chksum" for name, _ in _tokens(stim, _reply4())[0].attrs)


def test_the_order_of_answers_does_not_count() -> None:
    stim = _stimulus(_echo4())
    other = bytes(Ether(**TO_TESTER) / IP(src=str(L.dut_ipv4.ip), dst=str(L.tester_ipv4)) / ICMP(type=0, id=9))
    assert _tokens(stim, _reply4(), other) == _tokens(stim, other, _reply4())


def test_a_parameter_problem_pointer_is_the_field_it_points_at() -> None:
    sent = (Ether(src=L.tester_mac, dst=L.dut_mac) / IPv6(src=str(L.tester_ipv6), dst=str(L.dut_ipv6.ip))
            / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0"), HBHOptUnknown(otype=0x9E, optdata=b"\0\0")])
            / ICMPv6EchoRequest(id=1))
    error = bytes(Ether(**TO_TESTER) / IPv6(src=str(L.dut_ipv6.ip), dst=str(L.tester_ipv6))
                  / ICMPv6ParamProblem(code=2, ptr=46) / bytes(sent[IPv6]))
    (token,) = _tokens(_stimulus(sent), error)
    attrs = dict(token.attrs)
    assert attrs["ptr"] == "hbh.opt(0x9e).type"
    assert attrs["quote"] == "max"  # the whole invoking packet fits in 1280 octets


def test_the_ipv6_flow_label_does_not_count_but_the_traffic_class_does() -> None:
    sent = (Ether(src=L.tester_mac, dst=L.dut_mac) / IPv6(src=str(L.tester_ipv6), dst=str(L.dut_ipv6.ip))
            / ICMPv6EchoRequest(id=3, seq=1, data=b"x"))
    stim = _stimulus(sent)

    def reply(**ip: Any) -> bytes:
        return bytes(Ether(**TO_TESTER) / IPv6(src=str(L.dut_ipv6.ip), dst=str(L.tester_ipv6), **ip)
                     / ICMPv6EchoReply(id=3, seq=1, data=b"x"))

    assert _tokens(stim, reply(fl=0x12345)) == _tokens(stim, reply(fl=0))
    assert _tokens(stim, reply(tc=0x20)) != _tokens(stim, reply(tc=0))


def test_an_icmpv4_quote_is_classed_by_what_rfc_1122_allows() -> None:
    sent = (Ether(src=L.tester_mac, dst=L.dut_mac) / IP(src=str(L.tester_ipv4), dst=str(L.dut_ipv4.ip))
            / UDP(sport=9, dport=9) / (b"z" * 100))
    l3 = bytes(sent[IP])

    def error(quote: bytes) -> bytes:
        return bytes(Ether(**TO_TESTER) / IP(src=str(L.dut_ipv4.ip), dst=str(L.tester_ipv4))
                     / ICMP(type=3, code=3) / quote)

    stim = _stimulus(sent)
    assert dict(_tokens(stim, error(l3))[0].attrs)["quote"] == "whole"
    assert dict(_tokens(stim, error(l3[:28]))[0].attrs)["quote"] == "head"  # header + 8 octets
    assert dict(_tokens(stim, error(l3[:24]))[0].attrs)["quote"] == "short"


def test_neighbor_advertisement_flags_and_options_are_kept() -> None:
    stim = _stimulus(_echo4())
    na = bytes(Ether(**TO_TESTER) / IPv6(src=str(L.dut_ipv6.ip), dst=str(L.tester_ipv6), hlim=255)
               / ICMPv6ND_NA(tgt=str(L.dut_ipv6.ip), R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=L.dut_mac))
    attrs = dict(_tokens(stim, na)[0].attrs)
    assert (attrs["target"], attrs["flags"], attrs["options"]) == ("DUT6", "SO", "tlla:DUT")


def test_an_address_outside_the_link_is_named_by_its_relation_to_the_stimulus() -> None:
    sent = (Ether(src=L.tester_mac, dst=L.dut_mac) / IP(src="203.0.113.9", dst=str(L.dut_ipv4.ip))
            / UDP(sport=9, dport=9))
    reply = bytes(Ether(**TO_TESTER) / IP(src=str(L.dut_ipv4.ip), dst="203.0.113.9") / ICMP(type=3, code=3)
                  / IPerror(bytes(sent[IP])[:20]) / UDPerror(bytes(sent[UDP])))
    assert dict(_tokens(_stimulus(sent), reply)[0].attrs)["dst"] == "stim.src"


def test_garbage_is_a_token_not_an_exception() -> None:
    (token,) = _tokens(_stimulus(_echo4()), b"\x00\x01")
    assert token.kind.startswith(("undecodable", "ethertype"))
