"""The TCP verbs of the linux backend: real sockets inside the DUT namespace.

Runs inside the control agent (``agent.py`` serves the ``tcp_*`` verbs of the DUT control
protocol with ``TCPSockets``), so standard library only. The arguments arrive as the protocol
derives them from ``harness.dut.DUT`` (a connection as the object of its ``TCPConn`` fields,
``data`` as hex, ``options`` as an object in the harness's units, which ``checked_options``
turns into setsockopt(2)'s); the answers are plain JSON (a connection as an object with its
handle, family, addresses and ports; received data as hex, None for "nothing arrived").

A verb that fails the way a socket call fails raises ``TCPFailure``: the protocol error
``tcp-error`` whose ``kind`` (``harness.dut.TCPErrorKind``) the harness turns back into
``TCPError``; bad arguments raise ValueError (``bad-arguments``).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import math
import select
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agent_sockets import AgentError

# linux/tcp.h: the first octet of struct tcp_info is the socket's state (include/net/tcp_states.h).
TCP_INFO_LEN = 104
LINUX_STATES = {
    1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECEIVED", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
    6: "TIME-WAIT", 7: "CLOSED", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING",
    12: "SYN-RECEIVED",  # TCP_NEW_SYN_RECV: a request socket
}
TCP_USER_TIMEOUT = 18  # linux/tcp.h; Python's socket module names it only since 3.12 on some builds
# harness.dut.TCPOption -> (level, option name, unit). Whole seconds are rounded up, as the
# harness promises for Linux's keep-alive times.
OPTIONS: dict[str, tuple[int, int, str]] = {
    "nodelay": (socket.IPPROTO_TCP, socket.TCP_NODELAY, "bool"),
    "keepalive": (socket.SOL_SOCKET, socket.SO_KEEPALIVE, "bool"),
    "keepidle": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, "whole seconds"),
    "keepintvl": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, "whole seconds"),
    "keepcnt": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, "count"),
    "maxseg": (socket.IPPROTO_TCP, socket.TCP_MAXSEG, "octets"),
    "rcvbuf": (socket.SOL_SOCKET, socket.SO_RCVBUF, "octets"),
    "sndbuf": (socket.SOL_SOCKET, socket.SO_SNDBUF, "octets"),
    "user_timeout": (socket.IPPROTO_TCP, TCP_USER_TIMEOUT, "milliseconds"),
}
# What setsockopt(2) accepts: TCP_MAXSEG from TCP_MIN_MSS (88), keep-alive times 1..32767 s
# (MAX_TCP_KEEPIDLE/KEEPINTVL), TCP_KEEPCNT 1..127 (MAX_TCP_KEEPCNT).
_BOUNDS = {"keepidle": (1, 32767), "keepintvl": (1, 32767), "keepcnt": (1, 127), "maxseg": (88, 32767),
           "rcvbuf": (1, 2**31 - 1), "sndbuf": (1, 2**31 - 1), "user_timeout": (0, 2**31 - 1)}
_ERRNO_KINDS = {
    errno.ECONNRESET: "reset", errno.ECONNREFUSED: "refused", errno.ETIMEDOUT: "timed_out",
    errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable", errno.EHOSTDOWN: "unreachable",
    errno.ENETDOWN: "unreachable", errno.EPIPE: "closed", errno.EBADF: "closed", errno.ENOTCONN: "closed",
    errno.ESHUTDOWN: "closed",
}


# The protocol's error code for these failures (harness.control.protocol.TCP_ERROR; the agent
# imports the protocol's modules under another name, so this module, which the harness imports
# too, spells it out; harness/tests/test_linux_tcp_verbs.py checks both agree).
TCP_ERROR = "tcp-error"


class TCPFailure(AgentError):
    """A verb failed as a socket call fails: the protocol error ``tcp-error`` with its ``kind``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail, code=TCP_ERROR, details={"kind": kind})
        self.kind = kind


class BadArguments(ValueError):
    """A handle, port or option the test cannot use (the protocol's ``bad-arguments``)."""


def checked_option(name: str, value: Any) -> int:
    """The integer setsockopt(2) takes for ``harness.dut.TCPOption`` ``name`` = ``value`` (in
    the harness's units); ValueError says what is wrong."""
    if name not in OPTIONS:
        raise ValueError(f"unknown TCP option {name!r} (known: {', '.join(sorted(OPTIONS))})")
    unit = OPTIONS[name][2]
    if unit == "bool":
        if not isinstance(value, (bool, int)):
            raise ValueError(f"TCP option {name} takes a bool, not {value!r}")
        return int(bool(value))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"TCP option {name} takes a number, not {value!r}")
    if unit == "whole seconds":
        number = math.ceil(value)
    elif unit == "milliseconds":
        number = math.ceil(value * 1000)
    else:
        if value != int(value):
            raise ValueError(f"TCP option {name} takes a whole number, not {value!r}")
        number = int(value)
    low, high = _BOUNDS[name]
    if not low <= number <= high:
        raise ValueError(f"TCP option {name}={value!r} is outside what Linux takes ({low}..{high} {unit})")
    return number


def checked_options(options: Any) -> dict[str, int]:
    return {name: checked_option(name, value) for name, value in dict(options or {}).items()}


@dataclass
class _Conn:
    sock: socket.socket | None  # None once the test closed or aborted it
    family: int
    local: str
    local_port: int
    remote: str
    remote_port: int
    failed: str | None = None  # the first failure a verb reported ("reset", ...), kept for later verbs

    def answer(self, handle: int) -> dict[str, Any]:
        return {"handle": handle, "family": self.family, "local": self.local, "local_port": self.local_port,
                "remote": self.remote, "remote_port": self.remote_port}


def _address(addr: str) -> str:
    return str(ipaddress.ip_address(addr.split("%")[0]))


class TCPSockets:
    """The TCP listeners and connections a test opened, by (port, family) and by handle."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.listeners: dict[tuple[int, int], socket.socket] = {}
        self.conns: dict[int, _Conn] = {}
        self.used = False  # a test touched TCP since the last close_all()

    def close_all(self) -> None:
        """Abort every socket of the test, then every TCP socket the kernel still keeps in this
        namespace (orphans closing, TIME-WAIT), so the next test starts without any."""
        for conn in self.conns.values():
            if conn.sock is not None:
                _abort(conn.sock)
        for listener in self.listeners.values():
            listener.close()
        self.conns.clear()
        self.listeners.clear()
        if self.used:
            # SOCK_DESTROY through sock_diag (`ss -K`): the kernel's own connections, which no
            # descriptor names any more, go too.
            subprocess.run(["ss", "-K", "-t", "-a", "-n", "-H"], capture_output=True, check=False)
            self.used = False

    # ---- listening ------------------------------------------------------------------------------
    def listen(self, port: int, family: int, backlog: int, options: dict[str, int]) -> None:
        self.used = True
        if (port, family) in self.listeners:
            raise BadArguments(f"this test already listens on TCP port {port} (IPv{family})")
        af = socket.AF_INET6 if family == 6 else socket.AF_INET
        s = socket.socket(af, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if af == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            _set_options(s, options)
            s.bind(("::" if af == socket.AF_INET6 else "0.0.0.0", port))
            s.listen(backlog)
        except OSError as e:
            s.close()
            raise AgentError(f"cannot listen on TCP port {port} (IPv{family}): {e.strerror}") from None
        s.setblocking(False)
        self.listeners[(port, family)] = s

    def _listener(self, port: int, family: int) -> socket.socket:
        try:
            return self.listeners[(port, family)]
        except KeyError:
            raise BadArguments(f"no TCP listener on port {port} (IPv{family}); call tcp_listen first") from None

    def accept(self, port: int, family: int, within: float) -> dict[str, Any] | None:
        listener = self._listener(port, family)
        deadline = time.monotonic() + max(0.0, within)
        while True:
            try:
                s, peer = listener.accept()
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([listener], [], [], remaining)
        s.setblocking(False)
        local = s.getsockname()
        handle = len(self.conns) + 1
        self.conns[handle] = _Conn(s, family, _address(local[0]), local[1], _address(peer[0]), peer[1])
        return self.conns[handle].answer(handle)

    def close_listener(self, port: int, family: int) -> None:
        self._listener(port, family).close()
        del self.listeners[(port, family)]

    # ---- connecting -----------------------------------------------------------------------------
    def connect(self, dst: str, dport: int, sport: int | None, options: dict[str, int]) -> dict[str, Any]:
        self.used = True
        ip = ipaddress.ip_address(dst)
        af = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        s = socket.socket(af, socket.SOCK_STREAM)
        addr: tuple[Any, ...] = (str(ip), dport)
        if ip.version == 6:
            addr = (str(ip), dport, 0, socket.if_nametoindex(self.ifname) if ip.is_link_local else 0)
        try:
            _set_options(s, options)
            if sport is not None:
                s.bind(("::" if ip.version == 6 else "0.0.0.0", sport))
            s.setblocking(False)
            code = s.connect_ex(addr)
        except OSError as e:
            s.close()
            raise AgentError(f"cannot open a TCP connection to [{dst}]:{dport}: {e.strerror}") from None
        if code not in (0, errno.EINPROGRESS):
            s.close()
            raise TCPFailure(_ERRNO_KINDS.get(code, "unreachable"), f"connect to [{dst}]:{dport}: {errno.errorcode.get(code, code)}")
        local = s.getsockname()
        handle = len(self.conns) + 1
        self.conns[handle] = _Conn(s, ip.version, _address(local[0]), local[1], str(ip), dport)
        return self.conns[handle].answer(handle)

    # ---- data -----------------------------------------------------------------------------------
    def _conn(self, handle: int) -> _Conn:
        try:
            return self.conns[handle]
        except KeyError:
            raise BadArguments(f"no TCP connection with handle {handle} in this test") from None

    def _open(self, handle: int) -> tuple[_Conn, socket.socket]:
        conn = self._conn(handle)
        if conn.sock is None:
            raise TCPFailure("closed", "the handle was closed")
        return conn, conn.sock

    def _failure(self, conn: _Conn, e: OSError, verb: str) -> TCPFailure:
        kind = _ERRNO_KINDS.get(e.errno or 0, "closed")
        if kind == "closed" and conn.failed is not None:
            kind = conn.failed  # a later call after the error was reported once (EPIPE)
        elif kind != "closed":
            conn.failed = kind
        return TCPFailure(kind, f"{verb}: {e.strerror}")

    def send(self, handle: int, data: str) -> int:
        conn, s = self._open(handle)
        try:
            return s.send(bytes.fromhex(data), socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return 0  # the send buffer is full, or the handshake is not complete yet
        except OSError as e:
            raise self._failure(conn, e, "send") from None

    def recv(self, handle: int, max: int, within: float) -> str | None:
        conn, s = self._open(handle)
        deadline = time.monotonic() + max_(0.0, within)
        while True:
            try:
                return s.recv(max, socket.MSG_DONTWAIT).hex()
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([s], [], [], remaining)
            except OSError as e:
                raise self._failure(conn, e, "recv") from None

    def shutdown(self, handle: int) -> None:
        conn, s = self._open(handle)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise self._failure(conn, e, "shutdown") from None

    def close(self, handle: int) -> None:
        conn = self._conn(handle)
        if conn.sock is not None:
            conn.sock.close()
            conn.sock = None

    def abort(self, handle: int) -> None:
        conn = self._conn(handle)
        if conn.sock is not None:
            _abort(conn.sock)
            conn.sock = None

    def set_option(self, handle: int, name: str, value: int) -> None:
        _conn, s = self._open(handle)
        _set_options(s, {name: value})

    def state(self, handle: int) -> str:
        conn = self._conn(handle)
        if conn.sock is not None:
            info = conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
            state = LINUX_STATES.get(info[0], "CLOSED")
            if state != "CLOSED":
                return state
        # Closed by the test, or the kernel moved the connection to a TIME-WAIT socket of its own
        # (tcp_time_wait() leaves the application's socket CLOSED): look it up by its addresses.
        return _kernel_state(conn) or "CLOSED"


def max_(a: float, b: float) -> float:  # `max` is a verb argument's name above
    return a if a > b else b


def _set_options(s: socket.socket, options: dict[str, int]) -> None:
    for name, value in options.items():
        level, opt, _unit = OPTIONS[name]
        try:
            s.setsockopt(level, opt, value)
        except OSError as e:
            raise BadArguments(f"setsockopt {name}={value}: {e.strerror}") from None


def _abort(s: socket.socket) -> None:
    """close(2) with SO_LINGER {on, 0}: a RST instead of a FIN (RFC 9293 3.10.5 ABORT)."""
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def _kernel_state(conn: _Conn) -> str | None:
    """The connection's state from /proc/net/tcp{,6} of this namespace, None if it is gone."""
    table = Path("/proc/net/tcp6" if conn.family == 6 else "/proc/net/tcp")
    want = (_proc_address(conn.local, conn.local_port), _proc_address(conn.remote, conn.remote_port))
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and (fields[1].upper(), fields[2].upper()) == want:
            return LINUX_STATES.get(int(fields[3], 16), "CLOSED")
    return None


def _proc_address(addr: str, port: int) -> str:
    """How /proc/net/tcp prints an address and port: 32-bit words in host byte order, in hex."""
    packed = ipaddress.ip_address(addr).packed
    words = struct.unpack(f"@{len(packed) // 4}I", packed)
    return "".join(f"{w:08X}" for w in words) + f":{port:04X}"
