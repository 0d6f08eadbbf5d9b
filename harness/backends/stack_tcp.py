"""The TCP verbs of ``harness.dut.DUT`` over our own stack, shared by the two backends that serve
it: the in-process backend (virtual time) and the tap agent (a real process on a TAP).

``StackTCP`` keeps one test's listeners and connections and maps each verb onto the stack's TCP
calls without waiting: ``accept_now`` and ``recv_now`` answer at once, and each backend waits
its own way (the in-process one steps its virtual clock, the agent answers later through the
control protocol's ``Pending``). Units: the harness speaks float seconds, the stack int ms.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
from collections.abc import Iterator, Mapping
from typing import Any, Final, get_args

from harness.dut import Family, TCPConn, TCPError, TCPErrorKind, TCPOption, TCPState
from stack_under_test import StackError
from stack_under_test.transport import tcp

# harness TCPOption -> (SocketOptions name, conversion to the stack's units). Keep-alive times in
# whole seconds rounded up, as Linux's TCP_KEEPIDLE/TCP_KEEPINTVL take them.
TCP_OPTIONS: Final[dict[str, tuple[str, Any]]] = {
    "nodelay": ("nodelay", bool),
    "keepalive": ("keepalive", bool),
    "keepidle": ("keepidle_ms", lambda s: math.ceil(float(s)) * 1000),
    "keepintvl": ("keepintvl_ms", lambda s: math.ceil(float(s)) * 1000),
    "keepcnt": ("keepcnt", int),
    "maxseg": ("maxseg", int),
    "rcvbuf": ("rcvbuf", int),
    "sndbuf": ("sndbuf", int),
    "user_timeout": ("user_timeout_ms", lambda s: round(float(s) * 1000)),
}
_STATES: Final[dict[str, TCPState]] = {s: s for s in get_args(TCPState)}
_ERRORS: Final[frozenset[str]] = frozenset(get_args(TCPErrorKind))


def set_option(sockopts: tcp.SocketOptions, name: str, value: float | int | bool) -> None:
    """Set a harness TCPOption on stack SocketOptions; ValueError names what is wrong."""
    if name not in TCP_OPTIONS:
        raise ValueError(f"unknown TCP option {name!r} (known: {', '.join(sorted(TCP_OPTIONS))})")
    field, convert = TCP_OPTIONS[name]
    try:
        sockopts.set(field, convert(value))
    except (StackError, TypeError, ValueError) as e:
        raise ValueError(f"TCP option {name}={value!r}: {e}") from None


def socket_options(options: Mapping[TCPOption, float | int | bool] | None) -> tcp.SocketOptions:
    sockopts = tcp.SocketOptions()
    for name, value in (options or {}).items():
        set_option(sockopts, name, value)
    return sockopts


@contextlib.contextmanager
def tcp_errors() -> Iterator[None]:
    """The stack's TCPError as the harness's (same kinds); other refusals as ValueError."""
    try:
        yield
    except tcp.TCPError as e:
        kind = e.kind if e.kind in _ERRORS else "closed"
        raise TCPError(kind, str(e)) from None  # type: ignore[arg-type]
    except StackError as e:
        raise ValueError(str(e)) from None


class StackTCP:
    """One test's TCP sockets on ``proto`` (the stack's TCPProtocol)."""

    def __init__(self, proto: tcp.TCPProtocol) -> None:
        self.proto = proto
        self.listeners: dict[tuple[int, int], tcp.Listener] = {}
        self.conns: dict[int, tcp.Connection] = {}

    def listen(self, port: int, family: Family = 4, backlog: int = 16,
               options: Mapping[TCPOption, float | int | bool] | None = None) -> None:
        if (port, family) in self.listeners:
            raise ValueError(f"tcp_listen: this test already listens on TCP port {port} (IPv{family})")
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        address = "0.0.0.0" if family == 4 else "::"
        with tcp_errors():
            self.listeners[(port, family)] = self.proto.listen(address, port, backlog, socket_options(options))

    def listener(self, port: int, family: Family) -> tcp.Listener:
        try:
            return self.listeners[(port, family)]
        except KeyError:
            raise ValueError(f"no TCP listener on port {port} (IPv{family}); call dut.tcp_listen first") from None

    def accept_now(self, port: int, family: Family = 4) -> TCPConn | None:
        conn = self.listener(port, family).accept()
        return None if conn is None else self._handle(conn)

    def close_listener(self, port: int, family: Family = 4) -> None:
        self.proto.close_listener(self.listener(port, family))
        del self.listeners[(port, family)]

    def connect(self, dst: str, dport: int, sport: int | None = None,
                options: Mapping[TCPOption, float | int | bool] | None = None) -> TCPConn:
        sockopts = socket_options(options)
        with tcp_errors():
            return self._handle(self.proto.connect(dst, dport, sport, sockopts))

    def _handle(self, conn: tcp.Connection) -> TCPConn:
        handle = len(self.conns) + 1
        self.conns[handle] = conn
        ip = ipaddress.ip_address
        return TCPConn(handle, conn.family, str(ip(conn.local)), conn.local_port,  # type: ignore[arg-type]
                       str(ip(conn.remote)), conn.remote_port)

    def conn(self, handle: int) -> tcp.Connection:
        try:
            return self.conns[handle]
        except KeyError:
            raise ValueError(f"TCP connection {handle} is not a connection of this test") from None

    def send(self, handle: int, data: bytes) -> int:
        with tcp_errors():
            return self.conn(handle).send(bytes(data))

    def recv_now(self, handle: int, most: int) -> bytes | None:
        """What ``tcp_recv`` returns at this instant: data, b"" at the end of the stream, None."""
        if most <= 0:
            raise ValueError(f"tcp_recv: max must be positive, got {most}")
        with tcp_errors():
            return self.conn(handle).recv(most)

    def shutdown(self, handle: int) -> None:
        with tcp_errors():
            self.conn(handle).shutdown()

    def close(self, handle: int) -> None:
        self.conn(handle).close()

    def abort(self, handle: int) -> None:
        self.conn(handle).abort()

    def set_option(self, handle: int, name: TCPOption, value: float | int | bool) -> None:
        c = self.conn(handle)
        sockopts = tcp.SocketOptions()
        set_option(sockopts, name, value)  # validates and converts
        field, _ = TCP_OPTIONS[name]
        c.set_option(field, getattr(sockopts, field))

    def state(self, handle: int) -> TCPState:
        return _STATES[self.conn(handle).state_name]

    def clear(self) -> None:
        """Forget every socket without a word on the wire (a test's end)."""
        self.proto.clear()
        self.listeners.clear()
        self.conns.clear()
