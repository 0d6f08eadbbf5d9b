"""The linux backend: the kernel in a network namespace, driven over veth through the DUT verbs.

Most tests share one LinuxDUT (set-up costs ~0.2 s) and reset it before each test, the shape
the plugin uses; the life-cycle tests build their own. Every namespace is removed in a
finally, and one test checks that the root namespace gained no address, route or link.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport2,
    ICMPv6ND_NS,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from harness import backends
from harness.backends.linux import setup as linux_setup
from harness.backends.linux.dut import AgentFailed, LinuxDUT, check_available

REASON = check_available()
needs_root = pytest.mark.skipif(
    REASON is not None, reason=f"needs root for network namespaces ({REASON})"
)


def _ip_json(*args: str, netns: str | None = None) -> Any:
    cmd = ["ip", *(["-n", netns] if netns else []), "-j", *args]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")


def _root_state() -> dict[str, Any]:
    """Addresses, routes and link names of the root namespace (what we must never change)."""
    addrs = sorted(
        (link["ifname"], a["local"], a["prefixlen"])
        for link in _ip_json("addr", "show")
        for a in link.get("addr_info", [])
        # The kernel may add or drop link-locals on its own; a harness never adds a global one.
        if a.get("scope") != "link"
    )
    routes = [sorted(json.dumps(r, sort_keys=True) for r in _ip_json(fam, "route", "show", "table", "all"))
              for fam in ("-4", "-6")]
    links = sorted(link["ifname"] for link in _ip_json("link", "show"))
    return {"addrs": addrs, "routes": routes, "links": links}


# ---- frames --------------------------------------------------------------------------------
@needs_root
def test_ipv4_echo_request_gets_a_reply(kernel: LinuxDUT) -> None:
    kernel.send(kernel.ipv4() / ICMP(type=8, id=0x5C, seq=7) / Raw(b"stackcheck"))
    reply = kernel.expect(ICMP(type=0, id=0x5C, seq=7), within=1.0)
    assert reply[IP].src == "198.51.100.1" and reply[IP].dst == "198.51.100.2"
    assert reply[Ether].src == "02:00:00:00:00:01" and reply[Ether].dst == "02:00:00:00:00:02"
    assert bytes(reply[ICMP].payload) == b"stackcheck"


@needs_root
@pytest.mark.parametrize("dst", ["2001:db8:1::1", "fe80::ff:fe00:1"], ids=["global", "link-local"])
def test_ipv6_echo_request_gets_a_reply(kernel: LinuxDUT, dst: str) -> None:
    src = "2001:db8:1::2" if dst.startswith("2001") else "fe80::ff:fe00:2"
    kernel.send(kernel.ipv6(src=src, dst=dst) / ICMPv6EchoRequest(id=0x5C, seq=8, data=b"stackcheck"))
    reply = kernel.expect(ICMPv6EchoReply(id=0x5C, seq=8), within=1.0)
    assert reply[IPv6].src == dst and reply[IPv6].dst == src
    assert reply[ICMPv6EchoReply].data == b"stackcheck"


# ---- UDP --------------------------------------------------------------------------------------
def _checksum_is_right(frame: Any) -> bool:
    again = frame.copy()
    del again[UDP].chksum
    return bool(Ether(bytes(again))[UDP].chksum == frame[UDP].chksum)


@needs_root
@pytest.mark.parametrize("family", [4, 6])
def test_udp_bind_recv_send_round_trip(kernel: LinuxDUT, family: int) -> None:
    kernel.udp_bind(4000, family=family)  # type: ignore[arg-type]
    head = kernel.ipv4() if family == 4 else kernel.ipv6()
    tester = "198.51.100.2" if family == 4 else "2001:db8:1::2"
    kernel.send(head / UDP(sport=5000, dport=4000) / Raw(b"ping"))
    assert kernel.udp_recv(4000, within=1.0) == (b"ping", tester, 5000)
    kernel.udp_send(4000, b"pong", tester, 5000)
    out = kernel.expect(UDP(sport=4000, dport=5000), within=1.0)
    assert bytes(out[UDP].payload) == b"pong"
    # Checksum offload is off on the DUT's veth end, so the tester sees a complete checksum.
    assert _checksum_is_right(out)
    kernel.udp_close(4000)


@needs_root
def test_udp_datagram_with_a_bad_checksum_is_not_delivered(kernel: LinuxDUT) -> None:
    # veth must not mark the tester's frames "checksum verified": the kernel checks them.
    kernel.udp_bind(4001)
    kernel.send(kernel.ipv4() / UDP(sport=5000, dport=4001, chksum=0x1234) / Raw(b"bad"))
    assert kernel.udp_recv(4001, within=0.2) is None


@needs_root
def test_udp_recv_returns_none_after_the_window(kernel: LinuxDUT) -> None:
    kernel.udp_bind(4002)
    assert kernel.udp_recv(4002, within=0.05) is None


@needs_root
def test_agent_errors_are_one_line_exceptions(kernel: LinuxDUT) -> None:
    with pytest.raises(AgentFailed, match="no UDP socket is bound to port 4003"):
        kernel.udp_recv(4003, within=0.0)
    kernel.udp_bind(4003)
    with pytest.raises(AgentFailed, match="already bound"):
        kernel.udp_bind(4003)
    with pytest.raises(AgentFailed) as info:
        kernel.remove_address("198.51.100.99/24")
    assert "\n" not in str(info.value)


@needs_root
def test_the_machines_own_prefixes_are_refused(kernel: LinuxDUT) -> None:
    with pytest.raises(ValueError, match="machine's own network"):
        kernel.add_address("192.0.2.9/24")


# ---- addresses -----------------------------------------------------------------------------------
@needs_root
def test_added_address_answers_and_removed_address_does_not(kernel: LinuxDUT) -> None:
    kernel.add_address("198.51.100.7/24")
    kernel.add_address("2001:db8:1::7/64")
    kernel.send(kernel.ipv4(dst="198.51.100.7") / ICMP(type=8, id=1, seq=1))
    kernel.expect(ICMP(type=0, id=1, seq=1), within=3.0)
    kernel.send(kernel.ipv6(dst="2001:db8:1::7") / ICMPv6EchoRequest(id=1, seq=2))
    kernel.expect(ICMPv6EchoReply(id=1, seq=2), within=3.0)
    kernel.remove_address("198.51.100.7/24")
    kernel.remove_address("2001:db8:1::7/64")
    kernel.send(kernel.ipv4(dst="198.51.100.7") / ICMP(type=8, id=1, seq=3))
    kernel.send(kernel.ipv6(dst="2001:db8:1::7") / ICMPv6EchoRequest(id=1, seq=4))
    kernel.expect_none(ICMP(type=0, id=1, seq=3), within=0.2)
    kernel.expect_none(ICMPv6EchoReply(id=1, seq=4), within=0.0)


# ---- timers, forwarding, groups ------------------------------------------------------------------
@needs_root
def test_set_timer_rounds_up_and_the_kernel_uses_it(kernel: LinuxDUT) -> None:
    kernel.set_timer("ipv4_reassembly_timeout", 0.4)
    assert kernel.info.timers["ipv4_reassembly_timeout"] == 1.0
    assert kernel._call("x_linux_sysctl_get", name="ipv4/ipfrag_time") == "1"
    # A first fragment alone times out after the timer: RFC 792 Time Exceeded, code 1.
    kernel.send(kernel.ipv4(id=0x77, flags="MF", frag=0, proto=1) / Raw(bytes(ICMP(type=8)) + b"x" * 24))
    kernel.expect(ICMP(type=11, code=1), within=2.5)


@needs_root
def test_ipv6_reassembly_timer_expires_into_time_exceeded(kernel: LinuxDUT) -> None:
    kernel.set_timer("ipv6_reassembly_timeout", 1)
    first = kernel.ipv6() / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=0x77) / Raw(
        bytes(ICMPv6EchoRequest()) + b"x" * 24)
    kernel.send(first)
    kernel.expect(ICMPv6TimeExceeded(code=1), within=2.5)


@needs_root
def test_set_forwarding_switches_the_sysctl(kernel: LinuxDUT) -> None:
    kernel.set_forwarding(6, True)
    kernel.set_forwarding(4, True)
    assert kernel._call("x_linux_sysctl_get", name="ipv6/conf/all/forwarding") == "1"
    assert kernel._call("x_linux_sysctl_get", name="ipv4/ip_forward") == "1"


@needs_root
def test_the_dut_runs_the_congestion_control_its_identity_names(kernel: LinuxDUT) -> None:
    # Whatever the machine's default (BBR here): RFC 5681's Reno, as results.json reports it.
    named = backends.get("linux").identity(None)["tcp_congestion_control"]
    assert named == "reno"
    assert kernel._call("x_linux_sysctl_get", name="ipv4/tcp_congestion_control") == named


@needs_root
def test_join_group_sends_reports(kernel: LinuxDUT) -> None:
    kernel.join_group("ff02::1:3")
    report = kernel.expect(ICMPv6MLReport2, within=1.0)
    assert report[IPv6].dst == "ff02::16"
    kernel.join_group("224.1.2.3")
    report4 = kernel.expect(IP(dst="224.0.0.22", proto=2), within=1.0)
    assert report4[IP].src == "198.51.100.1"
    kernel.leave_group("224.1.2.3")
    with pytest.raises(AgentFailed, match=r"cannot leave group 224\.1\.2\.4"):
        kernel.leave_group("224.1.2.4")


@needs_root
def test_reset_returns_to_the_baseline(kernel: LinuxDUT) -> None:
    kernel.add_address("198.51.100.8/24")
    kernel.remove_address("2001:db8:1::1/64")
    kernel.udp_bind(4010)
    kernel.join_group("ff02::1:4")
    kernel.set_forwarding(4, True)
    kernel.set_timer("ipv6_reassembly_timeout", 5)
    kernel.reset()
    assert kernel.info.timers == {"ipv4_reassembly_timeout": 2.0, "ipv6_reassembly_timeout": 2.0,
                                  "ipv6_pmtu_expiry": 600.0, "arp_cache_timeout": 30.0}
    assert kernel._call("x_linux_sysctl_get", name="ipv6/ip6frag_time") == "2"
    assert kernel._call("x_linux_sysctl_get", name="ipv4/ip_forward") == "0"
    assert sorted(kernel._call("x_linux_ip_addresses")) == sorted(
        ["198.51.100.1/24", "2001:db8:1::1/64", "fe80::ff:fe00:1/64"])
    kernel.udp_bind(4010)  # the socket was closed, so the port is free again
    assert not kernel.backlog
    kernel.send(kernel.ipv6() / ICMPv6EchoRequest(id=2, seq=1))
    kernel.expect(ICMPv6EchoReply(id=2, seq=1), within=1.0)


@needs_root
def test_reset_leaves_no_report_retransmissions_for_the_next_test(kernel: LinuxDUT) -> None:
    # Joins (a socket's group, a new address's solicited-node group) and the leaves reset()
    # causes are retransmitted up to the 1 s unsolicited report interval later; reset() must
    # flush them so they do not land in the next test's expectations.
    kernel.add_address("2001:db8:1::9/64")
    kernel.join_group("ff02::1:5")
    kernel.join_group("224.1.2.5")
    kernel.reset()
    kernel.expect_none(ICMPv6MLReport2, within=1.1)
    kernel.expect_none(IP(proto=2), within=0.0)


@needs_root
@pytest.mark.parametrize("change", ["link-local-readded", "address-added-and-removed"])
def test_reset_cancels_the_reports_an_address_change_left_due(kernel: LinuxDUT, change: str) -> None:
    # A link-local address added again as the link's only one: Linux reports the link's groups,
    # and again a random time within the 1 s unsolicited report interval later, from work only
    # the link going down cancels. An address added and removed: its solicited-node group
    # (ff02::1:ff09:abcd, this address's alone) was joined and left, and the leave's report is due
    # again within that interval, while the addresses are the baseline's once more. A soak found
    # each in the next test.
    if change == "link-local-readded":
        kernel.remove_address("fe80::ff:fe00:1/64")
        kernel.add_address("fe80::ff:fe00:1/64")
    else:
        kernel.add_address("2001:db8:1::9:abcd/64")
        kernel.remove_address("2001:db8:1::9:abcd/64")
    kernel.expect(ICMPv6MLReport2, within=1.0)  # control: the link reported the change
    kernel.reset()
    assert kernel.last_reset["bounced"]
    kernel.expect_none(ICMPv6MLReport2, within=1.1)


# ---- life cycle ----------------------------------------------------------------------------------
@needs_root
def test_close_removes_both_namespaces_and_leaves_the_root_namespace_alone() -> None:
    before = _root_state()
    dut = LinuxDUT()
    try:
        names = dut.names
        present = set(linux_setup.netns_names())
        assert {names.dut_ns, names.tester_ns} <= present
        # The veth ends live only inside the two namespaces.
        assert _root_state() == before
        assert [link["ifname"] for link in _ip_json("link", "show", netns=names.tester_ns)
                if link["ifname"] != "lo"] == [names.tester_if]
    finally:
        dut.close()
    listed = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout
    assert names.dut_ns not in listed and names.tester_ns not in listed
    assert _root_state() == before
    dut.close()  # idempotent


@needs_root
def test_a_failure_during_set_up_removes_what_was_created(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[linux_setup.Names] = []
    real = linux_setup.unique_names

    def spy() -> linux_setup.Names:
        created.append(real())
        return created[-1]

    def broken(self: linux_setup.AgentClient, verb: str, args: dict[str, Any] | None = None, *,
               wait: float = 0.0) -> Any:
        raise AgentFailed(f"injected failure in {verb}")

    monkeypatch.setattr(linux_setup, "unique_names", spy)
    monkeypatch.setattr(linux_setup.AgentClient, "call", broken)
    with pytest.raises(AgentFailed, match="injected failure"):
        LinuxDUT()
    present = set(linux_setup.netns_names())
    assert created and not {created[0].dut_ns, created[0].tester_ns} & present


@needs_root
def test_stale_namespaces_of_dead_processes_are_swept() -> None:
    child = subprocess.Popen(["true"])
    child.wait()  # its pid is now (almost certainly) unused
    stale = f"sc-dut-{child.pid}-gw0-1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in linux_setup.sweep_stale()
        assert stale not in linux_setup.netns_names()
    finally:
        linux_setup.delete_netns(stale)


# ---- no root needed ------------------------------------------------------------------------------
def test_without_root_the_reason_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason = check_available()
    assert reason is not None and "needs root" in reason and "--dut inprocess" in reason


def test_names_are_unique_and_fit_interface_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw12")
    a, b = linux_setup.unique_names(), linux_setup.unique_names()
    assert a != b
    assert str(os.getpid()) in a.dut_ns and "gw12" in a.dut_ns
    for n in (a, b):
        assert len(n.dut_if) <= 15 and len(n.tester_if) <= 15


@needs_root
def test_reset_waits_for_queued_fragments_and_only_for_them(kernel: LinuxDUT) -> None:
    lone = kernel.ipv6() / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=0x79) / Raw(
        bytes(ICMPv6EchoRequest()) + b"x" * 24)
    kernel.send(lone)
    assert kernel._call("x_linux_frag_memory") > 0  # the kernel holds the lone first fragment
    started = time.monotonic()
    kernel.reset()  # must outlast the queue, or its Time Exceeded lands in the next test
    assert time.monotonic() - started >= 1.0
    assert kernel._call("x_linux_frag_memory") == 0
    # A completed reassembly leaves nothing queued: the next reset does not wait.
    echo = kernel.ipv6() / ICMPv6EchoRequest(id=0x7A, seq=1, data=b"y" * 56)
    body = bytes(echo[ICMPv6EchoRequest])
    head = kernel.ipv6(nh=44)
    kernel.send(head / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=0x7A) / Raw(body[:32]),
                head / IPv6ExtHdrFragment(nh=58, offset=4, m=0, id=0x7A) / Raw(body[32:]))
    kernel.expect(ICMPv6EchoReply(id=0x7A, seq=1), within=1.0)
    started = time.monotonic()
    kernel.reset()
    assert time.monotonic() - started < 0.5


@needs_root
def test_each_end_receives_on_one_cpu(kernel: LinuxDUT) -> None:
    # Barrier probes need each direction in order: both veth ends steer to one CPU's backlog.
    assert kernel.in_order
    for netns, ifname in ((kernel.names.dut_ns, kernel.names.dut_if), (kernel.names.tester_ns, kernel.names.tester_if)):
        mask = subprocess.run(["ip", "netns", "exec", netns, "cat", f"/sys/class/net/{ifname}/queues/rx-0/rps_cpus"],
                              check=True, capture_output=True, text=True).stdout.strip()
        assert bin(int(mask.replace(",", ""), 16)).count("1") == 1, f"{ifname} in {netns}: rps_cpus {mask}"


@needs_root
def test_state_description_shows_routes_and_neighbors_a_test_added(kernel: LinuxDUT) -> None:
    kernel.add_route("2001:db8:7::/64", via=str(kernel.info.tester_ipv6_ll))
    state = kernel.describe_state()
    assert "$ ip -6 route show table main" in state and "2001:db8:7::/64 via fe80::" in state
    assert f"{kernel.info.tester_ipv6_ll} dev {kernel.names.dut_if} lladdr {kernel.info.tester_mac}" in state
    kernel.reset()
    assert "2001:db8:7::/64" not in kernel.describe_state()


@needs_root
def test_reset_removes_the_route_an_address_with_a_lifetime_leaves(kernel: LinuxDUT) -> None:
    # Linux keeps the prefix route of an address with a lifetime when the address goes, and
    # removing a permanent address of the same prefix first only gives the route that lifetime
    # (check_cleanup_prefix_route): 2001:db8:2::/64 stayed on-link into the next test (soak).
    kernel.add_address("2001:db8:2::5/64", valid_lifetime=3600, preferred_lifetime=0)
    kernel.add_address("2001:db8:2::6/64")
    kernel.reset()
    routes = [line for line in kernel.describe_state().splitlines() if line.startswith("2001:db8:2::")]
    assert routes == []
    kernel.send(kernel.ipv6(src="2001:db8:2::9") / ICMPv6EchoRequest(id=3, seq=1))
    kernel.expect_none(ICMPv6ND_NS, within=0.5, barrier=True)  # no route there: nothing to resolve
    kernel.add_route("2001:db8:2::/64", via=str(kernel.info.tester_ipv6_ll))
    kernel.send(kernel.ipv6(src="2001:db8:2::9") / ICMPv6EchoRequest(id=3, seq=2))  # control
    kernel.expect(ICMPv6EchoReply(id=3, seq=2), within=1.0)
