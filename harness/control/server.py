"""The agent's end of the DUT control protocol, for agents written in Python (standard library only).

An agent object offers ``verb_<name>(**args)`` methods (``verb_join_group(group)``, ...; an
extension verb ``x-foo-bar`` is ``verb_x_foo_bar``) and a few attributes for ``hello``; ``ControlServer`` listens on a Unix socket, answers ``hello``
itself, checks argument names against each method's signature, and maps exceptions to error
codes: ``AgentError`` (or any exception with a ``code`` attribute naming a protocol error code,
and a ``details`` dict with the fields that code adds, such as ``kind`` for ``tcp-error``)
carries its own code, ValueError/TypeError from a verb is ``bad-arguments``, anything else
``failed``. Non-blocking, for the agent's own poll loop:
``fileno``s to select on, ``process()`` when one is readable, ``poll()`` every turn so a verb
that waits (``udp_recv`` with ``within``) can answer later through ``Pending``.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

# Relative, so an agent that runs with the standard library only (python -I -S, the Linux namespace
# agent) can import this package as ``control`` without the harness package around it.
from . import protocol

NOT_READY: Final = object()


class AgentError(Exception):
    """A verb cannot be served; ``code`` is a protocol error code, the message one actionable line,
    ``details`` the code's own fields (``{"kind": "reset"}`` for ``tcp-error``)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = dict(details or {})


def unsupported(message: str) -> AgentError:
    return AgentError(protocol.UNSUPPORTED, message)


def failed(message: str) -> AgentError:
    return AgentError(protocol.FAILED, message)


def tcp_error(kind: str, message: str) -> AgentError:
    """A TCP verb failed as a socket call fails; ``kind`` is one of harness.dut.TCPErrorKind."""
    return AgentError(protocol.TCP_ERROR, message, {"kind": kind})


@dataclass
class Pending:
    """A verb result not known yet: ``poll()`` returns it, or NOT_READY; at ``deadline``
    (monotonic seconds) the answer is ``on_timeout``."""

    poll: Callable[[], Any]
    deadline: float
    on_timeout: Any = None


@dataclass
class _Connection:
    sock: socket.socket
    buffer: bytes = b""
    waiting: tuple[Any, Pending] | None = None  # (request id, pending verb)
    queued: list[bytes] = field(default_factory=list)  # lines read while a verb is pending


def dispatch(agent: Any, message: dict[str, Any]) -> dict[str, Any] | tuple[Any, Pending]:
    """Answer one decoded request, or (id, Pending) for a verb that answers later."""
    try:
        request_id, verb, args = protocol.parse_request(message)
    except protocol.ProtocolError as e:
        return protocol.error(message.get("id"), e.code, str(e))
    try:
        if verb == "hello":
            return protocol.answer(request_id, hello(agent, args))
        method = getattr(agent, method_name(verb), None)
        if method is None:
            reason = getattr(agent, "lacks", {}).get(verb)
            if reason:
                return protocol.error(request_id, protocol.UNSUPPORTED, reason)
            return protocol.error(request_id, protocol.UNKNOWN_VERB,
                                  f"the agent has no verb {verb!r} (it has: {', '.join(verb_names(agent))})")
        params = inspect.signature(method).parameters
        # Extension arguments ("x-...") an agent does not know are ignored, by the spec; a verb
        # with a **keyword parameter takes them all (Python names cannot hold "-").
        extensible = any(p.kind is p.VAR_KEYWORD for p in params.values())
        args = {k: v for k, v in args.items() if not k.startswith("x-") or k in params or extensible}
        try:
            inspect.signature(method).bind(**args)
        except TypeError as e:
            return protocol.error(request_id, protocol.BAD_ARGUMENTS, f"{verb}: {e}")
        result = method(**args)
        if isinstance(result, Pending):
            return request_id, result
        return protocol.answer(request_id, result)
    except Exception as e:  # the agent must answer every request, in one line
        return _failure(request_id, e, verb)


def _failure(request_id: Any, e: Exception, verb: str = "") -> dict[str, Any]:
    """The error answer for a verb that raised ``e``: AgentError (or an agent's own exception
    with a protocol ``code``) carries its code and details, ValueError, TypeError and KeyError
    are bad arguments, anything else a failure."""
    where = f"{verb}: " if verb else ""
    if isinstance(e, AgentError):
        return protocol.error(request_id, e.code, str(e), e.details)
    code = getattr(e, "code", None)
    if code in protocol.ERROR_CODES:
        details = getattr(e, "details", None)
        return protocol.error(request_id, str(code), str(e), details if isinstance(details, dict) else None)
    if isinstance(e, ValueError | TypeError | KeyError):
        return protocol.error(request_id, protocol.BAD_ARGUMENTS, f"{where}{e}")
    return protocol.error(request_id, protocol.FAILED, f"{where}{type(e).__name__}: {e}")


def method_name(verb: str) -> str:
    """The agent's method serving ``verb``: extension verbs (``x-...``, docs/control-protocol.md)
    have dashes, which a Python name cannot, so ``x-stack-counters`` is ``verb_x_stack_counters``."""
    if verb.startswith("x-"):
        return "verb_x_" + verb[2:].replace("-", "_")
    return f"verb_{verb}"


def verb_names(agent: Any) -> list[str]:
    names = [n.removeprefix("verb_") for n in dir(agent) if n.startswith("verb_")]
    names = ["x-" + n[2:].replace("_", "-") if n.startswith("x_") else n for n in names]
    return sorted({"hello", *names})


def hello(agent: Any, args: dict[str, Any]) -> dict[str, Any]:
    versions = args.get("versions", [protocol.PROTOCOL_VERSION])
    if not isinstance(versions, list) or protocol.PROTOCOL_VERSION not in versions:
        raise AgentError(protocol.VERSION, f"this agent speaks protocol version {protocol.PROTOCOL_VERSION}, "
                                           f"the harness offers {versions!r}")
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "agent": {"name": getattr(agent, "name", type(agent).__name__), "version": getattr(agent, "version", "")},
        "verbs": verb_names(agent),
        "features": sorted(getattr(agent, "features", ())),
        "lacks": dict(getattr(agent, "lacks", {})),
        "timers": dict(getattr(agent, "timers", {})),
    }


class ControlServer:
    """Serve ``agent`` on the Unix socket ``path`` (replacing a stale socket file there)."""

    def __init__(self, agent: Any, path: str) -> None:
        self.agent, self.path = agent, path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(4)
        self._listener.setblocking(False)
        self._connections: dict[int, _Connection] = {}

    def filenos(self) -> list[int]:
        return [self._listener.fileno(), *self._connections]

    def next_deadline(self) -> float | None:
        deadlines = [c.waiting[1].deadline for c in self._connections.values() if c.waiting]
        return min(deadlines) if deadlines else None

    def process(self, readable: list[int] | set[int]) -> None:
        """Accept, read and answer whatever ``readable`` (from select) says is ready."""
        if self._listener.fileno() in readable:
            with contextlib.suppress(BlockingIOError):
                sock, _ = self._listener.accept()
                sock.setblocking(True)
                self._connections[sock.fileno()] = _Connection(sock)
        for fd in [fd for fd in readable if fd in self._connections]:
            conn = self._connections[fd]
            try:
                chunk = conn.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._drop(fd)
                continue
            conn.buffer += chunk
            while b"\n" in conn.buffer:
                line, _, conn.buffer = conn.buffer.partition(b"\n")
                conn.queued.append(line)
            if len(conn.buffer) > protocol.MAX_LINE:
                self._send(conn, protocol.error(None, protocol.BAD_REQUEST, "line too long"))
                self._drop(fd)
                continue
            self._run(fd)

    def poll(self) -> None:
        """Answer pending verbs that are done or past their deadline."""
        for fd, conn in list(self._connections.items()):
            if conn.waiting is None:
                continue
            request_id, pending = conn.waiting
            try:
                result = pending.poll()
            except Exception as e:  # a verb that fails while it waits answers as dispatch() would
                conn.waiting = None
                self._send(conn, _failure(request_id, e))
                self._run(fd)
                continue
            if result is NOT_READY and time.monotonic() < pending.deadline:
                continue
            conn.waiting = None
            self._send(conn, protocol.answer(request_id, pending.on_timeout if result is NOT_READY else result))
            self._run(fd)

    def _run(self, fd: int) -> None:
        conn = self._connections.get(fd)
        while conn is not None and conn.waiting is None and conn.queued:
            line = conn.queued.pop(0)
            if not line.strip():
                continue
            try:
                message = protocol.decode(line)
            except protocol.ProtocolError as e:
                self._send(conn, protocol.error(None, e.code, str(e)))
                continue
            outcome = dispatch(self.agent, message)
            if isinstance(outcome, tuple):
                conn.waiting = outcome
            else:
                self._send(conn, outcome)

    def _send(self, conn: _Connection, message: dict[str, Any]) -> None:
        try:
            conn.sock.sendall(protocol.encode(message))
        except OSError:
            self._drop(conn.sock.fileno())

    def _drop(self, fd: int) -> None:
        conn = self._connections.pop(fd, None)
        if conn is not None:
            conn.sock.close()

    def close(self) -> None:
        for fd in list(self._connections):
            self._drop(fd)
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
