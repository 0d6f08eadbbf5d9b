"""The linux backend's TCP verbs, harness side: each one request to the agent (``tcp.py`` does
the work inside the DUT namespace) and its answer or error turned back into the DUT
protocol's types (``TCPConn``, ``TCPError``, ``ValueError``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, cast

from harness.backends.linux import tcp
from harness.backends.linux.setup import AgentFailed
from harness.backends.linux.values import _checked_port
from harness.dut import Family, TCPConn, TCPError, TCPErrorKind, TCPOption, TCPState

_KINDS: frozenset[str] = frozenset({"reset", "refused", "timed_out", "unreachable", "closed"})


def _family(family: object) -> Family:
    if family == 4:
        return 4
    if family == 6:
        return 6
    raise ValueError(f"family must be 4 or 6, not {family!r}")


def _conn(answer: dict[str, Any]) -> TCPConn:
    return TCPConn(int(answer["handle"]), _family(answer["family"]), str(answer["local"]),
                   int(answer["local_port"]), str(answer["remote"]), int(answer["remote_port"]))


class LinuxTCPVerbs:
    """Mixed into ``LinuxDUT``, which provides ``_call`` (one agent request)."""

    def _call(self, op: str, **args: object) -> Any:
        raise NotImplementedError

    def _tcp(self, op: str, **args: object) -> Any:
        try:
            return self._call(op, **args)
        except AgentFailed as e:
            message = str(e)
            if message.startswith("tcp-error "):
                kind, _, detail = message.removeprefix("tcp-error ").partition(": ")
                if kind in _KINDS:
                    raise TCPError(cast(TCPErrorKind, kind), detail) from None
            if message.startswith("bad-arguments: "):
                raise ValueError(message.removeprefix("bad-arguments: ")) from None
            raise

    def tcp_listen(self, port: int, family: Family = 4, *, backlog: int = 16,
                   options: Mapping[TCPOption, float | int | bool] | None = None) -> None:
        if not 0 < int(backlog) <= 65535:
            raise ValueError(f"backlog must be 1..65535, not {backlog!r}")
        self._tcp("tcp_listen", port=_checked_port(port), family=_family(family), backlog=int(backlog),
                  options=tcp.checked_options(options))

    def tcp_accept(self, port: int, family: Family = 4, *, within: float = 2.0) -> TCPConn | None:
        answer = self._tcp("tcp_accept", port=_checked_port(port), family=_family(family), within=float(within))
        return None if answer is None else _conn(answer)

    def tcp_close_listener(self, port: int, family: Family = 4) -> None:
        self._tcp("tcp_close_listener", port=_checked_port(port), family=_family(family))

    def tcp_connect(self, dst: str, dport: int, *, sport: int | None = None,
                    options: Mapping[TCPOption, float | int | bool] | None = None) -> TCPConn:
        address = str(ipaddress.ip_address(dst))
        return _conn(self._tcp("tcp_connect", dst=address, dport=_checked_port(dport),
                               sport=None if sport is None else _checked_port(sport),
                               options=tcp.checked_options(options)))

    def tcp_send(self, conn: TCPConn, data: bytes) -> int:
        return int(self._tcp("tcp_send", handle=conn.handle, data=bytes(data).hex()))

    def tcp_recv(self, conn: TCPConn, max: int = 65536, *, within: float = 2.0) -> bytes | None:
        if max <= 0:
            raise ValueError(f"tcp_recv: max must be positive, got {max}")
        got = self._tcp("tcp_recv", handle=conn.handle, max=int(max), within=float(within))
        return None if got is None else bytes.fromhex(got)

    def tcp_shutdown(self, conn: TCPConn) -> None:
        self._tcp("tcp_shutdown", handle=conn.handle)

    def tcp_close(self, conn: TCPConn) -> None:
        self._tcp("tcp_close", handle=conn.handle)

    def tcp_abort(self, conn: TCPConn) -> None:
        self._tcp("tcp_abort", handle=conn.handle)

    def tcp_set_option(self, conn: TCPConn, name: TCPOption, value: float | int | bool) -> None:
        self._tcp("tcp_set_option", handle=conn.handle, name=name, value=tcp.checked_option(name, value))

    def tcp_state(self, conn: TCPConn) -> TCPState:
        return cast(TCPState, self._tcp("tcp_state", handle=conn.handle))
