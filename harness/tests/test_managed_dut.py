"""The managed-DUT life cycle: the [dut] config table, the tester's ARP/ND responder, and (as
root) a DUT the harness starts, resets and removes without a trace, also when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from harness.backends import lifecycle
from harness.backends.base import TEST_LINK
from harness.backends.interface import ConfigError, InterfaceConfig, load_config
from harness.backends.linux import setup as linux_setup
from harness.backends.managed import ManagedDUT
from harness.backends.responder import NeighborResponder
from harness.backends.tap import TapDUT, check_available

from .test_interface_config import GOOD, write

DUT_MAC, TESTER_MAC = TEST_LINK.dut_mac, TEST_LINK.tester_mac


def root_only(test: Any) -> Any:
    marks = [pytest.mark.needs_root,
             pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
             pytest.mark.skipif(check_available() is not None, reason=str(check_available()))]
    for mark in marks:
        test = mark(test)
    return test


# ---- [dut] table ---------------------------------------------------------------------------------
def test_a_dut_table_loads_with_its_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD + '[dut]\ncommand = ["./agent", "{interface}"]\nready = "^ready"\n'))
    assert cfg.command == lifecycle.DUTCommand(("./agent", "{interface}"), "^ready")
    assert cfg.command.before_each == "restart" and cfg.command.tap and cfg.command.answer_neighbors


@pytest.mark.parametrize(("table", "message"), [
    ('command = "./agent"\nready = "x"', "dut.command must be a non-empty list"),
    ('command = ["./a"]', "dut.ready must be a regular expression"),
    ('command = ["./a"]\nready = "("', "is not a regular expression"),
    ('command = ["./a"]\nready = "x"\nbefore_each = "reset"', 'needs dut.control'),
    ('command = ["./a"]\nready = "x"\nbefore_each = "sometimes"', "must be one of restart, reset, nothing"),
    ('command = ["./a"]\nready = "x"\ncontrol = "/tmp/sock"', "must be unix:PATH or tcp:HOST:PORT"),
    ('command = ["./a"]\nready = "x"\nstart = 1', "unknown key 'start' in [dut]"),
])
def test_a_bad_dut_table_is_one_clear_error(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(write(tmp_path, f"{GOOD}[dut]\n{table}\n"))


def test_placeholders_fill_and_an_unknown_one_is_named() -> None:
    values = lifecycle.placeholders(TEST_LINK, "tap0", "/run/x", "ns")
    assert lifecycle.fill("--ipv4={dut_ipv4} {control}", values) == "--ipv4=198.51.100.1/24 /run/x/control.sock"
    with pytest.raises(linux_setup.SetupError, match="unknown placeholder 'nope'"):
        lifecycle.fill("{nope}", values)


# ---- the responder ----------------------------------------------------------------------------------
def _ns(target: str, src: str = "2001:db8:1::1", dst: str = "ff02::1:ff00:2") -> bytes:
    return bytes(Ether(src=DUT_MAC, dst="33:33:ff:00:00:02") / IPv6(src=src, dst=dst, hlim=255)
                 / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=DUT_MAC))


def _arp(target: str, dst: str = "ff:ff:ff:ff:ff:ff") -> bytes:
    return bytes(Ether(src=DUT_MAC, dst=dst) / ARP(op=1, hwsrc=DUT_MAC, psrc="198.51.100.1", pdst=target))


def _reply(responder: NeighborResponder, frame: bytes) -> bytes:
    reply = responder.reply_to(frame)
    assert reply is not None, "the responder did not answer"
    return reply


def test_the_responder_answers_resolution_of_the_testers_addresses() -> None:
    responder = NeighborResponder(TEST_LINK)
    arp = Ether(_reply(responder, _arp("198.51.100.2")))
    assert arp[ARP].op == 2 and arp[ARP].hwsrc == TESTER_MAC and arp[ARP].psrc == "198.51.100.2"
    assert arp[ARP].pdst == "198.51.100.1" and arp.dst == DUT_MAC
    for target in ("2001:db8:1::2", "fe80::ff:fe00:2"):
        na = Ether(_reply(responder, _ns(target)))
        assert na[IPv6].src == target and na[IPv6].dst == "2001:db8:1::1" and na[IPv6].hlim == 255
        assert na[ICMPv6ND_NA].tgt == target and na[ICMPv6ND_NA].S == 1 and na[ICMPv6ND_NA].O == 1
        assert na[ICMPv6NDOptDstLLAddr].lladdr == TESTER_MAC
    assert responder.answered == 3


@pytest.mark.parametrize("frame", [
    _arp("198.51.100.3"),                              # other_ipv4: resolution must fail
    _arp("198.51.100.2", dst=TESTER_MAC),              # unicast ARP: a probe the test answers itself
    _ns("2001:db8:1::3", dst="ff02::1:ff00:3"),        # other_ipv6
    _ns("2001:db8:1::2", dst="2001:db8:1::2"),         # unicast NS: a NUD probe (RFC 4861 §7.3.3)
    _ns("2001:db8:1::2", src="::"),                    # DAD of the tester's address
], ids=["other-ipv4", "unicast-arp", "other-ipv6", "nud-probe", "dad"])
def test_the_responder_leaves_every_other_request_to_the_test(frame: bytes) -> None:
    assert NeighborResponder(TEST_LINK).reply_to(frame) is None


def test_a_disabled_responder_answers_nothing() -> None:
    assert NeighborResponder(TEST_LINK, enabled=False).reply_to(_arp("198.51.100.2")) is None


# ---- a DUT the harness owns (root) ---------------------------------------------------------------------
def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("case", "code"), [("never-ready", "import time; time.sleep(60)"),
                                           ("exits", "print('dying'); raise SystemExit(3)")],
                         ids=["never-ready", "exits"])
@root_only
def test_a_dut_that_never_gets_ready_is_killed_and_leaves_nothing(case: str, code: str) -> None:
    ours = f"-{os.getpid()}-"  # namespaces of this process (linux_setup.unique_names); others run in parallel
    before = {n for n in _namespaces().split() if ours in n}
    # Its processes are told from those of the other case, which another worker may run at the
    # same time (a fresh-clone CI run found the never-ready case's sleeper from the exits case).
    marker = f"stackcheck-dut-{case}-{os.getpid()}"
    command = lifecycle.DUTCommand((sys.executable, "-c", f"{code}  # {marker}"), ready="^ready", ready_timeout=1.0)
    with pytest.raises(linux_setup.SetupError, match=r"printed no line|exited with status 3.*dying"):
        ManagedDUT(InterfaceConfig("scm0", TEST_LINK, command))
    assert {n for n in _namespaces().split() if ours in n} <= before
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert not left.strip()


@root_only
def test_the_tap_dut_resets_to_a_fresh_stack_and_cleans_up() -> None:
    dut = TapDUT()
    assert dut.space is not None and dut.process is not None
    netns, rundir, pid = dut.space.netns, dut.rundir, dut.process.process.pid
    try:
        assert dut.name == "tap" and dut.info.timers["ipv4_reassembly_timeout"] == 2.0
        dut.udp_bind(4000, 4)
        dut.set_link_mtu(1400)
        dut.reset()  # the agent's reset: the same process, a fresh stack
        assert dut.process.process.pid == pid and dut.info.mtu == 1500
        dut.udp_bind(4000, 4)  # the socket of before the reset is gone
    finally:
        dut.close()
    assert netns not in _namespaces() and not Path(rundir).exists()
    assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()
