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

    Requests ``udp_bind``, ``udp_recv``, ``udp_recvmsg``, ``udp_send``, ``udp_sendmsg``,
    ``udp_errors``, ``udp_close``, ``join`` and ``leave`` are answered by the ``op_*`` methods here."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.udp: dict[int, socket.socket] = {}
        self.errors: dict[int, list[dict[str, Any]]] = {}  # port -> ICMP errors read, not yet reported
        self.groups: dict[int, socket.socket] = {}  # family -> socket holding memberships

    def close_all(self) -> None:
        """Close every socket: the kernel leaves their groups and frees their ports."""
        for s in [*self.udp.values(), *self.groups.values()]:
            s.close()
        self.udp.clear()
        self.errors.clear()
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
        # What udp_recvmsg and udp_errors read: the header values with every datagram, and every
        # ICMP error on the socket's error queue (without IP_RECVERR an unconnected socket is
        # told of none). Set before any datagram can arrive.
        for level, opt in (_RECV_OPTIONS_V6 if af == socket.AF_INET6 else _RECV_OPTIONS_V4):
            s.setsockopt(level, opt, 1)
        if af == socket.AF_INET:
            # As an application that broadcasts and multicasts on the test link would: without
            # SO_BROADCAST a send to a broadcast address fails (EACCES), without a multicast
            # interface a send to a group needs a route the DUT does not have (ENETUNREACH).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                         bytes(8) + struct.pack("@i", socket.if_nametoindex(self.ifname)))
        self.udp[port] = s
        self.errors[port] = []

    def _sock(self, port: int) -> socket.socket:
        try:
            return self.udp[port]
        except KeyError:
            raise AgentError(f"no UDP socket is bound to port {port} on the DUT (call udp_bind first)") from None

    def op_udp_recv(self, port: int, within: float) -> list[Any] | None:
        got = self._recvmsg(port, within)
        return None if got is None else [got["data"], got["src"], got["sport"]]

    def op_udp_recvmsg(self, port: int, within: float) -> dict[str, Any] | None:
        return self._recvmsg(port, within)

    def _recvmsg(self, port: int, within: float) -> dict[str, Any] | None:
        """The next datagram with its destination, TOS, TTL and options (the ancillary data the
        options set at bind ask for), waiting up to ``within`` seconds."""
        s = self._sock(port)
        deadline = time.monotonic() + max(within, 0.0)
        while True:
            self._read_errors(port)  # a queued ICMP error is not a datagram: keep it for udp_errors
            try:
                data, ancillary, _flags, addr = s.recvmsg(65535, 1024)
                return {"data": data.hex(), "src": str(addr[0]).split("%")[0], "sport": int(addr[1]),
                        **_header_values(s.family, ancillary)}
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([s], [], [], remaining)
            except OSError:
                # The pending error of a queued ICMP error (ECONNREFUSED, ...): read it above.
                continue

    def op_udp_send(self, port: int, data: str, dst: str, dport: int) -> None:
        self.op_udp_sendmsg(port, data, dst, dport)

    def op_udp_sendmsg(self, port: int, data: str, dst: str, dport: int, src: str | None = None,
                       ttl: int | None = None, tos: int | None = None, options: str = "") -> None:
        """sendmsg(2) with IP_PKTINFO (the source), IP_TTL, IP_TOS and IP_RETOPTS (options)
        control messages, or IPV6_PKTINFO, IPV6_HOPLIMIT and IPV6_TCLASS."""
        s = self._sock(port)
        self._read_errors(port)  # else a pending ICMP error would fail this send
        v6 = s.family == socket.AF_INET6
        addr: tuple[Any, ...] = (dst, dport)
        if v6:
            addr = (dst, dport, 0, self._scope(dst))
        ancillary = _send_control(v6, src, ttl, tos, bytes.fromhex(options), self._scope(src or ""))
        try:
            s.sendmsg([bytes.fromhex(data)], ancillary, 0, addr)
        except OSError as e:
            raise AgentError(f"UDP send from port {port} to [{dst}]:{dport} failed: {e.strerror}") from None

    def _scope(self, address: str) -> int:
        link = address.lower().startswith(("fe80", "ff02"))
        return socket.if_nametoindex(self.ifname) if link else 0

    def op_udp_errors(self, port: int, within: float) -> list[dict[str, Any]]:
        """The ICMP errors queued on the socket (IP_RECVERR), waiting up to ``within`` for one."""
        s = self._sock(port)
        deadline = time.monotonic() + max(within, 0.0)
        while True:
            self._read_errors(port)
            if self.errors[port] or time.monotonic() >= deadline:
                out, self.errors[port] = self.errors[port], []
                return out
            # An error queued on the socket makes it readable (POLLERR).
            select.select([s], [], [s], deadline - time.monotonic())

    def _read_errors(self, port: int) -> None:
        """Move every ICMP error from the socket's error queue into ``self.errors`` (reading the
        queue empty also clears the pending error a send or receive would otherwise return)."""
        s = self.udp[port]
        while True:
            try:
                _data, ancillary, _flags, addr = s.recvmsg(512, 1024, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            report = _icmp_report(ancillary, addr)
            if report is not None:
                self.errors[port].append(report)

    def op_udp_close(self, port: int) -> None:
        self._sock(port).close()
        del self.udp[port]
        self.errors.pop(port, None)

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

    def op_join_source(self, group: str, sources: list[str]) -> None:
        """MCAST_JOIN_SOURCE_GROUP for each source: the group in INCLUDE mode (RFC 3376 3.1)."""
        v6 = ":" in group
        family = 6 if v6 else 4
        s = self.groups.get(family) or socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        self.groups[family] = s
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        for source in sources:
            # struct group_source_req {u32 gsr_interface; sockaddr_storage gsr_group, gsr_source;}
            req = (struct.pack("@I", socket.if_nametoindex(self.ifname)) + bytes(4)
                   + _sockaddr_storage(group) + _sockaddr_storage(source))
            try:
                s.setsockopt(level, _MCAST_JOIN_SOURCE_GROUP, req)
            except OSError as e:
                raise AgentError(f"cannot join group {group} for source {source}: {e.strerror}") from None

    def op_leave(self, group: str) -> None:
        try:
            s, level, _join, mreq = self._group_request(group)
            drop = socket.IPV6_LEAVE_GROUP if level == socket.IPPROTO_IPV6 else socket.IP_DROP_MEMBERSHIP
            s.setsockopt(level, drop, mreq)
        except OSError as e:
            raise AgentError(f"cannot leave group {group}: {e.strerror}") from None


# ---- the ancillary data of udp_recvmsg, udp_sendmsg and udp_errors (linux/in.h, linux/in6.h,
# linux/errqueue.h; some constants Python's socket module lacks) -----------------------------------
_SOL_IP, _SOL_IPV6 = 0, 41
_IP_TOS, _IP_TTL, _IP_RECVOPTS, _IP_RETOPTS, _IP_PKTINFO, _IP_RECVERR, _IP_RECVTTL, _IP_RECVTOS = 1, 2, 6, 7, 8, 11, 12, 13
_IPV6_RECVERR, _IPV6_RECVPKTINFO, _IPV6_PKTINFO, _IPV6_RECVHOPLIMIT, _IPV6_HOPLIMIT = 25, 49, 50, 51, 52
_IPV6_RECVTCLASS, _IPV6_TCLASS = 66, 67
_RECV_OPTIONS_V4 = ((_SOL_IP, _IP_PKTINFO), (_SOL_IP, _IP_RECVTOS), (_SOL_IP, _IP_RECVTTL),
                    (_SOL_IP, _IP_RECVOPTS), (_SOL_IP, _IP_RECVERR))
_RECV_OPTIONS_V6 = ((_SOL_IPV6, _IPV6_RECVPKTINFO), (_SOL_IPV6, _IPV6_RECVTCLASS),
                    (_SOL_IPV6, _IPV6_RECVHOPLIMIT), (_SOL_IPV6, _IPV6_RECVERR))
_MCAST_JOIN_SOURCE_GROUP = 46  # linux/in.h (and in6.h): the same number for both families


def _sockaddr_storage(address: str) -> bytes:
    """``address`` as a struct sockaddr_in / sockaddr_in6 in a 128-octet sockaddr_storage."""
    if ":" in address:
        raw = struct.pack("@H", socket.AF_INET6) + bytes(6) + socket.inet_pton(socket.AF_INET6, address) + bytes(4)
    else:
        raw = struct.pack("@H", socket.AF_INET) + bytes(2) + socket.inet_aton(address) + bytes(8)
    return raw + bytes(128 - len(raw))


# struct sock_extended_err: ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data.
_EXTENDED_ERR = struct.Struct("=IBBBBII")
_ORIGIN_ICMP, _ORIGIN_ICMP6 = 2, 3


def _header_values(family: int, ancillary: list[tuple[int, int, bytes]]) -> dict[str, Any]:
    """dst, tos, ttl and options of a received datagram from its control messages."""
    out: dict[str, Any] = {"dst": "", "tos": 0, "ttl": 0, "options": ""}
    for level, kind, data in ancillary:
        if level == _SOL_IP and kind == _IP_PKTINFO and len(data) >= 12:
            out["dst"] = socket.inet_ntop(socket.AF_INET, data[8:12])  # in_pktinfo.ipi_addr: the header's
        elif level == _SOL_IP and kind == _IP_TOS and data:
            out["tos"] = data[0]
        elif level == _SOL_IP and kind == _IP_TTL and len(data) >= 4:
            out["ttl"] = struct.unpack("=i", data[:4])[0]
        elif level == _SOL_IP and kind == _IP_RECVOPTS:
            out["options"] = data.hex()
        elif level == _SOL_IPV6 and kind == _IPV6_PKTINFO and len(data) >= 16:
            out["dst"] = socket.inet_ntop(socket.AF_INET6, data[:16])
        elif level == _SOL_IPV6 and kind == _IPV6_TCLASS and len(data) >= 4:
            out["tos"] = struct.unpack("=i", data[:4])[0]
        elif level == _SOL_IPV6 and kind == _IPV6_HOPLIMIT and len(data) >= 4:
            out["ttl"] = struct.unpack("=i", data[:4])[0]
    return out


def _send_control(v6: bool, src: str | None, ttl: int | None, tos: int | None, options: bytes,
                  scope: int) -> list[tuple[int, int, bytes]]:
    out: list[tuple[int, int, bytes]] = []
    if v6:
        if options:
            raise AgentError("IP options are an IPv4 header field (IPv6 carries extension headers)")
        if src is not None:  # struct in6_pktinfo {in6_addr ipi6_addr; int ipi6_ifindex;}
            out.append((_SOL_IPV6, _IPV6_PKTINFO, socket.inet_pton(socket.AF_INET6, src) + struct.pack("=i", scope)))
        if ttl is not None:
            out.append((_SOL_IPV6, _IPV6_HOPLIMIT, struct.pack("=i", ttl)))
        if tos is not None:
            out.append((_SOL_IPV6, _IPV6_TCLASS, struct.pack("=i", tos)))
        return out
    if src is not None:  # struct in_pktinfo {int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr;}
        out.append((_SOL_IP, _IP_PKTINFO, struct.pack("=i", 0) + socket.inet_aton(src) + bytes(4)))
    if ttl is not None:
        out.append((_SOL_IP, _IP_TTL, struct.pack("=i", ttl)))
    if tos is not None:
        out.append((_SOL_IP, _IP_TOS, struct.pack("=i", tos)))
    if options:
        out.append((_SOL_IP, _IP_RETOPTS, options))
    return out


def _icmp_report(ancillary: list[tuple[int, int, bytes]], addr: Any) -> dict[str, Any] | None:
    """One error-queue entry as an ICMPReport; None for errors that did not come from ICMP."""
    for level, kind, data in ancillary:
        if (level, kind) not in ((_SOL_IP, _IP_RECVERR), (_SOL_IPV6, _IPV6_RECVERR)) or len(data) < _EXTENDED_ERR.size:
            continue
        _errno, origin, icmp_type, code, _pad, info, _data = _EXTENDED_ERR.unpack_from(data)
        if origin not in (_ORIGIN_ICMP, _ORIGIN_ICMP6):
            return None
        return {"family": 4 if origin == _ORIGIN_ICMP else 6, "type": icmp_type, "code": code, "info": info,
                "dst": str(addr[0]).split("%")[0] if addr else "", "dport": int(addr[1]) if addr else 0}
    return None
