"""The IPv6 host-configuration verbs: set_ipv6_option, restart_link, add_address with
DAD and lifetimes, ipv6_addresses; and that the linux backend's reset() undoes what Router
Advertisements, SLAAC and MLD Queries left behind.

Verb tests run on both backends (``dut`` is parametrized); the kernel ones share one LinuxDUT
per module (harness/tests/conftest.py). Documentation prefixes only (RFC 3849).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLQuery,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrHopByHop,
    RouterAlert,
)
from scapy.packet import Packet
from scapy.utils import checksum

from harness import AddressInfo, IPv6Option, Unsupported
from harness.backends.base import FrameDUT
from harness.backends.inprocess import InProcessDUT
from harness.backends.linux.dut import LinuxDUT, check_available
from harness.backends.linux.sniff import _icmpv6_type, is_igmp_query
from harness.backends.linux.values import (
    _IPV6_SYSCTLS,
    IPV6_OPTIONS_LINUX_LACKS,
    _checked_lifetimes,
    _lifetime,
    _sysctl_value,
)
from harness.dut import IPV6_OPTIONS, ipv6_option_unit
from harness.igmp import QUERY, V2_REPORT, V3_REPORTS_TO, igmp_frame, message, v3_query
from harness.tests.fakedut import FakeDUT

REASON = check_available()
needs_root = pytest.mark.skipif(REASON is not None, reason=f"needs root for network namespaces ({REASON})")

ROUTER_LL = "fe80::ff:fe00:2"  # the tester's link-local, a permanent neighbor of the DUT


@pytest.fixture(params=["inprocess", pytest.param("linux", marks=needs_root)])
def dut(request: pytest.FixtureRequest) -> Iterator[InProcessDUT | LinuxDUT]:
    if request.param == "inprocess":
        d = InProcessDUT()
        yield d
        d.close()
    else:
        yield request.getfixturevalue("kernel")


def _find(addrs: list[AddressInfo], cidr: str) -> AddressInfo | None:
    return next((a for a in addrs if str(a.interface) == cidr), None)


def _echo(dut: FrameDUT, src: str, dst: str, ident: int, within: float = 1.0) -> Packet:
    dut.send(dut.ipv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, data=b"h5"))
    return dut.expect(ICMPv6EchoReply(id=ident), within=within)


def _ra(dut: FrameDUT, **ra: Any) -> Packet:
    return (dut.ether(dst="33:33:00:00:00:01") / IPv6(src=ROUTER_LL, dst="ff02::1", hlim=255)
            / ICMPv6ND_RA(**ra) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))


def _sysctl(kernel: LinuxDUT, rel: str) -> str:
    return str(kernel._call("x_linux_sysctl_get", name=f"ipv6/{rel.format(**{'if': kernel.names.dut_if})}"))


def _routes6(kernel: LinuxDUT) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-n", kernel.names.dut_ns, "-j", "-6", "route", "show", "table", "main"],
                         check=True, capture_output=True, text=True).stdout
    return list(json.loads(out or "[]"))


# ---- every backend ------------------------------------------------------------------------------
def test_default_backend_cannot_do_the_ipv6_verbs() -> None:
    fake = FakeDUT()
    for call in (lambda: fake.set_ipv6_option("accept_ra", 0), fake.restart_link, fake.ipv6_addresses,
                 lambda: fake.add_address("2001:db8:1::9/64", dad=True)):
        with pytest.raises(Unsupported, match="the fake backend cannot"):
            call()


def test_baseline_addresses_are_preferred_and_permanent(dut: FrameDUT) -> None:
    addrs = dut.ipv6_addresses()
    for cidr in ("2001:db8:1::1/64", "fe80::ff:fe00:1/64"):
        info = _find(addrs, cidr)
        assert info is not None and info.state == "preferred" and not info.temporary, addrs
        assert info.valid_lifetime is None and info.preferred_lifetime is None


def test_add_address_without_dad_is_usable_at_once(dut: FrameDUT) -> None:
    dut.add_address("2001:db8:1::9/64")
    assert (info := _find(dut.ipv6_addresses(), "2001:db8:1::9/64")) is not None
    assert info.state == "preferred" and info.valid_lifetime is None and info.preferred_lifetime is None
    assert _echo(dut, "2001:db8:1::2", "2001:db8:1::9", 0x51)[IPv6].src == "2001:db8:1::9"


def test_add_address_lifetimes_count_down(dut: FrameDUT) -> None:
    dut.add_address("2001:db8:2::9/64", valid_lifetime=100, preferred_lifetime=49.2)
    dut.add_address("2001:db8:2::a/64", valid_lifetime=30)
    first = _find(dut.ipv6_addresses(), "2001:db8:2::9/64")
    assert first is not None and first.valid_lifetime is not None and first.preferred_lifetime is not None
    assert 99 <= first.valid_lifetime <= 100 and 49 <= first.preferred_lifetime <= 50  # rounded up
    other = _find(dut.ipv6_addresses(), "2001:db8:2::a/64")
    assert other is not None and other.preferred_lifetime == other.valid_lifetime  # preferred defaults to valid
    dut.wait(1.1)
    later = _find(dut.ipv6_addresses(), "2001:db8:2::9/64")
    assert later is not None and later.valid_lifetime is not None
    assert later.valid_lifetime < first.valid_lifetime


def test_add_address_refuses_preferred_beyond_valid(dut: FrameDUT) -> None:
    with pytest.raises(Exception, match="preferred"):
        dut.add_address("2001:db8:2::9/64", valid_lifetime=10, preferred_lifetime=20)


def test_add_address_with_dad_is_tentative_then_preferred(dut: FrameDUT) -> None:
    # RFC 4862 5.4: tentative while DAD runs; the first NS comes from :: for the address.
    dut.set_ipv6_option("rtr_solicit_delay", 0)  # Linux delays DAD randomly up to this
    dut.add_address("2001:db8:1::55/64", dad=True)
    info = _find(dut.ipv6_addresses(), "2001:db8:1::55/64")
    assert info is not None and info.state == "tentative"
    ns = dut.expect(ICMPv6ND_NS(tgt="2001:db8:1::55"), within=1.0)
    assert ns[IPv6].src == "::"
    dut.wait(1.5)  # dad_transmits (1) x retrans_time (1 s)
    info = _find(dut.ipv6_addresses(), "2001:db8:1::55/64")
    assert info is not None and info.state == "preferred"


def test_set_ipv6_option_refuses_unknown_names_and_bad_values(dut: FrameDUT) -> None:
    with pytest.raises(ValueError, match="unknown IPv6 option"):
        dut.set_ipv6_option("no_such_option", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="IPv6 address"):
        dut.set_ipv6_option("stable_secret", "not-an-address")
    with pytest.raises(ValueError, match="integer"):
        dut.set_ipv6_option("dad_transmits", 1.5)


# A value other than the baseline's for every option, so reading it back shows the write landed.
OPTION_VALUES: dict[IPv6Option, float | int | str] = {
    "accept_ra": 0, "autoconf": 0, "accept_dad": 1, "dad_transmits": 2, "router_solicitations": 2,
    "rtr_solicit_interval": 2, "rtr_solicit_delay": 2, "use_tempaddr": 1, "addr_gen_mode": 3,
    "stable_secret": "2001:db8::5ec:1", "force_mld_version": 1, "mldv1_unsolicited_report_interval": 2,
    "mldv2_unsolicited_report_interval": 2, "base_reachable_time": 2, "retrans_time": 2,
    "delay_first_probe_time": 2, "mcast_solicit": 2, "ucast_solicit": 2, "max_addresses": 2,
    "accept_ra_rt_info_max_plen": 64, "temp_valid_lft": 3600, "temp_prefered_lft": 1800, "ndisc_notify": 1,
    "max_dst_opts_number": -4, "max_hbh_opts_number": 4, "max_dst_opts_length": 1024, "max_hbh_length": 512,
    "mldv1_done_suppression": 0, "send_dest_unreachable": 0,
}


def test_option_values_cover_every_ipv6_option() -> None:
    assert set(OPTION_VALUES) == IPV6_OPTIONS


@pytest.mark.parametrize("name", sorted(IPV6_OPTIONS))
def test_every_ipv6_option_reads_back_as_set(dut: InProcessDUT | LinuxDUT, name: IPv6Option) -> None:
    value = OPTION_VALUES[name]
    if isinstance(dut, LinuxDUT) and name in IPV6_OPTIONS_LINUX_LACKS:
        with pytest.raises(Unsupported, match=name):
            dut.set_ipv6_option(name, value)
        return
    if name != "stable_secret":  # unset, the kernel's sysctl cannot even be read
        assert dut.ipv6_option(name) != value, f"the baseline already has {name} = {value!r}"
    dut.set_ipv6_option(name, value)
    assert dut.ipv6_option(name) == value


def test_the_linux_sysctl_table_has_every_ipv6_option_in_its_unit() -> None:
    assert set(_IPV6_SYSCTLS) | set(IPV6_OPTIONS_LINUX_LACKS) == IPV6_OPTIONS
    assert not set(_IPV6_SYSCTLS) & set(IPV6_OPTIONS_LINUX_LACKS)
    harness_unit = {"int": "int", "ms": "seconds", "s": "seconds", "addr": "address"}
    for name, (_, unit) in _IPV6_SYSCTLS.items():
        assert harness_unit[unit] == ipv6_option_unit(name), name


def test_restart_link_keeps_static_addresses_and_forms_the_link_local_again(dut: FrameDUT) -> None:
    dut.add_address("2001:db8:2::7/64")
    dut.restart_link()
    addrs = dut.ipv6_addresses()
    for cidr in ("2001:db8:1::1/64", "2001:db8:2::7/64", "fe80::ff:fe00:1/64"):
        info = _find(addrs, cidr)
        assert info is not None and info.state == "preferred", addrs
    # The tester is still resolved (permanent neighbors survive or are re-added).
    _echo(dut, "2001:db8:1::2", "2001:db8:1::1", 0x52)
    _echo(dut, "fe80::ff:fe00:2", "fe80::ff:fe00:1", 0x53)


def test_restart_link_with_dad_shows_the_link_local_tentative(dut: FrameDUT) -> None:
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.restart_link()  # returns at once: the test watches DAD from its start
    info = _find(dut.ipv6_addresses(), "fe80::ff:fe00:1/64")
    assert info is not None and info.state == "tentative"
    ns = dut.expect(ICMPv6ND_NS(tgt="fe80::ff:fe00:1"), within=1.0)
    assert ns[IPv6].src == "::"
    dut.wait(1.5)
    info = _find(dut.ipv6_addresses(), "fe80::ff:fe00:1/64")
    assert info is not None and info.state == "preferred"


def test_restart_link_sends_router_solicitations_when_asked(dut: FrameDUT) -> None:
    dut.set_ipv6_option("router_solicitations", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.restart_link()
    dut.expect(ICMPv6ND_RS, within=1.0)


def test_restart_link_sends_no_router_solicitation_in_the_baseline(dut: FrameDUT) -> None:
    dut.restart_link()
    dut.expect_none(ICMPv6ND_RS, within=1.5)


# ---- in-process mapping onto the stack ------------------------------------------------------------
def test_inprocess_baseline_and_units() -> None:
    d = InProcessDUT()
    cfg = d.stack.nic("eth0").ipv6_config
    assert not cfg.accept_dad and cfg.router_solicitations == 0
    d.set_ipv6_option("retrans_time", 0.25)
    d.set_ipv6_option("rtr_solicit_interval", 2)
    d.set_ipv6_option("accept_ra", 0)
    d.set_ipv6_option("stable_secret", "2001:db8::1")
    assert cfg.retrans_time_ms == 250 and cfg.rtr_solicit_interval_ms == 2000 and not cfg.accept_ra
    assert cfg.stable_secret == bytes.fromhex("20010db8000000000000000000000001")
    assert cfg.addr_gen_mode == 2  # as Linux does when its stable_secret is written
    d.add_address("2001:db8:1::66/64", dad=True)
    assert cfg.accept_dad
    d.close()


# ---- linux: sysctls and reset -----------------------------------------------------------------------
@needs_root
def test_linux_option_sysctls_and_units(kernel: LinuxDUT) -> None:
    kernel.set_ipv6_option("retrans_time", 0.5)
    kernel.set_ipv6_option("base_reachable_time", 10)
    kernel.set_ipv6_option("delay_first_probe_time", 1.2)
    kernel.set_ipv6_option("rtr_solicit_interval", 2)
    kernel.set_ipv6_option("mldv1_unsolicited_report_interval", 0.5)
    assert _sysctl(kernel, "neigh/{if}/retrans_time_ms") == "500"
    assert _sysctl(kernel, "neigh/{if}/base_reachable_time_ms") == "10000"
    assert _sysctl(kernel, "neigh/{if}/delay_first_probe_time") == "2"  # whole seconds, rounded up
    assert _sysctl(kernel, "conf/{if}/router_solicitation_interval") == "2"
    assert _sysctl(kernel, "conf/{if}/router_solicitation_max_interval") == "2"
    assert _sysctl(kernel, "conf/{if}/mldv1_unsolicited_report_interval") == "500"
    kernel.reset()
    assert _sysctl(kernel, "neigh/{if}/retrans_time_ms") == "1000"
    assert _sysctl(kernel, "neigh/{if}/delay_first_probe_time") == "5"
    assert _sysctl(kernel, "conf/{if}/accept_dad") == "0"
    assert _sysctl(kernel, "conf/{if}/router_solicitations") == "0"


@needs_root
def test_linux_deprecated_and_dad_failed_addresses(kernel: LinuxDUT) -> None:
    kernel.add_address("2001:db8:2::d/64", valid_lifetime=60, preferred_lifetime=0)
    info = _find(kernel.ipv6_addresses(), "2001:db8:2::d/64")
    assert info is not None and info.state == "deprecated"
    kernel.set_ipv6_option("rtr_solicit_delay", 0)
    kernel.add_address("2001:db8:1::56/64", dad=True)
    kernel.expect(ICMPv6ND_NS(tgt="2001:db8:1::56"), within=1.0)
    # RFC 4862 5.4.4: an NA for the tentative address makes it a duplicate.
    kernel.send(kernel.ether(dst="33:33:00:00:00:01") / IPv6(src="2001:db8:1::3", dst="ff02::1", hlim=255)
                / ICMPv6ND_NA(tgt="2001:db8:1::56", R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:03"))
    time.sleep(0.05)
    assert _find(kernel.ipv6_addresses(), "2001:db8:1::56/64") is None


@needs_root
def test_linux_restart_link_drops_addresses_with_lifetimes(kernel: LinuxDUT) -> None:
    kernel.add_address("2001:db8:2::8/64", valid_lifetime=300)
    kernel.restart_link()
    assert _find(kernel.ipv6_addresses(), "2001:db8:2::8/64") is None


@needs_root
def test_linux_reset_undoes_router_advertisement_and_slaac(kernel: LinuxDUT) -> None:
    kernel.set_ipv6_option("use_tempaddr", 2)
    kernel.send(_ra(kernel, chlim=77, routerlifetime=1800)
                / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64, L=1, A=1,
                                        validlifetime=600, preferredlifetime=300)
                / ICMPv6NDOptPrefixInfo(prefix="2001:db8:2::", prefixlen=64, L=1, A=0,
                                        validlifetime=600, preferredlifetime=300))
    time.sleep(0.1)
    addrs = kernel.ipv6_addresses()
    assert _find(addrs, "2001:db8:1::ff:fe00:1/64") is not None  # SLAAC (EUI-64)
    assert any(a.temporary for a in addrs)  # RFC 8981 temporary address
    # Learnt: hop limit 77 and a default router (an off-link source gets its reply via it).
    assert _echo(kernel, "2001:db8:1::2", "2001:db8:1::1", 0x61)[IPv6].hlim == 77
    _echo(kernel, "2001:db8:3::9", "2001:db8:1::1", 0x62)
    assert any(r["dst"] == "2001:db8:2::/64" for r in _routes6(kernel))  # PIO on-link route

    kernel.reset()
    addrs = kernel.ipv6_addresses()
    assert sorted(str(a.interface) for a in addrs) == ["2001:db8:1::1/64", "fe80::ff:fe00:1/64"]
    assert _echo(kernel, "2001:db8:1::2", "2001:db8:1::1", 0x63)[IPv6].hlim == 64
    kernel.send(kernel.ipv6(src="2001:db8:3::9") / ICMPv6EchoRequest(id=0x64))
    kernel.expect_none(ICMPv6EchoReply(id=0x64), within=0.3)  # no default route any more
    routes = _routes6(kernel)
    assert not [r for r in routes if r["dst"] in ("default", "2001:db8:2::/64") or "expires" in r], routes


def _mld_query(dut: FrameDUT) -> Packet:
    # An MLDv1 General Query: 24 octets of ICMPv6 (RFC 2710 3), which puts Linux into MLDv1
    # compatibility mode (RFC 3810 8.2.1).
    return (dut.ether(dst="33:33:00:00:00:01") / IPv6(src=ROUTER_LL, dst="ff02::1", hlim=1)
            / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) / ICMPv6MLQuery(mrd=500))


@needs_root
def test_linux_reset_ends_mldv1_compatibility(kernel: LinuxDUT) -> None:
    query = _mld_query(kernel)
    assert len(bytes(query[ICMPv6MLQuery])) == 24
    kernel.send(query)
    kernel.wait(0.1)
    kernel.join_group("ff02::1:3:4")
    kernel.expect(IPv6(dst="ff02::1:3:4"), ICMPv6MLReport, within=1.0)  # MLDv1 mode: a v1 Report
    kernel.reset()
    assert kernel.last_reset["bounced"]
    kernel.join_group("ff02::1:3:4")
    kernel.expect(ICMPv6MLReport2, within=1.0)  # back to MLDv2
    kernel.expect_none(ICMPv6MLReport, within=0.2)


@needs_root
def test_linux_reset_ends_igmpv2_compatibility(kernel: LinuxDUT) -> None:
    # A link flap keeps IGMPv2 compatibility mode (up to 260 s, RFC 3376 8.12); the bounce that
    # moves the link out of the namespace and back must not.
    kernel.send(igmp_frame(kernel, message(QUERY, 10)))
    kernel.wait(0.1)
    kernel.join_group("224.1.3.4")
    kernel.expect(IP(proto=2, dst="224.1.3.4"), within=1.0)  # IGMPv2 mode: a v2 Report to the group
    kernel.reset()
    assert kernel.last_reset["bounced"]
    kernel.join_group("224.1.3.4")
    kernel.expect(IP(proto=2, dst=V3_REPORTS_TO), within=1.0)  # back to IGMPv3
    kernel.expect_none(IP(proto=2, dst="224.1.3.4"), within=0.2)
    # The link is still the test link: addresses, static neighbors and routes are back.
    _echo(kernel, "2001:db8:1::2", "2001:db8:1::1", 0x72)
    kernel.send(kernel.ipv4() / ICMP(id=0x73))
    kernel.expect(ICMP(type=0, id=0x73), within=1.0)


@needs_root
def test_linux_reset_after_a_quiet_test_restores_nothing(kernel: LinuxDUT) -> None:
    # The reset before every linux test must stay cheap: no link flap, no sysctl written, no
    # wait for reports, unless the test left something to undo.
    _echo(kernel, "2001:db8:1::2", "2001:db8:1::1", 0x71)
    kernel.reset()
    assert kernel.last_reset == {"sysctls": 0, "bounced": False, "reports_due": False}
    kernel.set_ipv6_option("retrans_time", 2)
    kernel.reset()
    assert kernel.last_reset["sysctls"] == 1 and not kernel.last_reset["bounced"]


# ---- linux value conversions (no root needed) -------------------------------------------------------
def test_linux_units_and_frame_sniffing() -> None:
    assert _sysctl_value("retrans_time", "ms", 0.5) == 500
    assert _sysctl_value("rtr_solicit_delay", "s", 0) == 0
    assert _sysctl_value("delay_first_probe_time", "s", 1.01) == 2  # never shorter than asked
    assert _sysctl_value("stable_secret", "addr", "2001:0db8::0001") == "2001:db8::1"
    with pytest.raises(ValueError, match="integer"):
        _sysctl_value("mcast_solicit", "int", 2.5)
    assert _checked_lifetimes(10.2, None) == (11, None)
    with pytest.raises(ValueError, match="must not exceed"):
        _checked_lifetimes(10, 11)
    assert _lifetime(4294967295) is None and _lifetime(7) == 7.0
    fake = FakeDUT()
    assert _icmpv6_type(bytes(_mld_query(fake))) == 130  # behind the Hop-by-Hop header
    assert _icmpv6_type(bytes(_ra(fake))) == 134
    assert _icmpv6_type(bytes(fake.ipv6() / ICMPv6EchoRequest())) == 128
    assert _icmpv6_type(bytes(fake.ipv4())) is None
    assert is_igmp_query(bytes(igmp_frame(fake, message(QUERY, 10))))
    assert is_igmp_query(bytes(igmp_frame(fake, v3_query())))
    assert not is_igmp_query(bytes(igmp_frame(fake, message(V2_REPORT, 0, "224.1.3.4"))))
    assert not is_igmp_query(bytes(igmp_frame(fake, message(QUERY, 10)))[:34])  # no IGMP octet left
    assert not is_igmp_query(bytes(_mld_query(fake)))


def test_igmpv3_query_carries_the_max_resp_code_as_given() -> None:
    # Scapy's own field would take 0xFF for a time (25.5 s) and send the code 0x8F (24.8 s).
    for code in (0x05, 0x7F, 0x80, 0x8F, 0xFF):
        msg = v3_query("224.1.2.3", mrc=code, sources=("192.0.2.1", "192.0.2.2"))
        assert msg[1] == code and checksum(msg) == 0
        assert msg[4:8] == bytes([224, 1, 2, 3]) and msg[8:12] == bytes([0x02, 125, 0, 2])
        assert msg[12:] == bytes([192, 0, 2, 1, 192, 0, 2, 2])
