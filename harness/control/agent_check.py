"""Conformance test of a DUT control agent against the protocol itself (not of the stack behind it).

Run it against any agent that listens on a socket::

    pytest harness/control/agent_check.py --agent unix:/run/my-agent.sock
    STACKCHECK_AGENT=tcp:127.0.0.1:7000 pytest harness/control/agent_check.py

It checks ``hello`` (version, name, verbs, features), the answers to an unknown verb, to lines
that are not requests and to bad arguments, that ``reset`` is idempotent and undoes what a test
did, and that every DUT verb the agent declares answers a well-formed request with a result of
the verb's type or a typed error with a reason. The agent's DUT is reset before and after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from harness.control import protocol
from harness.control.client import AgentFailed, ControlClient
from harness.control.verbs import control_verbs

# One well-formed call of each DUT verb, on the test link's documentation addresses.
SAMPLE_ARGS: dict[str, dict[str, Any]] = {
    "add_address": {"cidr": "2001:db8:1::99/64"},
    "remove_address": {"cidr": "2001:db8:1::99/64"},
    "udp_bind": {"port": 40001, "family": 6},
    "udp_recv": {"port": 40001, "within": 0.05},
    "udp_send": {"port": 40001, "data": b"agent-check", "dst": "2001:db8:1::2", "dport": 40002},
    "udp_close": {"port": 40001},
    "udp_recvmsg": {"port": 40001, "within": 0.05},
    "udp_sendmsg": {"port": 40001, "data": b"agent-check", "dst": "2001:db8:1::2", "dport": 40002, "ttl": 9, "tos": 0},
    "udp_errors": {"port": 40001, "within": 0.05},
    "set_default_ttl": {"family": 4, "ttl": 64},
    "join_group": {"group": "ff02::1:ff00:99"},
    "leave_group": {"group": "ff02::1:ff00:99"},
    "join_source_group": {"group": "232.1.2.3", "sources": ["198.51.100.2"]},
    "set_forwarding": {"family": 6, "enabled": False},
    "set_timer": {"name": "ipv6_reassembly_timeout", "seconds": 30.0},
    "add_route": {"cidr": "2001:db8:2::/64", "via": "fe80::ff:fe00:2"},
    "remove_route": {"cidr": "2001:db8:2::/64"},
    "set_link_mtu": {"mtu": 1400},
    "set_icmp_rate_limit": {"family": 6, "per_second": 0.0, "burst": 0},
    "set_echo_ignore_broadcasts": {"ignore": True},
    "set_accept_source_route": {"accept": False},
    "set_ipv6_option": {"name": "dad_transmits", "value": 1},
    "restart_link": {},
    "ipv6_addresses": {},
    "tcp_listen": {"port": 40003, "family": 6},
    "tcp_accept": {"port": 40003, "family": 6, "within": 0.05},
    "tcp_close_listener": {"port": 40003, "family": 6},
}
ANSWERED_CODES = (protocol.UNSUPPORTED, protocol.FAILED, protocol.BAD_ARGUMENTS, protocol.TCP_ERROR)


@pytest.fixture
def agent_address(request: pytest.FixtureRequest) -> str:
    address = request.config.getoption("stackcheck_agent", None) or os.environ.get("STACKCHECK_AGENT")
    if not address:
        pytest.skip("no agent to check: give --agent unix:PATH (or tcp:HOST:PORT) or set STACKCHECK_AGENT")
    return str(address)


@pytest.fixture
def agent(agent_address: str) -> Iterator[ControlClient]:
    client = ControlClient(agent_address, connect_timeout=5.0)
    try:
        client.say_hello()
        _ok(client.request("reset", {}))
        yield client
        _ok(client.request("reset", {}))
    finally:
        client.close()


def _ok(message: dict[str, Any]) -> Any:
    assert message["ok"] is True, f"expected success, got {message}"
    return message.get("result")


def _error(message: dict[str, Any], *codes: str) -> str:
    assert message["ok"] is False, f"expected an error ({', '.join(codes)}), got {message}"
    err = message.get("error")
    assert isinstance(err, dict), f'"error" must be an object with "code" and "message": {message}'
    assert err.get("code") in codes, f"error code {err.get('code')!r}, expected one of {codes}: {message}"
    text = err.get("message")
    assert isinstance(text, str) and text.strip() and "\n" not in text, f"an error needs a one-line reason: {message}"
    return text


def _declared(agent: ControlClient) -> list[str]:
    assert agent.hello is not None
    return sorted(v for v in agent.hello.verbs if v in control_verbs())


def test_hello_names_the_agent_its_protocol_version_and_verbs(agent: ControlClient) -> None:
    hello = agent.hello
    assert hello is not None and hello.protocol == protocol.PROTOCOL_VERSION
    assert hello.agent.strip(), "hello must name the agent"
    assert {"hello", "reset"} <= hello.verbs, "every agent serves the protocol verbs hello and reset"
    unknown = [f for f in hello.features if f not in protocol.FEATURES and not f.startswith("x-")]
    assert not unknown, f"features not in the protocol's vocabulary (use an x- name for private ones): {unknown}"
    both = set(hello.lacks) & hello.verbs
    assert not both, f"verbs both served and listed as lacking: {sorted(both)}"
    assert all(reason.strip() for reason in hello.lacks.values()), "every lacking verb needs its reason"


def test_hello_refuses_a_version_it_does_not_speak(agent: ControlClient) -> None:
    _error(agent.request("hello", {"versions": [999]}), protocol.VERSION)


def test_unknown_verb_gets_unknown_verb_and_the_connection_goes_on(agent: ControlClient) -> None:
    _error(agent.request("no_such_verb_for_agent_check", {}), protocol.UNKNOWN_VERB, protocol.UNSUPPORTED)
    _ok(agent.request("hello", {"versions": [1]}))


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"id": 7, "args": {}}\n',
                                  b'{"id": 8, "verb": "hello", "args": [1]}\n'],
                         ids=["not-json", "array", "no-verb", "args-not-object"])
def test_a_line_that_is_not_a_request_gets_bad_request(agent: ControlClient, line: bytes) -> None:
    agent.send_line(line)
    _error(agent.read_message(timeout=5.0), protocol.BAD_REQUEST)
    _ok(agent.request("hello", {"versions": [1]}))


def test_missing_and_unknown_arguments_get_bad_arguments(agent: ControlClient) -> None:
    checked = 0
    for name in _declared(agent):
        verb = control_verbs()[name]
        required = [p for p in verb.signature.parameters.values() if p.default is p.empty]
        if required:
            _error(agent.request(name, {}), protocol.BAD_ARGUMENTS)
            checked += 1
        args = verb.encode_args(**SAMPLE_ARGS[name]) if name in SAMPLE_ARGS else {}
        if name in SAMPLE_ARGS:
            _error(agent.request(name, {**args, "no_such_argument": 1}), protocol.BAD_ARGUMENTS)
    if not checked:
        pytest.skip("the agent declares no DUT verb that takes arguments")


def test_lacking_verbs_are_refused_with_their_reason(agent: ControlClient) -> None:
    assert agent.hello is not None
    if not agent.hello.lacks:
        pytest.skip("the agent lists no lacking verbs")
    for name, reason in agent.hello.lacks.items():
        args = control_verbs()[name].encode_args(**SAMPLE_ARGS[name]) if name in SAMPLE_ARGS else {}
        text = _error(agent.request(name, args), protocol.UNSUPPORTED, protocol.UNKNOWN_VERB)
        assert text.strip() and reason.strip()


def test_reset_is_idempotent_and_undoes_a_test(agent: ControlClient) -> None:
    declared = set(_declared(agent))
    before = _ok(agent.request("ipv6_addresses", {})) if "ipv6_addresses" in declared else None
    if {"udp_bind", "udp_close"} <= declared:
        _ok(agent.request("udp_bind", {"port": 40003, "family": 4}))
    if "join_group" in declared:
        agent.request("join_group", {"group": "ff02::1:ff00:98"})
    _ok(agent.request("reset", {}))
    _ok(agent.request("reset", {}))
    if before is not None:
        assert _ok(agent.request("ipv6_addresses", {})) == before, "reset must return to the same addresses"
    if {"udp_bind", "udp_close"} <= declared:
        # The socket of before the reset is gone: the port binds again.
        _ok(agent.request("udp_bind", {"port": 40003, "family": 4}))


@pytest.mark.parametrize("name", sorted(SAMPLE_ARGS))
def test_each_declared_verb_answers_with_its_type_or_a_reason(agent: ControlClient, name: str) -> None:
    assert agent.hello is not None
    if name not in agent.hello.verbs:
        pytest.skip(f"the agent does not declare {name}")
    verb = control_verbs()[name]
    setup = {"udp_recv": ["udp_bind"], "udp_send": ["udp_bind"], "udp_close": ["udp_bind"],
             "udp_recvmsg": ["udp_bind"], "udp_sendmsg": ["udp_bind"], "udp_errors": ["udp_bind"],
             "leave_group": ["join_group"], "remove_address": ["add_address"], "remove_route": ["add_route"],
             "tcp_accept": ["tcp_listen"], "tcp_close_listener": ["tcp_listen"]}
    for first in setup.get(name, []):
        if first in agent.hello.verbs:
            agent.request(first, control_verbs()[first].encode_args(**SAMPLE_ARGS[first]))
    args = verb.encode_args(**SAMPLE_ARGS[name])
    try:
        message = agent.request(name, args, timeout=float(args.get("within", 0.0)) + 10.0)
    except AgentFailed as e:
        pytest.fail(f"{name}: {e}")
    if message["ok"]:
        try:
            verb.decode_result(message.get("result"))
        except (ValueError, TypeError) as e:
            pytest.fail(f"{name}: the result {message.get('result')!r} is not of the verb's type: {e}")
    else:
        _error(message, *ANSWERED_CODES)
