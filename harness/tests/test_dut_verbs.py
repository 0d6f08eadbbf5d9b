"""The phase-2 DUT verbs (routes, link MTU, ICMP rate limit, broadcast echo, source routes,
the path-MTU timer) on both backends: what each verb asks of the stack or the kernel, and that
the linux backend's reset() undoes every one of them.

In-process, the verbs are checked at the stack's API boundary (a recorder stands in for the
stack method), so these tests pin down the backend's job, the conversion of units and names,
whatever state the stack's own implementation is in; the conformance suite checks the effect.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest

from harness.backends.inprocess import NIC, InProcessDUT
from harness.backends.linux.dut import LinuxDUT, check_available

REASON = check_available()
needs_root = pytest.mark.skipif(REASON is not None, reason=f"needs root for network namespaces ({REASON})")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def method(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
        return record


@pytest.fixture
def dut() -> Iterator[InProcessDUT]:
    d = InProcessDUT()
    yield d
    d.close()


@pytest.fixture
def recorded(dut: InProcessDUT, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    for name in ("add_route", "set_link_mtu", "set_icmp_rate_limit", "set_echo_ignore_broadcasts",
                 "set_accept_source_route", "set_timer"):
        monkeypatch.setattr(dut.stack, name, rec.method(name), raising=False)
    return rec


# ---- in-process -------------------------------------------------------------------------------
def test_add_route_names_the_test_link_gateway_and_mtu(dut: InProcessDUT, recorded: Recorder) -> None:
    dut.add_route("203.0.113.0/24", via="198.51.100.3", mtu=1280)
    dut.add_route("2001:db8:2::/64")
    assert recorded.calls == [
        ("add_route", ("203.0.113.0/24", NIC), {"gateway": "198.51.100.3", "mtu": 1280}),
        ("add_route", ("2001:db8:2::/64", NIC), {"gateway": None, "mtu": None}),
    ]


def test_remove_route_removes_every_route_to_the_prefix(dut: InProcessDUT) -> None:
    dut.stack.add_route("203.0.113.0/24", NIC, gateway="198.51.100.3")
    dut.stack.add_route("203.0.113.0/24", NIC)
    dut.remove_route("203.0.113.0/24")
    assert not [e for e in dut.stack.routes.entries() if str(e.network) == "203.0.113.0/24"]


def test_remove_route_of_an_unknown_prefix_is_the_stacks_error(dut: InProcessDUT) -> None:
    with pytest.raises(Exception, match="no route"):
        dut.remove_route("203.0.113.0/24")


def test_set_link_mtu_reaches_the_stack_and_info_follows(dut: InProcessDUT, recorded: Recorder) -> None:
    timers = dut.info.timers
    dut.set_link_mtu(1280)
    assert recorded.calls == [("set_link_mtu", (NIC, 1280), {})]
    assert dut.info.mtu == 1280
    assert dut.info.timers is timers


@pytest.mark.parametrize(("verb", "args", "expected"), [
    ("set_icmp_rate_limit", (4, 2.5, 3), ("set_icmp_rate_limit", (4, 2.5, 3), {})),
    ("set_icmp_rate_limit", (6, 0, 0), ("set_icmp_rate_limit", (6, 0, 0), {})),
    ("set_echo_ignore_broadcasts", (False,), ("set_echo_ignore_broadcasts", (False,), {})),
    ("set_accept_source_route", (True,), ("set_accept_source_route", (True,), {})),
    ("set_timer", ("ipv6_pmtu_expiry", 1.5), ("set_timer", ("ipv6_pmtu_expiry", 1500), {})),
])
def test_verbs_reach_the_stack(dut: InProcessDUT, recorded: Recorder, verb: str, args: tuple[Any, ...],
                               expected: tuple[Any, ...]) -> None:
    getattr(dut, verb)(*args)
    assert recorded.calls == [expected]


def test_pmtu_timer_is_reported_in_seconds(dut: InProcessDUT, recorded: Recorder) -> None:
    dut.set_timer("ipv6_pmtu_expiry", 7.0)
    assert dut.info.timers["ipv6_pmtu_expiry"] == 7.0


# ---- linux --------------------------------------------------------------------------------------
def _sysctl(kernel: LinuxDUT, name: str) -> str:
    return str(kernel._call("x_linux_sysctl_get", name=name))


def _routes(kernel: LinuxDUT, family: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-n", kernel.names.dut_ns, "-j", "-d", family, "route", "show"],
                         check=True, capture_output=True, text=True).stdout
    return [r for r in json.loads(out or "[]") if r.get("protocol") != "kernel"]


@needs_root
def test_linux_add_route_with_locked_mtu_and_reset_removes_it(kernel: LinuxDUT) -> None:
    kernel.add_route("203.0.113.0/24", via="198.51.100.3", mtu=1280)
    kernel.add_route("2001:db8:2::/64", mtu=1400)
    (v4,) = _routes(kernel, "-4")
    assert v4["dst"] == "203.0.113.0/24" and v4["gateway"] == "198.51.100.3"
    assert v4["metrics"][0]["mtu"] == 1280
    text = subprocess.run(["ip", "-n", kernel.names.dut_ns, "-4", "route", "show", "203.0.113.0/24"],
                          check=True, capture_output=True, text=True).stdout
    assert "mtu lock 1280" in text
    assert any(r["dst"] == "2001:db8:2::/64" for r in _routes(kernel, "-6"))
    kernel.reset()
    assert _routes(kernel, "-4") == []
    assert not any(r["dst"] == "2001:db8:2::/64" for r in _routes(kernel, "-6"))


@needs_root
def test_linux_remove_route(kernel: LinuxDUT) -> None:
    kernel.add_route("203.0.113.0/24")
    kernel.remove_route("203.0.113.0/24")
    assert _routes(kernel, "-4") == []


@needs_root
def test_linux_routes_into_the_machines_network_are_refused(kernel: LinuxDUT) -> None:
    with pytest.raises(ValueError, match="machine's own network"):
        kernel.add_route("192.0.2.0/25")
    with pytest.raises(ValueError, match="machine's own network"):
        kernel.add_route("203.0.113.0/24", via="192.0.2.1")


@needs_root
def test_linux_set_link_mtu_and_reset_restores_it(kernel: LinuxDUT) -> None:
    kernel.set_link_mtu(1280)
    assert kernel.info.mtu == 1280
    link = json.loads(subprocess.run(["ip", "-n", kernel.names.dut_ns, "-j", "link", "show", kernel.names.dut_if],
                                     check=True, capture_output=True, text=True).stdout)[0]
    assert link["mtu"] == 1280
    kernel.reset()
    assert kernel.info.mtu == 1500
    link = json.loads(subprocess.run(["ip", "-n", kernel.names.dut_ns, "-j", "link", "show", kernel.names.dut_if],
                                     check=True, capture_output=True, text=True).stdout)[0]
    assert link["mtu"] == 1500


@needs_root
def test_linux_icmp_rate_limits_map_to_sysctls_and_reset_undoes_them(kernel: LinuxDUT) -> None:
    kernel.set_icmp_rate_limit(4, 2, 6)
    assert 496 <= int(_sysctl(kernel, "ipv4/icmp_ratelimit")) <= 504  # 500 ms per token, in jiffies
    assert _sysctl(kernel, "ipv4/icmp_msgs_per_sec") == "1000000"
    kernel.set_icmp_rate_limit(6, 4, 1)
    # 250 ms between errors to one destination, as the kernel stores it (in jiffies).
    assert 246 <= int(_sysctl(kernel, "ipv6/icmp/ratelimit")) <= 254
    kernel.reset()
    assert _sysctl(kernel, "ipv4/icmp_ratelimit") == "0"
    assert _sysctl(kernel, "ipv6/icmp/ratelimit") == "0"


@needs_root
def test_linux_broadcast_echo_source_route_and_pmtu_timer(kernel: LinuxDUT) -> None:
    assert kernel.info.timers["ipv6_pmtu_expiry"] == 600.0  # the kernel's default, read at set-up
    kernel.set_echo_ignore_broadcasts(False)
    kernel.set_accept_source_route(True)
    kernel.set_timer("ipv6_pmtu_expiry", 3)
    assert _sysctl(kernel, "ipv4/icmp_echo_ignore_broadcasts") == "0"
    assert _sysctl(kernel, f"ipv4/conf/{kernel.names.dut_if}/accept_source_route") == "1"
    assert _sysctl(kernel, "ipv4/conf/all/accept_source_route") == "1"
    assert _sysctl(kernel, "ipv6/route/mtu_expires") == "3"
    assert kernel.info.timers["ipv6_pmtu_expiry"] == 3.0
    kernel.reset()
    assert _sysctl(kernel, "ipv4/icmp_echo_ignore_broadcasts") == "1"
    assert _sysctl(kernel, "ipv4/conf/all/accept_source_route") == "0"
    assert _sysctl(kernel, "ipv6/route/mtu_expires") == "600"
    assert kernel.info.timers["ipv6_pmtu_expiry"] == 600.0


@needs_root
def test_linux_reset_after_an_mtu_below_the_ipv6_minimum_restores_ipv6(kernel: LinuxDUT) -> None:
    kernel.set_link_mtu(1000)  # the kernel takes IPv6 off a link below 1280 octets
    kernel.reset()
    assert sorted(kernel._call("x_linux_ip_addresses")) == sorted(
        ["198.51.100.1/24", "2001:db8:1::1/64", "fe80::ff:fe00:1/64"])
    kernel.send(kernel.ipv6() / ICMPv6EchoRequest(id=3, seq=1))
    kernel.expect(ICMPv6EchoReply(id=3, seq=1), within=1.0)


def test_inprocess_timers_include_the_pmtu_expiry(dut: InProcessDUT) -> None:
    assert dut.info.timers["ipv6_pmtu_expiry"] == dut.stack.timers_ms["ipv6_pmtu_expiry"] / 1000
