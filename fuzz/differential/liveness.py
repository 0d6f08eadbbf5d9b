"""Liveness and totality of every DUT between batches of stimuli.

A DUT that stops answering after some stimulus has a bug no answer comparison shows. Between
batches (and before a lane whose backend restarts the DUT throws that DUT away) each lane is
probed:
- it still answers: an ICMP echo on each family, a Neighbor Solicitation for its global address
  (RFC 4861 7.2.4: "the target address ... is assigned to the receiving interface" -> Neighbor
  Advertisement) and an ARP request (RFC 826) are answered;
- it still holds its configuration: it answers on the test link's addresses, and where the
  backend lists them (``ipv6_addresses``) the configured ones are there and preferred;
- the control agent of a DUT the harness started (tap, lwip, an interface with a start
  command) still answers, within ``control.CONTROL_S``: one that stops answering or goes away
  is a failed probe like a silent data path;
- where the backend can tell, it has not crashed or grown memory: the DUT process the harness
  started is alive and its resident size bounded; the kernel log (read from /dev/kmsg, which a
  namespace shares with the host) holds no warning, oops or BUG logged during the batch, and
  the namespace holds no reassembly memory once every window has closed; our stack's counters
  (read in-process, or through its agent's ``x-counters`` on a TAP) add up (every frame got
  exactly one verdict), its tables stay within their bounds and it holds no fragments.
A failed probe is a finding with the stimuli the lane ran since its last good probe; the
culprit is then looked for by replaying them one by one on a fresh instance, probing after each.
Every wait is bounded, so a wedged DUT costs seconds, never the night.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import ARP, Ether

from fuzz.differential import control
from fuzz.differential.lanes import Lane, held_fragments
from fuzz.differential.stimulus import Stimulus
from fuzz.differential.symbols import solicited_node
from harness.backends.base import FrameDUT
from harness.control.client import AgentFailed
from harness.dut import ExpectationFailed, Unsupported

PROBE_S: Final = 1.0  # a live DUT answers an echo within microseconds over veth; a second is generous
RSS_GROWTH_LIMIT: Final = 64 * 1024 * 1024  # octets a stack process may grow by over a campaign
KERNEL_TROUBLE: Final = re.compile(
    r"WARNING:|BUG:|Oops|general protection|kernel BUG|refcount_t:|UBSAN|KASAN|list_(add|del) corruption|"
    r"skb_(over|under)_panic|stack-protector|Call Trace|soft lockup|hung_task")


@dataclass
class LivenessFailure:
    dut: str
    lane: str
    problems: list[str]
    preceding: list[Stimulus]
    culprit: Stimulus | None = None
    culprit_note: str = ""


@dataclass
class Prober:
    """Probes lanes; remembers per lane what it saw last (process size, kernel log position)."""

    ident: int = 0x5EED
    baseline_rss: dict[int, int] = field(default_factory=dict)
    kmsg: Any = None
    _probes: dict[tuple[str, str, str], list[Probe]] = field(default_factory=dict)  # built once per link

    def __post_init__(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(fd, 0, os.SEEK_END)  # only what is logged from now on
            self.kmsg = fd

    def probe(self, lane: Lane, *, settled: bool = True) -> list[str]:
        """What is wrong with the lane's DUT (empty: it is alive and well). ``settled=False``
        while windows may still be open (fragments then are legitimately held)."""
        device = lane.device
        problems = _process_problems(device, self.baseline_rss)
        if problems:
            return problems
        try:
            device.drain()
            key = (info := device.info).dut_mac, str(info.dut_ipv4), str(info.dut_ipv6)
            if key not in self._probes:
                self._probes[key] = _probes(device, self.ident)
            problems += _answers(device, self._probes[key])
            if problems:
                # The data path is down: that is the finding. An agent sharing the stack's loop
                # (ours) would not answer either, and asking it would only add a wait.
                return problems + _process_problems(device, self.baseline_rss)
            problems += _configuration(device)
            problems += _memory(device, settled)
            device.drain()
        except AgentFailed as exc:  # the control channel stopped answering or went away
            problems.append(f"its control agent failed: {exc}")
            problems += _process_problems(device, self.baseline_rss)
        except Exception as exc:  # a probe never ends the campaign: whatever broke is the finding
            problems.append(f"probing it raised {type(exc).__name__}: {exc}")
        return problems

    def kernel_log(self) -> list[str]:
        """Lines of trouble the kernel logged since the last call (system-wide)."""
        if self.kmsg is None:
            return []
        lines = []
        while True:
            try:
                record = os.read(self.kmsg, 8192)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: records were overwritten before we read them; go on
                continue
            if not record:
                break
            text = record.decode(errors="replace").split(";", 1)[-1].strip()
            if KERNEL_TROUBLE.search(text):
                lines.append(text)
        return lines

    def close(self) -> None:
        if self.kmsg is not None:
            os.close(self.kmsg)
            self.kmsg = None


Probe = tuple[str, bytes, tuple[Any, ...]]  # what it is, the frame, the answer expected


def _probes(device: FrameDUT, ident: int) -> list[Probe]:
    info = device.info
    probes: list[tuple[str, Any, tuple[Any, ...]]] = [
        ("an ICMP echo request to its IPv4 address", device.ipv4() / ICMP(id=ident, seq=1) / b"liveness",
         (IP(src=str(info.dut_ipv4.ip)), ICMP(type=0, id=ident))),
        ("an ICMPv6 echo request to its IPv6 address", device.ipv6() / ICMPv6EchoRequest(id=ident, seq=1, data=b"liveness"),
         (IPv6(src=str(info.dut_ipv6.ip)), ICMPv6EchoReply(id=ident))),
        (f"a Neighbor Solicitation for {info.dut_ipv6.ip}",
         Ether(src=info.tester_mac, dst=_multicast_mac(solicited_node(info.dut_ipv6.ip).packed))
         / IPv6(src=str(info.tester_ipv6), dst=str(solicited_node(info.dut_ipv6.ip)), hlim=255)
         / ICMPv6ND_NS(tgt=str(info.dut_ipv6.ip)) / ICMPv6NDOptSrcLLAddr(lladdr=info.tester_mac),
         (ICMPv6ND_NA(tgt=str(info.dut_ipv6.ip)),)),
        (f"an ARP request for {info.dut_ipv4.ip}",
         Ether(src=info.tester_mac, dst="ff:ff:ff:ff:ff:ff")
         / ARP(op=1, hwsrc=info.tester_mac, psrc=str(info.tester_ipv4), pdst=str(info.dut_ipv4.ip)),
         (ARP(op=2, psrc=str(info.dut_ipv4.ip)),)),
    ]
    return [(what, bytes(frame), expected) for what, frame, expected in probes]


def _answers(device: FrameDUT, probes: list[Probe]) -> list[str]:
    problems = []
    for what, frame, expected in probes:
        device.send(frame)
        try:
            device.expect(*expected, within=PROBE_S)
        except ExpectationFailed:
            problems.append(f"no answer to {what} within {PROBE_S:g} s")
    return problems


def _multicast_mac(group: bytes) -> str:
    return "33:33:" + ":".join(f"{b:02x}" for b in group[-4:])


def _configuration(device: FrameDUT) -> list[str]:
    try:
        addresses = control.ipv6_addresses(device)
    except Unsupported:
        return []  # answering on the configured addresses above is all this backend shows
    info = device.info
    have = {a.interface.ip: a.state for a in addresses}
    problems = []
    for addr in (info.dut_ipv6.ip, info.dut_ipv6_ll):
        if addr not in have:
            problems.append(f"the configured address {addr} is gone")
        elif have[addr] != "preferred":
            problems.append(f"the configured address {addr} is {have[addr]}, not preferred")
    return problems


def _memory(device: FrameDUT, settled: bool) -> list[str]:
    problems = []
    figures = control.counters(device)  # our stack's, in-process or through its agent's x-counters
    if figures is not None:
        problems += control.counter_problems(figures)
        held = control.held_datagrams(figures)
    else:
        held = held_fragments(device) if settled else None
    if settled and held:
        problems.append("still holds fragments for reassembly after every window has closed")
    return problems


def _process_problems(device: FrameDUT, baseline: dict[int, int]) -> list[str]:
    gone = control.process_problem(device)
    if gone:
        return [gone]
    pid = control.process_pid(device)
    rss = None if pid is None else _rss(pid)
    if pid is None or rss is None:
        return []
    first = baseline.setdefault(pid, rss)
    if rss - first > RSS_GROWTH_LIMIT:
        return [f"the DUT process grew from {first // 1024} KiB to {rss // 1024} KiB"]
    return []


def _rss(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def isolate(prober: Prober, lane: Lane, preceding: list[Stimulus]) -> tuple[Stimulus | None, str]:
    """Replay ``preceding`` one by one on a fresh instance of the lane's DUT, probing after each;
    the first after which the probe fails is the culprit."""
    lane.replace()
    for n, stimulus in enumerate(preceding, 1):
        try:
            lane.send(stimulus)
            lane.collect(0.05)
        except Exception as exc:  # a socket error on a DUT that went away: the probe says more
            problems = [f"{type(exc).__name__} while replaying: {exc}"]
        else:
            problems = prober.probe(lane, settled=False)
        if problems:
            lane.replace()
            return stimulus, (f"the DUT failed its probe right after this stimulus (#{n} of {len(preceding)} "
                              f"replayed): {'; '.join(problems)}")
    return None, f"replaying the {len(preceding)} preceding stimuli one by one did not make the DUT fail again"
