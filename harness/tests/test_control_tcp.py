"""The TCP verbs on the DUT control protocol: a ``TCPConn`` argument travels as the object of its
fields, TCP options as an object, and a socket call's failure as the error ``tcp-error`` whose
``kind`` the client raises as ``TCPError`` (docs/control-protocol.md). A toy agent in a thread
answers; no stack and no root needed."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from harness.backends.linux import tcp
from harness.control import protocol, server
from harness.control.client import AgentFailed, ControlClient
from harness.control.verbs import control_verbs
from harness.dut import TCPConn, TCPError

CONN = TCPConn(3, 6, "2001:db8:1::1", 80, "2001:db8:1::2", 40000)


class ToyTCPAgent:
    """Answers the way a stack's agent would, and remembers what it was sent."""

    name = "toy-tcp"

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def verb_tcp_connect(self, dst: str, dport: int, sport: int | None, options: dict[str, Any] | None) -> Any:
        self.seen.append(("tcp_connect", {"dst": dst, "dport": dport, "sport": sport, "options": options}))
        return {"handle": 3, "family": 6, "local": "2001:db8:1::1", "local_port": 80,
                "remote": dst, "remote_port": dport}

    def verb_tcp_state(self, conn: dict[str, Any]) -> str:
        self.seen.append(("tcp_state", {"conn": conn}))
        return "ESTABLISHED"

    def verb_tcp_recv(self, conn: dict[str, Any], max: int, within: float) -> str:
        raise server.tcp_error("reset", "recv: Connection reset by peer")

    def verb_tcp_send(self, conn: dict[str, Any], data: str) -> int:
        raise server.tcp_error("exploded", "send: a kind the protocol does not know")

    def verb_tcp_shutdown(self, conn: dict[str, Any]) -> None:
        raise tcp.TCPFailure("closed", "shutdown: Broken pipe")  # the Linux agent's own exception


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[tuple[ToyTCPAgent, ControlClient]]:
    agent = ToyTCPAgent()
    srv = server.ControlServer(agent, str(tmp_path / "control.sock"))
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            readable, _, _ = select.select(srv.filenos(), [], [], 0.02)
            srv.process(readable)
            srv.poll()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    client = ControlClient(f"unix:{tmp_path / 'control.sock'}", label="toy agent")
    try:
        client.say_hello()
        yield agent, client
    finally:
        client.close()
        stop.set()
        thread.join(timeout=5)
        srv.close()


def test_a_connection_travels_as_the_object_of_its_fields_and_comes_back_as_a_tcpconn(
        toy: tuple[ToyTCPAgent, ControlClient]) -> None:
    agent, client = toy
    verbs = control_verbs()
    options = MappingProxyType({"maxseg": 1000, "nodelay": True})
    args = verbs["tcp_connect"].encode_args("2001:db8:1::2", 40000, options=options)
    conn = verbs["tcp_connect"].decode_result(client.call("tcp_connect", args))
    assert conn == TCPConn(3, 6, "2001:db8:1::1", 80, "2001:db8:1::2", 40000)
    assert agent.seen[-1] == ("tcp_connect", {"dst": "2001:db8:1::2", "dport": 40000, "sport": None,
                                              "options": {"maxseg": 1000, "nodelay": True}})
    state = verbs["tcp_state"].decode_result(client.call("tcp_state", verbs["tcp_state"].encode_args(CONN)))
    assert state == "ESTABLISHED"
    assert agent.seen[-1] == ("tcp_state", {"conn": {"handle": 3, "family": 6, "local": "2001:db8:1::1",
                                                     "local_port": 80, "remote": "2001:db8:1::2",
                                                     "remote_port": 40000}})


def test_a_tcp_error_comes_back_as_tcperror_of_its_kind(toy: tuple[ToyTCPAgent, ControlClient]) -> None:
    _agent, client = toy
    answer = client.request("tcp_recv", control_verbs()["tcp_recv"].encode_args(CONN))
    assert answer["error"] == {"code": "tcp-error", "kind": "reset", "message": "recv: Connection reset by peer"}
    with pytest.raises(TCPError) as err:
        client.call("tcp_recv", control_verbs()["tcp_recv"].encode_args(CONN))
    assert err.value.kind == "reset" and "Connection reset by peer" in str(err.value)
    with pytest.raises(TCPError) as closed:  # an exception with code and details, not server.AgentError
        client.call("tcp_shutdown", control_verbs()["tcp_shutdown"].encode_args(CONN))
    assert closed.value.kind == "closed"


def test_a_tcp_error_of_an_unknown_kind_is_a_protocol_failure(toy: tuple[ToyTCPAgent, ControlClient]) -> None:
    _agent, client = toy
    with pytest.raises(AgentFailed, match="a kind the protocol does not know"):
        client.call("tcp_send", control_verbs()["tcp_send"].encode_args(CONN, b"x"))


def test_only_an_error_codes_own_fields_travel() -> None:
    message = protocol.error(1, protocol.FAILED, "no", {"kind": "reset"})
    assert message["error"] == {"code": "failed", "message": "no"}
    message = protocol.error(1, protocol.TCP_ERROR, "no", {"kind": "reset", "code": "failed"})
    assert message["error"] == {"code": "tcp-error", "kind": "reset", "message": "no"}


def test_the_linux_agent_and_the_protocol_name_the_tcp_error_alike() -> None:
    assert tcp.TCP_ERROR == protocol.TCP_ERROR
    assert tcp.TCPFailure("refused", "x").details == {"kind": "refused"}


def test_the_dut_clock_is_no_control_verb() -> None:
    assert "now" not in control_verbs()
    assert {"tcp_listen", "tcp_accept", "tcp_state"} <= set(control_verbs())
