"""The linux backend's control agent, on the DUT control protocol: runs *inside* the DUT namespace.

Started by ``setup.AgentClient`` as ``ip netns exec <ns> python -I -S -u -c AGENT_BOOT <dir> <ifname>``,
which puts ``harness/backends`` and ``harness`` on the path and imports this module as
``linux.agent`` (and the protocol's own modules as ``control``), standard library only: it starts
fast and imports no Scapy. It speaks the protocol of docs/control-protocol.md over its stdin and
stdout, one request and one answer per line, and exits when stdin closes, so it never outlives
the harness process that started it.

Every DUT verb is served here with the checks of ``values.py`` (a bad value is ``bad-arguments``,
a knob this kernel lacks ``unsupported``, a refusal of the kernel ``failed``); the kernel work is
``kernel.py``'s, the sockets ``agent_sockets.py``'s, the TCP listeners and connections
``tcp.py``'s (a socket call's failure is ``tcp-error`` with its ``kind``). ``reset`` takes the extension argument
``x-bounce`` (the harness knows whether the test sent IGMP or MLD queries or Router
Advertisements); a client that does not say bounces the link, to be safe. With ``x-park-ns``, a
namespace the client owns, the bounce moves the link there and back, which forgets more than a
link flap does (``Kernel._rebuild``). The ``x_linux_*`` verbs are the set-up's
(sysctls, ``ip``, offloads, the snapshot reset returns to); no test uses them.
"""

from __future__ import annotations

import ipaddress
import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from . import tcp
from .agent_sockets import AgentError
from .kernel import Kernel
from .values import (
    _IPV6_SYSCTLS,
    IPV6_OPTIONS_LINUX_LACKS,
    TIMER_SYSCTLS,
    _checked_group,
    _checked_interface,
    _checked_lifetimes,
    _checked_mac,
    _checked_mtu,
    _checked_network,
    _checked_port,
    _lifetime,
    _refuse_forbidden,
    _sysctl_value,
    timer_seconds,
    timer_sysctl,
)

if TYPE_CHECKING:
    from harness.control import protocol, server
else:  # the boot puts harness/ on the path: the protocol's modules without the harness package
    from control import protocol, server

# Linux implements every optional feature of the protocol's vocabulary: Record Route and
# Timestamp (ip_options.c), source routes (accept_source_route), jumbograms (ipv6_hop_jumbo),
# broadcast and multicast echo (icmp_echo_ignore_*), forwarding and Redirects, MLDv1/v2,
# IGMPv1-3, SLAAC, temporary and stable addresses, Route Information (accept_ra_rt_info_*), the ICMP
# Timestamp server (icmp_timestamp()).
FEATURES: Final = (
    "ipv4-record-route", "ipv4-timestamp", "ipv4-source-route", "ipv6-jumbograms", "echo-broadcast",
    "echo-multicast", "ipv4-forwarding", "ipv6-forwarding", "mldv1", "mldv2", "igmpv1", "igmpv2", "igmpv3",
    "slaac", "temporary-addresses", "stable-addresses", "route-information", "redirect-send", "icmp-timestamp",
)
# Linux's IPv4 ICMP limits: a global token bucket (icmp_msgs_per_sec, icmp_msgs_burst) and a
# per-destination one (icmp_ratelimit, ms per token; 0 = off). The global one stays out of the way.
_UNLIMITED_V4: Final = {"ipv4/icmp_msgs_per_sec": 1_000_000, "ipv4/icmp_msgs_burst": 1_000_000,
                        "ipv4/icmp_ratelimit": 0}


def _family(family: int) -> int:
    if family not in (4, 6):
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    return family


def _handle(conn: dict[str, Any]) -> int:
    """The handle of a ``TCPConn`` as the protocol carries it (the object of its fields)."""
    handle = conn.get("handle") if isinstance(conn, dict) else None
    if not isinstance(handle, int) or isinstance(handle, bool):
        raise ValueError(f"not a TCP connection of this agent: {conn!r}")
    return handle


class LinuxAgent:
    """The DUT verbs of the protocol over this namespace's kernel (``harness.control.server``
    dispatches ``verb_<name>``)."""

    name = "linux-netns"
    features = FEATURES
    lacks: Final[dict[str, str]] = {}

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.kernel = Kernel(ifname)
        self.sockets = self.kernel.sockets
        self.tcp = self.kernel.tcp
        self.version = os.uname().release

    @property
    def timers(self) -> dict[str, float]:
        return {name: float(self.kernel.sysctl_get(timer_sysctl(name, self.ifname))) for name in TIMER_SYSCTLS}

    # ---- protocol ------------------------------------------------------------------------------
    def verb_reset(self, **extensions: Any) -> dict[str, Any]:
        """Back to the snapshot (``Kernel.reset``), then until no fragment is held any more
        (nothing of the last test can time out into the next), at most for the longest
        reassembly timer. Answers what it did (informational)."""
        unknown = [k for k in extensions if not k.startswith("x-")]
        if unknown:
            raise ValueError(f"reset takes no argument {unknown[0]!r}")
        park = extensions.get("x-park-ns")
        done = self.kernel.reset(bounce=bool(extensions.get("x-bounce", True)),
                                 park_ns=park if isinstance(park, str) and park else None)
        timeouts = [float(self.kernel.sysctl_get(TIMER_SYSCTLS[t]))
                    for t in ("ipv4_reassembly_timeout", "ipv6_reassembly_timeout")]
        deadline = time.monotonic() + max(timeouts) + 0.1
        while self.kernel.frag_memory() and time.monotonic() < deadline:
            time.sleep(0.02)
        return done

    # ---- addresses, sockets, groups --------------------------------------------------------------
    def verb_add_address(self, cidr: str, dad: bool = False, valid_lifetime: float | None = None,
                         preferred_lifetime: float | None = None) -> None:
        valid, preferred = _checked_lifetimes(valid_lifetime, preferred_lifetime)
        self.kernel.addr_add(_checked_interface(cidr), dad=bool(dad), valid_lft=valid, preferred_lft=preferred)

    def verb_add_second_interface_address(self, cidr: str) -> None:
        self.kernel.second_interface_addr_add(_checked_interface(cidr))

    def verb_remove_address(self, cidr: str) -> None:
        self.kernel.addr_del(_checked_interface(cidr))

    def verb_udp_bind(self, port: int, family: int = 4) -> None:
        self.sockets.op_udp_bind(_checked_port(port), _family(family))

    def verb_udp_recv(self, port: int, within: float = 2.0) -> list[Any] | None:
        return self.sockets.op_udp_recv(_checked_port(port), float(within))

    def verb_udp_send(self, port: int, data: str, dst: str, dport: int) -> None:
        bytes.fromhex(data)  # ValueError: bad-arguments
        self.sockets.op_udp_send(_checked_port(port), data, str(ipaddress.ip_address(dst)), _checked_port(dport))

    def verb_udp_recvmsg(self, port: int, within: float = 2.0) -> dict[str, Any] | None:
        return self.sockets.op_udp_recvmsg(_checked_port(port), float(within))

    def verb_udp_sendmsg(self, port: int, data: str, dst: str, dport: int, src: str | None = None,
                         ttl: int | None = None, tos: int | None = None, options: str = "") -> None:
        bytes.fromhex(data)  # ValueError: bad-arguments
        if ttl is not None and not 1 <= ttl <= 255:
            raise ValueError(f"TTL must be 1-255, got {ttl}")
        if tos is not None and not 0 <= tos <= 255:
            raise ValueError(f"TOS must be 0-255, got {tos}")
        if len(bytes.fromhex(options)) > 40:
            raise ValueError(f"{len(options) // 2} octets of options do not fit an IPv4 header (at most 40)")
        self.sockets.op_udp_sendmsg(_checked_port(port), data, str(ipaddress.ip_address(dst)), _checked_port(dport),
                                    None if src is None else str(ipaddress.ip_address(src)), ttl, tos, options)

    def verb_udp_errors(self, port: int, within: float = 2.0) -> list[dict[str, Any]]:
        return self.sockets.op_udp_errors(_checked_port(port), float(within))

    def verb_udp_close(self, port: int) -> None:
        self.sockets.op_udp_close(_checked_port(port))

    def verb_join_group(self, group: str) -> None:
        self.sockets.op_join(_checked_group(group))

    def verb_join_source_group(self, group: str, sources: list[str]) -> None:
        if not isinstance(sources, list) or not sources:
            raise ValueError(f"an INCLUDE-mode join names at least one source, not {sources!r}")
        checked = [str(ipaddress.ip_address(s)) for s in sources]
        self.sockets.op_join_source(_checked_group(group), checked)

    def verb_leave_group(self, group: str) -> None:
        self.sockets.op_leave(_checked_group(group))

    # ---- TCP (harness.dut's TCP section; tcp.py does the socket work) ----------------------------
    def verb_tcp_listen(self, port: int, family: int = 4, backlog: int = 16,
                        options: dict[str, Any] | None = None) -> None:
        if isinstance(backlog, bool) or not isinstance(backlog, int) or not 0 < backlog <= 65535:
            raise ValueError(f"backlog must be 1..65535, not {backlog!r}")
        self.tcp.listen(_checked_port(port), _family(family), backlog, tcp.checked_options(options))

    def verb_tcp_accept(self, port: int, family: int = 4, within: float = 2.0) -> dict[str, Any] | None:
        return self.tcp.accept(_checked_port(port), _family(family), float(within))

    def verb_tcp_close_listener(self, port: int, family: int = 4) -> None:
        self.tcp.close_listener(_checked_port(port), _family(family))

    def verb_tcp_connect(self, dst: str, dport: int, sport: int | None = None,
                         options: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.tcp.connect(str(ipaddress.ip_address(dst)), _checked_port(dport),
                                None if sport is None else _checked_port(sport), tcp.checked_options(options))

    def verb_tcp_send(self, conn: dict[str, Any], data: str) -> int:
        bytes.fromhex(data)  # ValueError: bad-arguments
        return self.tcp.send(_handle(conn), data)

    def verb_tcp_recv(self, conn: dict[str, Any], max: int = 65536, within: float = 2.0) -> str | None:
        if isinstance(max, bool) or not isinstance(max, int) or max <= 0:
            raise ValueError(f"tcp_recv: max must be a positive number of octets, not {max!r}")
        return self.tcp.recv(_handle(conn), max, float(within))

    def verb_tcp_shutdown(self, conn: dict[str, Any]) -> None:
        self.tcp.shutdown(_handle(conn))

    def verb_tcp_close(self, conn: dict[str, Any]) -> None:
        self.tcp.close(_handle(conn))

    def verb_tcp_abort(self, conn: dict[str, Any]) -> None:
        self.tcp.abort(_handle(conn))

    def verb_tcp_set_option(self, conn: dict[str, Any], name: str, value: float | int | bool) -> None:
        self.tcp.set_option(_handle(conn), name, tcp.checked_option(name, value))

    def verb_tcp_state(self, conn: dict[str, Any]) -> str:
        return self.tcp.state(_handle(conn))

    # ---- forwarding, timers, routes, MTU, ICMP ----------------------------------------------------
    def verb_set_forwarding(self, family: int, enabled: bool) -> None:
        value = int(bool(enabled))
        if _family(family) == 4:
            # ip_forward is conf/all/forwarding; both written so the link's own value follows.
            self.kernel.sysctl({"ipv4/ip_forward": value, f"ipv4/conf/{self.ifname}/forwarding": value})
        else:
            self.kernel.sysctl({"ipv6/conf/all/forwarding": value})  # propagates to the links

    def verb_set_timer(self, name: str, seconds: float) -> None:
        if name not in TIMER_SYSCTLS:
            raise AgentError(f"the linux backend has no timer {name!r}", code=protocol.UNSUPPORTED)
        self.kernel.sysctl({timer_sysctl(name, self.ifname): timer_seconds(seconds)})

    def verb_add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        net = _checked_network(cidr)
        gateway = ""
        if via is not None:
            gw = ipaddress.ip_address(via)
            if gw.version != net.version:
                raise ValueError(f"gateway {via} is not of the same family as {cidr}")
            _refuse_forbidden(gw, via)
            gateway = f" via {gw}"
        # "mtu lock": the route's path MTU, which the kernel must not raise or lower from what it
        # learns (RFC 1191 / RFC 8201 updates), so the test sees exactly this value.
        mtu_arg = "" if mtu is None else f" mtu lock {_checked_mtu(mtu, net.version)}"
        routes = self.kernel.route_lines(net.version, str(net))
        if gateway and any(r.startswith(f"{net} via ") and f"{net}{gateway} " not in f"{r} " for r in routes):
            # Another route to this prefix through another gateway: keep both (several default
            # gateways, RFC 1122 3.3.1.2); "replace" would swap one for the other.
            self.kernel.ip(f"-{net.version} route append {net}{gateway} dev {self.ifname}{mtu_arg}")
            return
        self.kernel.ip(f"-{net.version} route replace {net}{gateway} dev {self.ifname}{mtu_arg}")

    def verb_remove_route(self, cidr: str) -> None:
        net = _checked_network(cidr)
        # Every route to the prefix, whatever its gateway (the verb names a route by its prefix).
        count = max(1, len(self.kernel.route_lines(net.version, str(net))))
        self.kernel.ip(*[f"-{net.version} route del {net} dev {self.ifname}"] * count)

    def verb_set_link_mtu(self, mtu: int) -> None:
        # IPv4 accepts 68 (RFC 791); IPv6 disappears from a link below 1280, which a test of
        # IPv4 behaviour may accept; the kernel refuses values its driver cannot carry.
        self.kernel.ip(f"link set {self.ifname} mtu {_checked_mtu(mtu, 4)}")

    def verb_set_link_address(self, mac: str) -> None:
        # The kernel's reset puts the baseline MAC back.
        self.kernel.ip(f"link set dev {self.ifname} address {_checked_mac(mac)}")

    def verb_set_icmp_rate_limit(self, family: int, per_second: float, burst: int) -> None:
        """Approximation, the same for both families: Linux limits ICMP errors per destination
        with a token bucket of one token per ``icmp_ratelimit`` ms (v4) / ``icmp/ratelimit`` ms
        (v6) and a burst fixed at 6 tokens (XRLIM_BURST_FACTOR), so ``per_second`` maps to
        1000/per_second ms and ``burst`` cannot be set. The kernel's global IPv4 bucket
        (icmp_msgs_per_sec/burst) is left out of the way: since 6.12 it spends 0-2 tokens at
        random per error, and its credit cannot be drained back to a small burst."""
        if per_second < 0 or burst < 0:
            raise ValueError(f"rate and burst must not be negative (got {per_second}/s, burst {burst})")
        interval_ms = 0 if per_second == 0 else max(1, math.ceil(1000 / per_second))
        if _family(family) == 4:
            self.kernel.sysctl({**_UNLIMITED_V4, "ipv4/icmp_ratelimit": interval_ms})
        else:
            self.kernel.sysctl({"ipv6/icmp/ratelimit": interval_ms})

    def verb_set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        self.kernel.sysctl({"ipv4/icmp_echo_ignore_broadcasts": int(bool(ignore))})

    def verb_set_default_ttl(self, family: int, ttl: int) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 255:
            raise ValueError(f"a TTL must be 1-255, got {ttl!r}")
        if _family(family) == 4:
            self.kernel.sysctl({"ipv4/ip_default_ttl": ttl})
        else:
            self.kernel.sysctl({f"ipv6/conf/{dev}/hop_limit": ttl for dev in ("all", self.ifname)})

    def verb_set_accept_source_route(self, accept: bool) -> None:
        # The kernel honours LSRR/SSRR only when both conf/all and the link's value allow it.
        value = int(bool(accept))
        self.kernel.sysctl({f"ipv4/conf/{dev}/accept_source_route": value
                            for dev in ("all", "default", self.ifname)})

    # ---- IPv6 host configuration --------------------------------------------------------------
    def verb_set_ipv6_option(self, name: str, value: float | int | str) -> None:
        if name in IPV6_OPTIONS_LINUX_LACKS:
            raise AgentError(f"the IPv6 option {name}: {IPV6_OPTIONS_LINUX_LACKS[name]}",
                             code=protocol.UNSUPPORTED)
        try:
            rel, unit = _IPV6_SYSCTLS[name]  # type: ignore[index]
        except KeyError:
            raise ValueError(f"unknown IPv6 option {name!r} (known: {', '.join(sorted(_IPV6_SYSCTLS))})") from None
        sysctl = rel.format(**{"if": self.ifname})
        values: dict[str, str | int] = {sysctl: _sysctl_value(name, unit, value)}
        if name == "rtr_solicit_interval":
            # Linux backs the interval off exponentially up to router_solicitation_max_interval
            # (RFC 7559); capping it at the interval gives RFC 4861's fixed spacing (each one
            # still jittered by +-10%, rfc3315_s14_backoff_update).
            values[sysctl.replace("_interval", "_max_interval")] = values[sysctl]
        missing = self.kernel.ipv6_option(values)
        if missing:
            raise AgentError(f"this kernel ({self.version}) has no sysctl net/{', net/'.join(missing)} "
                             f"for the IPv6 option {name}", code=protocol.UNSUPPORTED)

    def verb_restart_link(self) -> None:
        self.kernel.restart_link()

    def verb_ipv6_addresses(self) -> list[dict[str, Any]]:
        out = []
        for a in self.kernel.ipv6_addresses():
            if a.get("dadfailed"):
                continue
            state = "tentative" if a.get("tentative") else "deprecated" if a.get("deprecated") else "preferred"
            out.append({"interface": f"{a['local']}/{a['prefixlen']}", "state": state,
                        "temporary": bool(a.get("temporary")),
                        "valid_lifetime": _lifetime(a.get("valid_life_time")),
                        "preferred_lifetime": _lifetime(a.get("preferred_life_time"))})
        return out

    # ---- set-up (LinuxDUT only, never a test) -------------------------------------------------------
    def verb_x_linux_sysctl(self, values: dict[str, str | int]) -> None:
        self.kernel.sysctl(values)

    def verb_x_linux_sysctl_get(self, name: str) -> str:
        return self.kernel.sysctl_get(name)

    def verb_x_linux_ip(self, lines: list[str]) -> None:
        self.kernel.ip(*lines)

    def verb_x_linux_offloads_off(self) -> None:
        self.kernel.offloads_off()

    def verb_x_linux_snapshot(self) -> None:
        self.kernel.snapshot()

    def verb_x_linux_ip_addresses(self) -> list[str]:
        return self.kernel.ip_addresses()

    def verb_x_linux_frag_memory(self) -> int:
        return self.kernel.frag_memory()

    def verb_x_linux_state(self) -> str:
        return self.kernel.state_text()


def serve(agent: LinuxAgent, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """One answer per request line, in order, until stdin closes."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            answer = server.dispatch(agent, protocol.decode(line))
        except protocol.ProtocolError as e:
            answer = protocol.error(None, e.code, str(e))
        assert isinstance(answer, dict)  # no verb here answers later (Pending): each blocks until done
        stdout.write(protocol.encode(answer))
        stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: agent.py IFNAME", file=sys.stderr)
        return 2
    serve(LinuxAgent(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
