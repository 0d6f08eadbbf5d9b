"""The lwIP backend's C agent: it passes the control protocol's own conformance test
(``harness.control.agent_check``) and the lwIP DUT starts, restarts and cleans up after itself.

Needs root (a namespace with a TAP device) and the agent built (``make system-deps`` as root,
or liblwip-dev and libcjson-dev installed, from which the test builds it).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

from harness.backends import lifecycle, lwip
from harness.backends.base import TEST_LINK
from harness.backends.lifecycle import BeforeEach
from harness.control.agent_check import (  # the protocol's own checks, run here against the lwIP agent
    agent,
    test_a_line_that_is_not_a_request_gets_bad_request,
    test_each_declared_verb_answers_with_its_type_or_a_reason,
    test_hello_names_the_agent_its_protocol_version_and_verbs,
    test_hello_refuses_a_version_it_does_not_speak,
    test_lacking_verbs_are_refused_with_their_reason,
    test_missing_and_unknown_arguments_get_bad_arguments,
    test_reset_is_idempotent_and_undoes_a_test,
    test_unknown_verb_gets_unknown_verb_and_the_connection_goes_on,
)
from harness.tcp_peer import TCPPeer

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(lwip.check_available() is not None, reason=str(lwip.check_available())),
]

__all__ = ["agent", "test_a_line_that_is_not_a_request_gets_bad_request", "test_each_declared_verb_answers_with_its_type_or_a_reason", "test_hello_names_the_agent_its_protocol_version_and_verbs", "test_hello_refuses_a_version_it_does_not_speak", "test_lacking_verbs_are_refused_with_their_reason", "test_missing_and_unknown_arguments_get_bad_arguments", "test_reset_is_idempotent_and_undoes_a_test", "test_unknown_verb_gets_unknown_verb_and_the_connection_goes_on"]  # collected by pytest from here


@pytest.fixture
def agent_address() -> Iterator[str]:
    """The lwIP agent on a TAP in a namespace of its own, for one test."""
    agent = lwip.build()
    space = lifecycle.TapNamespace(TEST_LINK)
    rundir = tempfile.mkdtemp(prefix="stackcheck-test-")
    values = lifecycle.placeholders(TEST_LINK, space.tap, rundir, space.netns)
    command = lwip.command(agent)
    process = None
    try:
        process = lifecycle.DUTProcess([lifecycle.fill(a, values) for a in command.argv], command.ready,
                                       netns=space.netns, timeout=10)
        yield f"unix:{values['control']}"
    finally:
        if process is not None:
            process.stop()
        space.close()
        lifecycle.remove_rundir(rundir)


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_lwip_answers_restarts_and_leaves_nothing_behind() -> None:
    dut = lwip.LwipDUT()
    assert dut.space is not None and dut.process is not None
    netns, rundir = dut.space.netns, dut.rundir
    try:
        assert dut.info.timers == {"ipv4_reassembly_timeout": 15.0, "ipv6_reassembly_timeout": 60.0}
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5C, seq=1) / b"lwip")
        reply = dut.expect(IP(src=str(dut.info.dut_ipv4.ip)) / ICMP(type=0, id=0x5C))
        assert bytes(reply[ICMP].payload) == b"lwip"
        assert dut.responder.answered >= 1, "lwIP has no static neighbors: the tester's responder answered its ARP"
        first = dut.process.process.pid
        dut.reset()
        assert dut.process.process.pid != first and dut.process.exited() is None
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5D, seq=1))
        dut.expect(ICMP, type=0, id=0x5D)
        pid = dut.process.process.pid
    finally:
        dut.close()
    assert netns not in _namespaces()
    assert not Path(rundir).exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.parametrize("before_each", ["nothing", "reset", "restart"])
def test_what_one_test_teaches_lwip_does_not_reach_the_next(before_each: BeforeEach) -> None:
    """The previous test overrides the tester's link-layer address in lwIP's neighbor cache
    with a Neighbor Advertisement (O=1, RFC 4861 §7.2.5); the next one pings. Without a reset
    lwIP answers to the MAC of the previous test, which is why the backend restarts it."""
    dut = lwip.LwipDUT(before_each=before_each)
    try:
        dut.send(dut.ipv6() / ICMPv6EchoRequest(id=1, seq=1))
        dut.expect(Ether(dst=TEST_LINK.tester_mac) / ICMPv6EchoReply(id=1))  # resolved by the responder
        dut.send(dut.ether() / IPv6(src=str(dut.info.tester_ipv6), dst=str(dut.info.dut_ipv6.ip), hlim=255)
                 / ICMPv6ND_NA(tgt=str(dut.info.tester_ipv6), R=0, S=0, O=1)
                 / ICMPv6NDOptDstLLAddr(lladdr=dut.info.other_mac))
        dut.send(dut.ipv6() / ICMPv6EchoRequest(id=2, seq=1))
        dut.expect(Ether(dst=dut.info.other_mac) / ICMPv6EchoReply(id=2))  # lwIP took the override
        dut.reset()  # what the plugin does before the next test
        dut.send(dut.ipv6() / ICMPv6EchoRequest(id=3, seq=1))
        reply = dut.expect(ICMPv6EchoReply(id=3))
        leaked = reply[Ether].dst == dut.info.other_mac
        assert leaked == (before_each == "nothing"), f"reply went to {reply[Ether].dst} after {before_each!r}"
    finally:
        dut.close()


@pytest.mark.parametrize("before_each", ["nothing", "reset"])
def test_reset_ends_every_tcp_listener_and_connection(before_each: BeforeEach) -> None:
    """A test leaves a listener and an accepted connection holding data it never read; ``reset``
    aborts both (its handles become invalid, a SYN to the port is refused), without it they
    live on into the next test."""
    dut = lwip.LwipDUT(before_each=before_each)
    try:
        dut.tcp_listen(7001)
        peer = TCPPeer(dut, 4, dut_port=7001)
        conn = peer.connect_accepted()
        peer.send_data(b"never read")
        peer.expect("A", ack=peer.snd_nxt)
        dut.reset()
        fresh = TCPPeer(dut, 4, dut_port=7001)
        fresh.send_syn()
        answer = fresh.expect(within=2.0)
        if before_each == "reset":
            assert "R" in answer[TCP].flags, f"the listener outlived the reset: {answer.summary()}"
            with pytest.raises(ValueError):
                dut.tcp_state(conn)
        else:
            assert answer[TCP].flags == "SA" and dut.tcp_state(conn) == "ESTABLISHED"
    finally:
        dut.close()
