"""The DUT control protocol: our stack's agent passes the protocol's own conformance test
(``harness.control.agent_check``), and the client maps every answer as the spec says.

The agent runs in a thread over a channel link (no TAP, no root): the protocol is what is
tested here, not the stack's frames.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.tap_agent import HostConfig, StackAgent, serve
from harness.control import protocol
from harness.control.agent_check import (  # the protocol's own checks, run here against our agent
    agent,
    test_a_line_that_is_not_a_request_gets_bad_request,
    test_each_declared_verb_answers_with_its_type_or_a_reason,
    test_hello_names_the_agent_its_protocol_version_and_verbs,
    test_hello_refuses_a_version_it_does_not_speak,
    test_lacking_verbs_are_refused_with_their_reason,
    test_missing_and_unknown_arguments_get_bad_arguments,
    test_reset_is_idempotent_and_undoes_a_test,
    test_unknown_verb_gets_unknown_verb_and_the_connection_goes_on,
)
from harness.control.client import AgentFailed, ControlClient, Hello
from harness.control.server import ControlServer
from harness.dut import AddressInfo, TCPConn, TCPError, Unsupported
from stack_under_test import ChannelEndpoint

__all__ = ["agent", "test_a_line_that_is_not_a_request_gets_bad_request", "test_each_declared_verb_answers_with_its_type_or_a_reason", "test_hello_names_the_agent_its_protocol_version_and_verbs", "test_hello_refuses_a_version_it_does_not_speak", "test_lacking_verbs_are_refused_with_their_reason", "test_missing_and_unknown_arguments_get_bad_arguments", "test_reset_is_idempotent_and_undoes_a_test", "test_unknown_verb_gets_unknown_verb_and_the_connection_goes_on"]  # collected by pytest from here


@pytest.fixture
def agent_address(tmp_path: Path) -> Iterator[str]:
    """Our stack's control agent on a Unix socket, served from a thread for one test."""
    config = HostConfig(bytes.fromhex("020000000001"), ["198.51.100.1/24"], ["2001:db8:1::1/64"])
    agent = StackAgent(ChannelEndpoint(mac=config.mac), "eth0", config)
    path = str(tmp_path / "control.sock")
    server = ControlServer(agent, path)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(agent, server, stop.is_set, 0.02), daemon=True)
    thread.start()
    try:
        yield f"unix:{path}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert not Path(path).exists(), "the server removes its socket"


def test_the_client_maps_errors_to_skips_value_errors_and_failures(agent_address: str) -> None:
    client = ControlClient(agent_address)
    try:
        hello = client.say_hello()
        assert "ipv4-record-route" in hello.features and hello.timers["ipv4_reassembly_timeout"] == 30.0
        with pytest.raises(Unsupported, match="no timer"):
            client.call("set_timer", {"name": "no_such_timer", "seconds": 1.0})
        with pytest.raises(Unsupported, match="no verb"):
            client.call("no_such_verb", {})
        with pytest.raises(ValueError, match="no UDP socket bound to port 9"):
            client.call("udp_close", {"port": 9})
        with pytest.raises(AgentFailed, match="join_group"):
            client.call("join_group", {"group": "2001:db8::1"})  # the stack refuses: not multicast
    finally:
        client.close()


def test_results_decode_into_the_dut_verbs_types(agent_address: str) -> None:
    from harness.control.verbs import control_verbs

    client = ControlClient(agent_address)
    try:
        client.say_hello()
        verbs = control_verbs()
        addresses = verbs["ipv6_addresses"].decode_result(client.call("ipv6_addresses"))
        assert all(isinstance(a, AddressInfo) for a in addresses)
        assert {str(a.interface) for a in addresses} >= {"2001:db8:1::1/64", "fe80::ff:fe00:1/64"}
        args = verbs["udp_send"].encode_args(5, b"\x00\xff", "198.51.100.2", 7)
        assert args == {"port": 5, "data": "00ff", "dst": "198.51.100.2", "dport": 7}
        assert verbs["udp_recv"].decode_result(["6869", "198.51.100.2", 7]) == (b"hi", "198.51.100.2", 7)
        assert verbs["udp_recv"].decode_result(None) is None
        with pytest.raises(ValueError):
            verbs["udp_recv"].decode_result(["zz", "198.51.100.2", 7])
    finally:
        client.close()


def test_the_counters_extension_answers_the_documented_shape(agent_address: str) -> None:
    client = ControlClient(agent_address)
    try:
        assert "x-counters" in client.say_hello().verbs  # an extension verb, served by verb_x_counters
        figures = client.call("x-counters")
        assert figures["rx_frames"] == figures["rx_accepted"] + figures["rx_dropped"] == 0
        assert figures["tx_frames"] > 0  # the reports for its solicited-node groups
        assert {t["name"] for t in figures["tables"]} == {"IPv4 neighbor cache of eth0",
                                                          "IPv6 neighbor cache of eth0"}
        assert all(t["entries"] == 0 < t["bound"] for t in figures["tables"])  # no neighbor configured here
        assert [(q["name"], q["datagrams"], q["octets"]) for q in figures["reassembly"]] == [("IPv4", 0, 0),
                                                                                               ("IPv6", 0, 0)]
        with pytest.raises(ValueError, match="unexpected keyword"):
            client.call("x-counters", {"nic": "eth0"})
    finally:
        client.close()


def test_tcp_verbs_travel_and_socket_failures_come_back_as_tcp_errors(agent_address: str) -> None:
    from harness.control.verbs import control_verbs

    verbs = control_verbs()
    client = ControlClient(agent_address)

    def call(name: str, *args: object, **kwargs: object) -> object:
        encoded = verbs[name].encode_args(*args, **kwargs)
        return verbs[name].decode_result(client.call(name, encoded, wait=float(encoded.get("within", 0.0))))

    try:
        client.say_hello()
        call("tcp_listen", 80)
        conn = call("tcp_connect", "198.51.100.2", 80)  # nobody answers on the channel link
        assert isinstance(conn, TCPConn) and conn.local == "198.51.100.1" and conn.remote_port == 80
        assert call("tcp_state", conn) == "SYN-SENT"
        assert call("tcp_accept", 80, within=0.05) is None
        assert call("tcp_recv", conn, within=0.05) is None
        with pytest.raises(TCPError) as failure:
            call("tcp_connect", "203.0.113.5", 80)  # no route: the stack refuses as connect(2) would
        assert failure.value.kind == "unreachable"
        with pytest.raises(ValueError, match="not a connection of this test"):
            call("tcp_state", TCPConn(99, 4, "198.51.100.1", 1, "198.51.100.2", 2))
    finally:
        client.close()


def test_hello_parse_refuses_a_malformed_result() -> None:
    with pytest.raises(AgentFailed, match="not a valid hello"):
        Hello.parse({"protocol": 1, "verbs": "hello"})


def test_addresses_parse_as_the_spec_says() -> None:
    assert protocol.parse_address("unix:/run/a.sock") == ("unix", "/run/a.sock")
    assert protocol.parse_address("tcp:[::1]:7000") == ("tcp", ("::1", 7000))
    with pytest.raises(ValueError, match="neither unix:PATH nor tcp:HOST:PORT"):
        protocol.parse_address("udp:1.2.3.4:5")
