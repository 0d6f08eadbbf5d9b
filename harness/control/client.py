"""The harness's end of the DUT control protocol: connect, hello, call verbs, map errors.

``ControlClient.call`` turns an agent's answer into what a DUT verb returns or raises:
``unsupported`` and ``unknown-verb`` become ``harness.dut.Unsupported`` (the test is skipped with
the agent's own reason), ``bad-arguments`` a ValueError, ``tcp-error`` a ``harness.dut.TCPError``
of the error's ``kind``, anything else ``AgentFailed``.
"""

from __future__ import annotations

import os
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Final, cast, get_args

from harness.control import protocol
from harness.dut import TCPError, TCPErrorKind, Unsupported

CONNECT_TIMEOUT_S: Final = 10.0
# An answer may take as long as the verb waits (udp_recv's ``within``) plus this much.
ANSWER_MARGIN_S: Final = 10.0


class AgentFailed(RuntimeError):
    """The agent broke the protocol, went away, or reports the verb failed on the DUT."""


@dataclass(frozen=True)
class Hello:
    """What an agent says of itself (the ``hello`` result)."""

    protocol: int
    agent: str  # "name version"
    verbs: frozenset[str]
    features: frozenset[str] = frozenset()
    lacks: dict[str, str] = field(default_factory=dict)  # verb -> why the agent cannot serve it
    timers: dict[str, float] = field(default_factory=dict)  # the DUT's timer values, seconds

    @classmethod
    def parse(cls, result: Any) -> Hello:
        if not isinstance(result, dict):
            raise AgentFailed(f"hello: the result is not a JSON object: {result!r}")
        try:
            agent = result["agent"]
            verbs = result["verbs"]
            version = result["protocol"]
            if not (isinstance(agent, dict) and isinstance(agent.get("name"), str)
                    and isinstance(verbs, list) and all(isinstance(v, str) for v in verbs)
                    and isinstance(version, int)):
                raise TypeError
            features = result.get("features", [])
            lacks = result.get("lacks", {})
            timers = result.get("timers", {})
            label = f"{agent['name']} {agent.get('version', '')}".strip()
            return cls(version, label, frozenset(verbs), frozenset(map(str, features)),
                       {str(k): str(v) for k, v in lacks.items()},
                       {str(k): float(v) for k, v in timers.items()})
        except (KeyError, TypeError, ValueError, AttributeError):
            raise AgentFailed(f"hello: not a valid hello result: {protocol.one_line(repr(result))[:300]}") from None


class _Pipes:
    """The agent's stdin and stdout as the connection: an agent the harness started itself
    (the Linux namespace agent) may speak the protocol there instead of on a socket."""

    def __init__(self, to_agent: int, from_agent: int) -> None:
        self.to_agent, self.from_agent = to_agent, from_agent

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.to_agent, view):]

    def recv_within(self, timeout: float) -> bytes | None:
        """Some octets (b"" at end of file), or None when none came within ``timeout``."""
        if not select.select([self.from_agent], [], [], timeout)[0]:
            return None
        return os.read(self.from_agent, 65536)


class ControlClient:
    """One connection to a control agent at ``address`` (``unix:PATH`` or ``tcp:HOST:PORT``), or
    over an agent process's stdin and stdout (``over_pipes``).

    Connecting retries until ``connect_timeout`` (the agent may still be starting). Every call
    waits for its answer; a dead or silent agent raises AgentFailed naming ``label``.
    """

    def __init__(self, address: str, *, connect_timeout: float = CONNECT_TIMEOUT_S, label: str = "agent") -> None:
        self.address, self.label = address, label
        self._kind, self._target = protocol.parse_address(address)
        self._sock: socket.socket | None = self._connect(connect_timeout)
        self._pipes: _Pipes | None = None
        self._buffer = b""
        self._next_id = 1
        self.hello: Hello | None = None

    @classmethod
    def over_pipes(cls, to_agent: int, from_agent: int, *, label: str = "agent") -> ControlClient:
        """A client writing requests to file descriptor ``to_agent`` and reading answers from
        ``from_agent`` (the agent's stdin and stdout); the caller owns and closes both."""
        client = cls.__new__(cls)
        client._use_pipes(to_agent, from_agent, label)
        return client

    def _use_pipes(self, to_agent: int, from_agent: int, label: str) -> None:
        self.address, self.label = "stdin/stdout", label
        self._sock, self._pipes = None, _Pipes(to_agent, from_agent)
        self._buffer, self._next_id, self.hello = b"", 1, None

    def _connect(self, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        family = socket.AF_UNIX if self._kind == "unix" else socket.AF_INET6 if ":" in str(self._target) else socket.AF_INET
        while True:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.connect(self._target)
                return sock
            except OSError as e:
                sock.close()
                if time.monotonic() > deadline:
                    raise AgentFailed(f"cannot connect to the {self.label} at {self.address}: {e.strerror}") from None
                time.sleep(0.01)

    # ---- raw messages ---------------------------------------------------------------------------
    def send_line(self, line: bytes) -> None:
        try:
            if self._pipes is not None:
                self._pipes.sendall(line)
            elif self._sock is not None:
                self._sock.sendall(line)
        except OSError as e:
            raise AgentFailed(f"the {self.label} at {self.address} went away: {e.strerror}") from None

    def _recv_within(self, timeout: float) -> bytes | None:
        if self._pipes is not None:
            return self._pipes.recv_within(timeout)
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(65536)
        except TimeoutError:
            return None

    def read_message(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentFailed(f"the {self.label} did not answer within {timeout:g} s")
            try:
                chunk = self._recv_within(remaining)
            except OSError as e:
                raise AgentFailed(f"the {self.label} at {self.address} went away: {e.strerror}") from None
            if chunk is None:
                continue
            if not chunk:
                raise AgentFailed(f"the {self.label} at {self.address} closed the connection")
            self._buffer += chunk
            if len(self._buffer) > protocol.MAX_LINE:
                raise AgentFailed(f"the {self.label} sent a line longer than {protocol.MAX_LINE} octets")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return protocol.decode(line)
        except protocol.ProtocolError as e:
            raise AgentFailed(f"the {self.label} broke the protocol: {e}") from None

    def request(self, verb: str, args: dict[str, Any], *, timeout: float = ANSWER_MARGIN_S) -> dict[str, Any]:
        """Send one request and return the agent's answer message as it is (ok or error)."""
        request_id, self._next_id = self._next_id, self._next_id + 1
        self.send_line(protocol.encode({"id": request_id, "verb": verb, "args": args}))
        message = self.read_message(timeout)
        if message.get("id") != request_id:
            raise AgentFailed(f"the {self.label} answered request {message.get('id')!r} to request {request_id}")
        if not isinstance(message.get("ok"), bool):
            raise AgentFailed(f'the {self.label} answered without "ok": {protocol.one_line(repr(message))[:200]}')
        return message

    # ---- verbs ---------------------------------------------------------------------------------
    def call(self, verb: str, args: dict[str, Any] | None = None, *, wait: float = 0.0) -> Any:
        """The verb's result; raises Unsupported, ValueError or AgentFailed as the module says."""
        message = self.request(verb, args or {}, timeout=wait + ANSWER_MARGIN_S)
        if message["ok"]:
            return message.get("result")
        err = message.get("error")
        code, text = (err.get("code"), err.get("message", "")) if isinstance(err, dict) else (None, repr(err))
        text = f"{text} ({self.label})"
        if code in (protocol.UNSUPPORTED, protocol.UNKNOWN_VERB):
            raise Unsupported(text)
        if code == protocol.BAD_ARGUMENTS:
            raise ValueError(text)
        kind = err.get("kind") if isinstance(err, dict) else None
        if code == protocol.TCP_ERROR and kind in get_args(TCPErrorKind):
            raise TCPError(cast(TCPErrorKind, kind), text)
        raise AgentFailed(f"{verb}: {text}")

    def say_hello(self) -> Hello:
        self.hello = Hello.parse(self.call("hello", {"versions": list(protocol.SUPPORTED_VERSIONS)}))
        if self.hello.protocol not in protocol.SUPPORTED_VERSIONS:
            raise AgentFailed(f"the {self.label} speaks protocol version {self.hello.protocol}; "
                              f"this harness speaks {protocol.SUPPORTED_VERSIONS}")
        return self.hello

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
