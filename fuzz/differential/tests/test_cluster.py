"""Signatures and clusters: one behaviour is one finding."""

from __future__ import annotations

from fuzz.differential.cluster import Clusters, signatures
from fuzz.differential.engine import Observation
from fuzz.differential.normalise import Token
from fuzz.differential.stimulus import Stimulus

STIM = Stimulus("ipv4", (b"\x00" * 60,))
DUTS = ["inprocess", "linux"]
ERROR = ("src", "DUT4"), ("dst", "TESTER4"), ("ttl", "64")


def _obs(a: list[Token], b: list[Token]) -> Observation:
    return Observation(STIM, {"inprocess": tuple(sorted(a)), "linux": tuple(sorted(b))}, {}, 0.004)


def test_agreeing_answers_have_no_signature() -> None:
    reply = Token("IPv4 | ICMP echo-reply/0", (("data", "as-request"),))
    assert signatures(_obs([reply], [reply]), DUTS, "shape") == []


def test_an_attribute_chosen_differently_is_one_signature_for_every_error_type() -> None:
    sigs = set()
    for kind in ("IPv4 | ICMP dest-unreach/3", "IPv4 | ICMP time-exceeded/1", "IPv4 | ICMP param-problem/0"):
        ours = Token(kind, (*ERROR, ("tos", "0x00")))
        theirs = Token(kind, (*ERROR, ("tos", "0xc0")))
        sigs |= set(signatures(_obs([ours], [theirs]), DUTS, f"shape of {kind}"))
    assert sigs == {"IPv4 | ICMP error: tos inprocess=0x00 linux=0xc0"}


def test_a_message_only_one_dut_sends_is_named_with_the_kind_of_stimulus() -> None:
    error = Token("IPv4 | ICMP dest-unreach/2", ERROR)
    (sig,) = signatures(_obs([error], []), DUTS, "ipv4 l2=bcast")
    assert sig.startswith("ipv4 l2=bcast => IPv4 | ICMP dest-unreach/2 src=DUT4")
    assert sig.endswith("| from inprocess, not linux")


def test_what_both_sent_alike_is_set_aside() -> None:
    common = Token("IPv4 | ICMP echo-reply/0", (("data", "as-request"),))
    extra = Token("ARP | request", (("sender", "DUT/DUT4"),))
    sigs = signatures(_obs([common, extra], [common]), DUTS, "s")
    assert len(sigs) == 1 and "ARP | request" in sigs[0] and "echo-reply" not in sigs[0]


def test_data_that_differs_is_a_signature_without_the_data() -> None:
    a = Token("IPv6 | ICMPv6 echo-reply/0", (("request", "not-whole-in-stimulus"),), "8#aaaa")
    b = Token("IPv6 | ICMPv6 echo-reply/0", (("request", "not-whole-in-stimulus"),), "8#bbbb")
    assert signatures(_obs([a], [b]), DUTS, "s") == ["IPv6 | ICMPv6 echo-reply/0: data differs"]


def test_three_duts_say_which_sent_it_and_which_did_not() -> None:
    error = Token("IPv6 | ICMPv6 param-problem/1", (("ptr", "ipv6.nh"),))
    obs = Observation(STIM, {"inprocess": (error,), "linux": (), "tap": (error,)}, {}, 0.004)
    (sig,) = signatures(obs, ["inprocess", "linux", "tap"], "s")
    assert sig.endswith("| from inprocess, tap, not linux")


def test_a_cluster_counts_and_reports_only_new_signatures() -> None:
    clusters = Clusters()
    assert clusters.add("sig", STIM, None) is not None
    assert clusters.add("sig", STIM, None) is None
    (cluster,) = list(clusters)
    assert cluster.count == 2 and cluster.example is STIM
