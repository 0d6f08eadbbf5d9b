"""The kernel side of the linux backend's control agent: what it reads and writes inside the DUT
network namespace (sysctls under /proc/sys/net, ``ip`` commands, ethtool offloads), the snapshot
of the baseline and the reset back to it, addresses and link flaps.

``agent.py`` serves these (and the sockets of ``agent_sockets.py`` and ``tcp.py``) as the DUT
verbs of the control protocol. Everything it touches lives in the namespace the agent runs in,
which is why the agent exists: the harness process stays in the root namespace and never
configures anything there. Standard library only (the agent runs with ``python -I -S``).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

from .agent_sockets import AgentError, Sockets
from .tcp import TCPSockets

PROC_NET = Path("/proc/sys/net")
SIOCETHTOOL = 0x8946
# linux/ethtool.h legacy setters; each takes struct ethtool_value {u32 cmd; u32 data;}.
# Checksum offload off matters: with it on, UDP leaves the DUT with only the pseudo-header sum
# filled in (CHECKSUM_PARTIAL) and the tester's raw socket would see a "bad" checksum.
ETHTOOL_SETTERS = {"tx-checksum": 0x17, "scatter-gather": 0x19, "tso": 0x1F, "gso": 0x24, "gro": 0x2C}


def _one_line(text: str) -> str:
    return " ".join(text.split())


# The second interface of add_second_interface_address and its veth peer (both in the namespace).
SECOND_IF = "sc-second"
SECOND_PEER = "sc-second-peer"


class Kernel:
    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.sockets = Sockets(ifname)
        self.tcp = TCPSockets(ifname)
        self.baseline_sysctls: dict[Path, bytes] = {}
        self.baseline_mac = b""
        self.baseline_addrs: list[str] = []
        self.baseline_routes: list[str] = []
        self.baseline_neighbors: list[str] = []
        # A test added or removed an IPv6 address: the next reset bounces (see reset).
        self._ipv6_address_changed = False

    # ---- helpers ------------------------------------------------------------------------
    def ip(self, *lines: str, force: bool = False) -> None:
        """Run ``ip`` commands inside this namespace, raising with ip's own words.

        A batch cannot switch family per line, so a leading "-4 "/"-6 " on a line is lifted
        to the command line: consecutive lines with the same prefix share one batch process.
        """
        runs: list[tuple[str, list[str]]] = []
        for line in lines:
            fam, rest = (line[:2], line[3:]) if _family_prefix(line) else ("", line)
            if runs and runs[-1][0] == fam:
                runs[-1][1].append(rest)
            else:
                runs.append((fam, [rest]))
        for fam, batch in runs:
            args = ["ip", *([fam] if fam else []), *(["-force"] if force else []), "-batch", "-"]
            proc = subprocess.run(args, input="\n".join(batch) + "\n", capture_output=True, text=True)
            if proc.returncode != 0 and not force:
                detail = _one_line(proc.stderr) or f"exit status {proc.returncode}"
                raise AgentError(f"ip {fam} {' / '.join(batch)}: {detail}".replace("ip  ", "ip "))

    def ip_json(self, *args: str) -> Any:
        proc = subprocess.run(["ip", "-j", *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise AgentError(f"ip {' '.join(args)}: {_one_line(proc.stderr)}")
        return json.loads(proc.stdout or "[]")

    @staticmethod
    def sysctl_path(name: str) -> Path:
        # "net.ipv4.ipfrag_time" or "ipv4/ipfrag_time"; interface names never contain dots here.
        rel = name.removeprefix("net.").replace(".", "/") if "/" not in name else name
        return PROC_NET / rel

    def write_sysctl(self, name: str | Path, value: str | int) -> None:
        path = name if isinstance(name, Path) else self.sysctl_path(name)
        try:
            path.write_text(f"{value}\n")
        except OSError as e:
            raise AgentError(f"sysctl {path}={value}: {e.strerror}") from None

    # ---- set-up ---------------------------------------------------------------------------
    def sysctl(self, values: dict[str, str | int]) -> None:
        for name, value in values.items():
            self.write_sysctl(name, value)

    def sysctl_get(self, name: str) -> str:
        return self.sysctl_path(name).read_text().strip()

    def offloads_off(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for name, cmd in ETHTOOL_SETTERS.items():
                value = bytearray(struct.pack("II", cmd, 0))
                ifr = struct.pack("16sP", self.ifname.encode(), _address_of(value))
                try:
                    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
                except OSError as e:
                    if name == "tx-checksum":  # the others only matter for TCP/GSO traffic
                        raise AgentError(f"cannot switch {name} offload off on {self.ifname}: {e.strerror}") from None

    def _sysctl_files(self) -> list[Path]:
        # Everything a test can move through the verbs, an RA (hop limit, MTU, reachable time)
        # or a redirect: the conf and neigh trees of all/default/the test link, plus the
        # namespace-wide IPv4/IPv6 knobs.
        dirs = [PROC_NET / f"{fam}/{tree}/{dev}" for fam in ("ipv4", "ipv6")
                for tree, dev in (("conf", "all"), ("conf", "default"), ("conf", self.ifname),
                                  ("neigh", self.ifname))]
        files = [f for d in dirs if d.is_dir() for f in sorted(d.iterdir())]
        files += [f for f in (PROC_NET / "ipv4").iterdir() if f.is_file()]
        files += [f for f in (PROC_NET / "ipv6").iterdir() if f.is_file()]
        files += [f for f in (PROC_NET / "ipv6/icmp").iterdir() if f.is_file()]
        files.append(PROC_NET / "ipv6/route/mtu_expires")  # the ipv6_pmtu_expiry timer
        return files

    def snapshot(self) -> None:
        """Record the state reset() returns to."""
        self.baseline_sysctls = {}
        for f in self._sysctl_files():
            value = _read(f)
            if value is not None:  # None: write-only or unreadable (stable_secret)
                self.baseline_sysctls[f] = value
        self.baseline_mac = _read(Path(f"/sys/class/net/{self.ifname}/address")) or b""
        self.baseline_addrs = self._addresses()
        self.baseline_routes = self._routes()
        self.baseline_neighbors = self._neighbors()

    def ip_addresses(self) -> list[str]:
        return self._addresses()

    def frag_memory(self) -> int:
        """Octets held in this namespace's IPv4 and IPv6 reassembly queues (0: none pending).

        /proc/net is the reading process's namespace; the "inuse" count there is always 0 on
        current kernels, the "memory" figure is not."""
        total = 0
        for name in ("sockstat", "sockstat6"):
            for line in (Path("/proc/net") / name).read_text().splitlines():
                if line.startswith(("FRAG:", "FRAG6:")):
                    total += int(line.split()[-1])
        return total

    def state_text(self) -> str:
        """Addresses, routes, route exceptions (``ip -6 route show cache``: redirects, PMTU) and
        neighbors of the namespace as ``ip`` prints them, each under the command that printed it."""
        parts = []
        for args in (["addr", "show"], ["-4", "route", "show", "table", "main"],
                     ["-6", "route", "show", "table", "main"], ["-6", "route", "show", "cache"],
                     ["neigh", "show"]):
            proc = subprocess.run(["ip", *args], capture_output=True, text=True)
            parts.append(f"$ ip {' '.join(args)}\n{(proc.stdout + proc.stderr).rstrip()}")
        return "\n".join(parts)

    def _addresses(self) -> list[str]:
        return list(self._address_flags())

    def _address_flags(self) -> dict[str, dict[str, Any]]:
        """``{"2001:db8:1::1/64": <ip -j addr_info entry>}`` of the test link, both families."""
        out = {}
        for link in self.ip_json("addr", "show", "dev", self.ifname):
            for a in link.get("addr_info", []):
                out[f"{a['local']}/{a['prefixlen']}"] = a
        return out

    def ipv6_addresses(self) -> list[dict[str, Any]]:
        """The test link's IPv6 addresses as ``ip -j`` reports them (flags, remaining lifetimes)."""
        return [a for link in self.ip_json("-6", "addr", "show", "dev", self.ifname)
                for a in link.get("addr_info", [])]

    def _routes(self) -> list[str]:
        """Routes of the main table as `ip route replace` arguments (defaults and static ones)."""
        out = []
        for fam in ("-4", "-6"):
            for r in self.ip_json(fam, "route", "show", "table", "main"):
                if r.get("protocol") in ("kernel", "ra") or r.get("dst", "").startswith("ff00::"):
                    continue  # recreated with the addresses / learnt from RAs, not configuration
                via = f" via {r['gateway']}" if "gateway" in r else ""
                out.append(f"{fam} route replace {r['dst']}{via} dev {r['dev']}")
        return out

    def route_lines(self, family: int, prefix: str) -> list[str]:
        """The main table's routes to ``prefix`` on the test link, one ``ip route`` line each
        ("<prefix> via <gateway> dev <link>")."""
        dst = "default" if prefix in ("0.0.0.0/0", "::/0") else prefix
        out = []
        for r in self.ip_json(f"-{family}", "route", "show", "table", "main", "exact", dst):
            if r.get("dev") == self.ifname:
                via = f" via {r['gateway']}" if "gateway" in r else ""
                out.append(f"{prefix}{via} dev {r['dev']}")
        return out

    def _neighbors(self) -> list[str]:
        out = []
        for fam in ("-4", "-6"):
            for n in self.ip_json(fam, "neigh", "show", "dev", self.ifname, "nud", "permanent"):
                out.append(f"neigh replace {n['dst']} lladdr {n['lladdr']} dev {self.ifname} nud permanent")
        return out

    # ---- reset ------------------------------------------------------------------------------
    def reset(self, bounce: bool = False, park_ns: str | None = None) -> dict[str, Any]:
        """Back to the snapshot: sockets, groups, sysctls, addresses, routes, neighbors.

        ``bounce``: also make the kernel forget the state no sysctl shows. With ``park_ns`` (a
        namespace of ours to move the link into and back, see ``_rebuild``) the link's whole IPv4
        and IPv6 state goes; without it the link goes down and up, which forgets MLDv1
        compatibility mode and a querier's robustness and query intervals (RFC 3810 §9.12;
        ``ipv6_mc_up`` -> ``ipv6_mc_reset``) and what Router Advertisements taught it (default
        routers, prefixes, autoconfigured addresses, on-link routes with a lifetime), but not
        IGMPv1/v2 compatibility mode (RFC 3376 §8.12: up to 260 s) nor the MLD Queries the
        kernel has queued and not yet taken in.
        """
        # An IPv6 address a test added or removed leaves a state-change report of its
        # solicited-node group due again up to an Unsolicited Report Interval later (RFC 3810
        # 6.1), and a link-local one that completes DAD as the link's only one makes Linux report
        # every group it listens to, and again a random time within that interval later
        # (ipv6_mc_dad_complete). A test that put the addresses back as they were leaves this
        # reset no group change that would send them sooner, and the shrunk interval below does
        # not move work already scheduled: only the link going down cancels it. Two soaks on
        # 07 Dec found such a report in the next test (a third TO_EX where RFC 3810 6.1 allows
        # two; a TO_IN record in a window meant to be silent).
        bounce, self._ipv6_address_changed = bounce or self._ipv6_address_changed, False
        # Leaving a group (a closed socket, a removed address's solicited-node group) schedules
        # retransmitted state-change reports up to an unsolicited report interval later
        # (RFC 3810 §6.1, RFC 3376 §5.1). Shrink the interval while we undo the test's changes
        # so those reports go out now and are drained, instead of landing in the next test.
        # The MTU first: below 1280 the kernel took IPv6 off the link (RFC 8200 §5), so its
        # IPv6 sysctls and addresses can only be restored once the MTU is back.
        if Path(f"/sys/class/net/{SECOND_IF}").exists():
            self.ip(f"link del {SECOND_IF}")  # its peer and addresses go with it
        mtu = _read(Path(f"/sys/class/net/{self.ifname}/mtu"))
        if mtu is not None and mtu.strip() != b"1500":
            self.ip(f"link set {self.ifname} mtu 1500")
        # A test may have changed the link-layer address (set_link_address): put it back.
        if _read(Path(f"/sys/class/net/{self.ifname}/address")) != self.baseline_mac:
            self.ip(f"link set {self.ifname} address {self.baseline_mac.decode().strip()}")
        intervals = [PROC_NET / f"ipv6/conf/{self.ifname}/mldv2_unsolicited_report_interval",
                     PROC_NET / f"ipv4/conf/{self.ifname}/igmpv3_unsolicited_report_interval"]
        addrs = self._address_flags()
        reports_due = bool(self.sockets.groups) or bounce or self._address_lines(addrs) != []
        if reports_due:
            for path in intervals:
                self.write_sysctl(path, 1)
        self.sockets.close_all()
        # When the last report-causing event happened (groups left, the link up again, addresses
        # added or removed): the shrunk intervals stay until its reports are out.
        reports_from = time.monotonic()
        self.tcp.close_all()  # RSTs for what the test left open; reset's drain takes them
        # "all" first: writing conf/all/forwarding rewrites every interface's value.
        written = self._restore_sysctls(intervals)
        rebuild_in = park_ns if bounce else None
        if rebuild_in is not None:
            self._rebuild(rebuild_in)
            reports_from = time.monotonic()
            # The new link took its per-link sysctls from "default": put back those the
            # snapshot holds for the link alone (keep_addr_on_down).
            written += self._restore_sysctls(intervals)
        elif bounce:
            # After the sysctls: the link comes up with DAD off and no Router Solicitations.
            self._bounce()
            reports_from = time.monotonic()
        if bounce or written:
            # disable_ipv6, addr_gen_mode or use_tempaddr may have added or removed addresses.
            addrs = self._address_flags()
        lines = self._address_lines(addrs)
        if rebuild_in is not None:
            # A new link: it has learnt no neighbor and cached no route, and the routes and
            # neighbors of the old one (a test's among them) went with it; _rebuild added the
            # snapshot's.
            if lines:
                self.ip(*lines, force=True)
        else:
            lines += [f"link set {self.ifname} mtu 1500 up", f"neigh flush dev {self.ifname}",
                      "-6 route flush proto ra", "-4 route flush cache", "-6 route flush cache"]
            lines += self._route_lines()
            # Stable sort by family prefix: at most three `ip` processes, addresses before routes.
            ordered = sorted([*lines, *self.baseline_neighbors, *self.baseline_routes], key=_family_prefix)
            self.ip(*ordered, force=True)
        addresses_changed = any(line.startswith("addr ") for line in lines)
        if addresses_changed or bounce:
            # Linux joins an added address's solicited-node group from addrconf's deferred work:
            # on a loaded machine 0.3 s after `ip addr add` returned, and its MLD report then
            # went out in the next test (soak, 07 Dec).
            self._await_solicited_node_groups()
        if addresses_changed:
            reports_from = time.monotonic()  # solicited-node groups joined or left
        if reports_due:
            # A few 1 ms report intervals; each retransmission is also delayed by 2 jiffies
            # (mld_ifc_start_work/igmp_ifc_start_timer: "tv + 2"), 8 ms at HZ=250.
            time.sleep(max(0.0, reports_from + 0.06 - time.monotonic()))
        for path in intervals:
            saved = self.baseline_sysctls.get(path)
            if saved is not None and _read(path) != saved:
                path.write_bytes(saved)
        # What it took, for the harness's own tests (a reset after a quiet test stays cheap).
        return {"sysctls": written, "bounced": bounce, "reports_due": reports_due}

    def _route_lines(self) -> list[str]:
        """``ip`` lines that delete the routes of the main tables the snapshot lacks (a test's,
        or learnt from Router Advertisements) and make a baseline prefix's route permanent again.

        They run after the address lines of the same reset, and the on-link routes of the
        prefixes no baseline address has go too: their addresses go in this reset, but Linux
        keeps the route of an address with a lifetime when the address goes, and removing a
        permanent address while one with a lifetime shares its prefix only puts that lifetime on
        the route (addrconf's check_cleanup_prefix_route). Such a route left the prefix on-link
        for the next test (soak: the DUT solicited an off-link node instead of using its router)."""
        lines: list[str] = []
        base_routes = {r.split(" route replace ")[1] for r in self.baseline_routes}
        for fam in ("-4", "-6"):
            for r in self.ip_json(fam, "route", "show", "table", "main"):
                if r.get("dst", "").startswith("ff00::") or r.get("protocol") == "ra":
                    continue
                via = f" via {r['gateway']}" if "gateway" in r else ""
                route = f"{r['dst']}{via} dev {r.get('dev')}"
                # Protocol and metric too: a test's route to a prefix can sit beside its on-link one.
                exact = f"{route} proto {r.get('protocol', 'boot')}" + (f" metric {r['metric']}" if "metric" in r else "")
                if r.get("protocol") != "kernel":
                    if route not in base_routes:
                        lines.append(f"{fam} route del {exact}")
                elif not any(_same_prefix(r["dst"], a) for a in self.baseline_addrs):
                    lines.append(f"{fam} route del {exact}")
                elif "expires" in r:
                    # A Prefix Information option (RFC 4861 §6.3.4) put a lifetime on the route of
                    # a baseline address's prefix: permanent again, as the address made it.
                    lines.append(f"{fam} route replace {exact}")
        return lines

    def _restore_sysctls(self, leave: list[Path]) -> int:
        """Write back every sysctl of the snapshot that differs now, except ``leave``; return
        how many were written. "all" first: writing conf/all/forwarding rewrites every
        interface's value."""
        written = 0
        for path, value in sorted(self.baseline_sysctls.items(), key=lambda kv: "/all/" not in str(kv[0])):
            if path not in leave and _read(path) != value:
                try:
                    path.write_bytes(value)
                    written += 1
                except OSError:
                    continue
        return written

    def _rebuild(self, park_ns: str) -> None:
        """Move the link into namespace ``park_ns`` and back: leaving a namespace destroys the
        link's IPv4 and IPv6 configuration (in_device, inet6_dev) and arriving creates them anew
        from conf/default, as on the link's first day. This is what forgets IGMPv1/v2
        compatibility mode, which a link flap keeps (RFC 3376 §8.12, up to 260 s with the
        defaults), and the MLD Queries queued for a work item the flap cancels (they would be
        answered in the next test). The link is down while parked, so it sends nothing there.

        The new link's MLD and IGMP reports (its link-local's groups) use the report intervals
        of conf/default, shrunk here for the moment so their retransmissions are over before
        the next test, as reset() does for the link's own intervals."""
        defaults = [PROC_NET / "ipv6/conf/default/mldv2_unsolicited_report_interval",
                    PROC_NET / "ipv4/conf/default/igmpv3_unsolicited_report_interval"]
        saved = {path: _read(path) for path in defaults}
        for path in defaults:
            self.write_sysctl(path, 1)
        try:
            self.ip(f"link set {self.ifname} netns {park_ns}")
            # Back by this process's pid: it lives in the DUT's namespace.
            proc = subprocess.run(["ip", "-n", park_ns, "link", "set", self.ifname, "netns", str(os.getpid())],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise AgentError(f"ip -n {park_ns} link set {self.ifname} netns {os.getpid()}: "
                                 + (" ".join(proc.stderr.split()) or f"exit status {proc.returncode}"))
        finally:
            for path, value in saved.items():
                if value is not None:
                    path.write_bytes(value)
        self._link_up_again(now=[])  # the new link has no address yet
        if self._dad_off():
            self._await_link_local()  # a new link-local: the next test may send from it at once

    def _await_solicited_node_groups(self, limit_s: float = 2.0) -> None:
        """Until the link listens to the solicited-node group of each of its baseline IPv6
        addresses (RFC 4861 7.2.1), or ``limit_s`` has passed."""
        wanted = {_solicited_node(a) for a in self.baseline_addrs if ":" in a}
        deadline = time.monotonic() + limit_s
        while not wanted <= self._joined_ipv6_groups() and time.monotonic() < deadline:
            time.sleep(0.002)

    def _joined_ipv6_groups(self) -> set[ipaddress.IPv6Address]:
        joined = set()
        for line in Path("/proc/net/igmp6").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[1] == self.ifname:
                joined.add(ipaddress.IPv6Address(bytes.fromhex(fields[2])))
        return joined

    def _address_lines(self, addrs: dict[str, dict[str, Any]]) -> list[str]:
        """``ip`` lines that turn the link's addresses ``addrs`` back into the baseline's.

        A baseline address that is tentative or failed DAD (a test turned DAD on and took the
        link down and up) is deleted and added again without DAD."""
        broken = {a for a, info in addrs.items() if info.get("tentative") or info.get("dadfailed")}
        lines = [f"addr del {a} dev {self.ifname}" for a in addrs if a not in self.baseline_addrs or a in broken]
        lines += [f"addr add {a} dev {self.ifname}" + (" nodad" if ":" in a else "")
                  for a in self.baseline_addrs if a not in addrs or a in broken]
        return lines

    # ---- addresses ----------------------------------------------------------------------------
    def second_interface_addr_add(self, cidr: str) -> None:
        """``cidr`` on a second interface with no link to the tester: one end of a veth pair whose
        both ends stay in this namespace (veth, unlike dummy, is in every kernel the backend runs
        on), created on first use; reset() deletes the pair, and the address with it."""
        if not Path(f"/sys/class/net/{SECOND_IF}").exists():
            self.ip(f"link add {SECOND_IF} type veth peer name {SECOND_PEER}",
                    f"link set {SECOND_PEER} up", f"link set {SECOND_IF} up")
        self.ip(f"addr add {cidr} dev {SECOND_IF}" + (" nodad" if ":" in cidr else ""))

    def addr_add(self, cidr: str, dad: bool = False, valid_lft: int | None = None,
                    preferred_lft: int | None = None) -> None:
        # nodad: usable at once, like the in-process stack's static addresses. With DAD the
        # interface must run it at all (accept_dad), which the baseline switches off.
        v6 = ":" in cidr
        if v6 and dad:
            self.write_sysctl(f"ipv6/conf/{self.ifname}/accept_dad", 1)
        line = f"addr add {cidr} dev {self.ifname}" + (" nodad" if v6 and not dad else "")
        if valid_lft is not None or preferred_lft is not None:
            valid = "forever" if valid_lft is None else str(valid_lft)
            preferred = valid if preferred_lft is None else str(preferred_lft)
            line += f" valid_lft {valid} preferred_lft {preferred}"
        users = self._solicited_node_users(cidr.split("/")[0]) if v6 else 0
        self._ipv6_address_changed |= v6
        self.ip(line)
        if v6:
            # With DAD too: the join is where DAD begins (addrconf_dad_begin), so until then an
            # advertisement for the tentative address would meet no DAD to fail (soak finding).
            self._await_solicited_node_group(cidr.split("/")[0], users)

    def _await_solicited_node_group(self, address: str, users_before: int, limit_s: float = 1.0) -> None:
        """Return once the kernel has joined the address's solicited-node group for it.

        Even with nodad, Linux joins that group from its DAD work item (addrconf_dad_work ->
        addrconf_dad_begin), after `ip addr add` has returned: a Neighbor Solicitation sent to
        the group at once can be missed, and removing another address of the same group in that
        window leaves it. "Usable at once" (the verb's promise) includes answering NS. Another
        address may already hold the group, so what is awaited is one more user of it."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self._solicited_node_users(address) <= users_before:
            time.sleep(0.001)

    def _solicited_node_users(self, address: str) -> int:
        """How many times the test link has joined ``address``'s solicited-node group (the "users"
        column of /proc/net/igmp6: one per address mapping to it)."""
        low24 = socket.inet_pton(socket.AF_INET6, address)[13:].hex()
        want = f"ff0200000000000000000001ff{low24}"
        for entry in (_read(Path("/proc/net/igmp6")) or b"").decode().splitlines():
            fields = entry.split()
            if len(fields) > 3 and fields[1] == self.ifname and fields[2] == want:
                return int(fields[3])
        return 0

    # ---- IPv6 host configuration ----------------------------------------------------------------
    def ipv6_option(self, values: dict[str, str | int]) -> list[str]:
        """Write sysctls given relative to /proc/sys/net/ipv6; return the names this kernel lacks
        (nothing is written then)."""
        paths = {PROC_NET / "ipv6" / rel: value for rel, value in values.items()}
        missing = [str(p.relative_to(PROC_NET)) for p in paths if not p.exists()]
        if not missing:
            for path, value in paths.items():
                self.write_sysctl(path, value)
        return missing

    def restart_link(self) -> None:
        """Link flap: down and up. Re-adds what the kernel drops on the way (permanent neighbors,
        static routes, baseline addresses other than the link-local, which the kernel forms
        again itself) and, when DAD is off, waits until the link-local address is back."""
        self._bounce()
        if self._dad_off():
            self._await_link_local()

    def _bounce(self) -> None:
        self.ip(f"link set {self.ifname} down")
        self._link_up_again()

    def _link_up_again(self, now: list[str] | None = None) -> None:
        """Up again, with the snapshot's addresses (but those in ``now``, by default the link's
        present ones), permanent neighbors and routes."""
        up = f"link set {self.ifname} up"
        if now is None:
            self.ip(up)
            now = self._addresses()
            up = ""  # done
        # keep_addr_on_down (set-up) keeps the permanent IPv6 addresses and IPv4 keeps its own;
        # re-add any that still went, never the link-local (the kernel forms it, with DAD).
        lines = [up] if up else []
        lines += [f"addr add {a} dev {self.ifname}" + (" nodad" if ":" in a else "")
                  for a in self.baseline_addrs if a not in now and not a.startswith("fe80:")]
        lines += self.baseline_neighbors + self.baseline_routes
        self.ip(*sorted(lines, key=_family_prefix), force=True)

    def _has_usable_link_local(self) -> bool:
        """Whether the link has a link-local IPv6 address that is neither tentative nor failed,
        from /proc/net/if_inet6 (address, ifindex, prefix length, scope, flags, name; in hex)."""
        for entry in (_read(Path("/proc/net/if_inet6")) or b"").decode().splitlines():
            fields = entry.split()
            if len(fields) == 6 and fields[5] == self.ifname and fields[3] == "20" and \
                    not int(fields[4], 16) & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
                return True
        return False

    def _dad_off(self) -> bool:
        conf = PROC_NET / f"ipv6/conf/{self.ifname}"
        values = {name: (_read(conf / name) or b"").strip() for name in
                  ("accept_dad", "dad_transmits", "disable_ipv6", "addr_gen_mode")}
        if values["disable_ipv6"] == b"1" or values["addr_gen_mode"] == b"1":
            return False  # no link-local will come at all: nothing to wait for
        return values["accept_dad"] == b"0" or values["dad_transmits"] == b"0"

    def _await_link_local(self, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._has_usable_link_local():
                return
            if time.monotonic() > deadline:
                raise AgentError(f"{self.ifname} formed no link-local address within {timeout} s of coming up")
            time.sleep(0.002)

    def addr_del(self, cidr: str) -> None:
        self._ipv6_address_changed |= ":" in cidr
        self.ip(f"addr del {cidr} dev {self.ifname}")

_IFA_F_DADFAILED, _IFA_F_TENTATIVE = 0x08, 0x40  # linux/if_addr.h


def _family_prefix(line: str) -> str:
    """An ``ip`` line's leading "-4 " or "-6 " ("" for none): sorting by it (stably) groups the
    lines into as few batch processes as their families allow."""
    return line[:3] if line[:3] in ("-4 ", "-6 ") else ""


def _same_prefix(dst: str, cidr: str) -> bool:
    """Whether route destination ``dst`` ("2001:db8:1::/64") is the prefix of address ``cidr``."""
    try:
        return ipaddress.ip_interface(cidr).network == ipaddress.ip_network(dst, strict=False)
    except ValueError:
        return False


def _read(path: Path) -> bytes | None:
    # os.read instead of Path.read_text: reset() compares some 450 sysctls per test.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def _address_of(buf: bytearray) -> int:
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def _solicited_node(cidr: str) -> ipaddress.IPv6Address:
    """The solicited-node multicast address of ``cidr``'s address (RFC 4291 2.7.1)."""
    low = int(ipaddress.IPv6Interface(cidr).ip) & 0xFFFFFF
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low)
