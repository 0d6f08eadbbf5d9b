"""The sockets the linux backend's control agent holds for a test: bound UDP ports and
multicast group memberships, inside the DUT namespace.

Part of the agent (``agent.py`` answers requests and configures the link); standard library
only, like the rest of the agent, which runs with ``python -I -S``.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Any


class AgentError(Exception):
    """A request failed; the message goes back to the harness as one line, with ``code``, a
    control protocol error code ("failed": the kernel refused; "unsupported": it cannot), and
    the code's own fields in ``details`` (``kind`` for "tcp-error")."""

    def __init__(self, message: str, *, code: str = "failed", details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = dict(details or {})


class Sockets:
    """UDP sockets by port and one socket per family holding the group memberships.

    Requests ``udp_bind``, ``udp_recv``, ``udp_send``, ``udp_close``, ``join`` and ``leave``
    are answered by the ``op_*`` methods here."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.udp: dict[int, socket.socket] = {}
        self.groups: dict[int, socket.socket] = {}  # family -> socket holding memberships

    def close_all(self) -> None:
        """Close every socket: the kernel leaves their groups and frees their ports."""
        for s in [*self.udp.values(), *self.groups.values()]:
            s.close()
        self.udp.clear()
        self.groups.clear()

    # ---- UDP --------------------------------------------------------------------------------
    def op_udp_bind(self, port: int, family: int) -> None:
        if port in self.udp:
            raise AgentError(f"UDP port {port} is already bound on the DUT")
        af = socket.AF_INET6 if family == 6 else socket.AF_INET
        s = socket.socket(af, socket.SOCK_DGRAM)
        try:
            if af == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::" if af == socket.AF_INET6 else "0.0.0.0", port))
        except OSError as e:
            s.close()
            raise AgentError(f"cannot bind UDP port {port} (IPv{family}): {e.strerror}") from None
        s.setblocking(False)
        self.udp[port] = s

    def _sock(self, port: int) -> socket.socket:
        try:
            return self.udp[port]
        except KeyError:
            raise AgentError(f"no UDP socket is bound to port {port} on the DUT (call udp_bind first)") from None

    def op_udp_recv(self, port: int, within: float) -> list[Any] | None:
        s = self._sock(port)
        deadline = time.monotonic() + max(within, 0.0)
        while True:
            try:
                data, addr = s.recvfrom(65535)
                return [data.hex(), str(addr[0]).split("%")[0], int(addr[1])]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([s], [], [], remaining)
            except OSError:
                # A queued ICMP error (port unreachable) surfaces as ECONNREFUSED on the next
                # call; it is not a datagram, so keep waiting for one.
                continue

    def op_udp_send(self, port: int, data: str, dst: str, dport: int) -> None:
        s = self._sock(port)
        addr: tuple[Any, ...] = (dst, dport)
        if s.family == socket.AF_INET6:
            scope = socket.if_nametoindex(self.ifname) if dst.lower().startswith("fe80") or dst.lower().startswith("ff02") else 0
            addr = (dst, dport, 0, scope)
        try:
            s.sendto(bytes.fromhex(data), addr)
        except OSError as e:
            raise AgentError(f"UDP send from port {port} to [{dst}]:{dport} failed: {e.strerror}") from None

    def op_udp_close(self, port: int) -> None:
        self._sock(port).close()
        del self.udp[port]

    # ---- multicast ----------------------------------------------------------------------------
    def _group_request(self, group: str) -> tuple[socket.socket, int, int, bytes]:
        if ":" in group:
            s = self.groups.get(6) or socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            self.groups[6] = s
            mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex(self.ifname))
            return s, socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq
        s = self.groups.get(4) or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.groups[4] = s
        # struct ip_mreqn {in_addr multiaddr; in_addr address; int ifindex;}
        mreq = socket.inet_aton(group) + bytes(4) + struct.pack("@i", socket.if_nametoindex(self.ifname))
        return s, socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq

    def op_join(self, group: str) -> None:
        try:
            s, level, opt, mreq = self._group_request(group)
            s.setsockopt(level, opt, mreq)
        except OSError as e:
            raise AgentError(f"cannot join group {group}: {e.strerror}") from None

    def op_leave(self, group: str) -> None:
        try:
            s, level, _join, mreq = self._group_request(group)
            drop = socket.IPV6_LEAVE_GROUP if level == socket.IPPROTO_IPV6 else socket.IP_DROP_MEMBERSHIP
            s.setsockopt(level, drop, mreq)
        except OSError as e:
            raise AgentError(f"cannot leave group {group}: {e.strerror}") from None
