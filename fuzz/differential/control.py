"""What the fuzzer reads of a DUT the harness runs through a control agent (``ManagedDUT``: the
tap backend, lwIP, an interface config with a ``[dut]`` start command): whether its process is
still running, and the agent's read-only verbs, each with a short, bounded wait.

A lane needs more than the backend's own verbs give it: a DUT verb (``ManagedDUT.call``) waits
up to ``harness.control.client.ANSWER_MARGIN_S`` for its answer, long enough for any verb a
test calls; the fuzzer asks only for what a live agent answers at once (the addresses it holds,
its counters), so it waits ``CONTROL_S``, and a DUT that takes longer is a liveness finding
instead of a stall. After such a timeout the connection is out of step (the late answer would
be taken for the next request's), so the lane is replaced, as for every liveness finding.
"""

from __future__ import annotations

from typing import Any, Final

from harness.backends.base import FrameDUT
from harness.backends.managed import ManagedDUT
from harness.control import protocol
from harness.control.client import AgentFailed
from harness.control.verbs import control_verbs
from harness.dut import AddressInfo, Unsupported

# A live agent answers a read-only verb in milliseconds; seconds of headroom for a loaded machine.
CONTROL_S: Final = 3.0
COUNTERS_VERB: Final = "x-counters"  # docs/control-protocol.md, "Extension verbs"


def managed(device: FrameDUT) -> ManagedDUT | None:
    return device if isinstance(device, ManagedDUT) else None


def process_problem(device: FrameDUT) -> str | None:
    """Why a managed DUT's process is not running any more; None while it runs (or for a DUT
    the harness did not start)."""
    dut = managed(device)
    if dut is None:
        return None
    if dut.process is None:
        return "the DUT process is not running"
    return dut.process.exited()


def process_pid(device: FrameDUT) -> int | None:
    dut = managed(device)
    if dut is None or dut.process is None:
        return None
    return int(dut.process.process.pid)


def serves(device: FrameDUT, verb: str) -> bool:
    dut = managed(device)
    return dut is not None and dut.hello is not None and verb in dut.hello.verbs


def ask(device: ManagedDUT, verb: str, timeout: float = CONTROL_S) -> Any:
    """The result of a verb without arguments; Unsupported when the agent does not serve it,
    AgentFailed (naming the agent) when it does not answer within ``timeout`` or fails."""
    if device.control is None or device.hello is None:
        raise Unsupported(f"the {device.name} DUT has no control agent")
    if verb not in device.hello.verbs:
        raise Unsupported(f"the {device.hello.agent} agent does not serve {verb}")
    message = device.control.request(verb, {}, timeout=timeout)
    if message["ok"]:
        return message.get("result")
    error = message.get("error")
    code, text = (error.get("code"), error.get("message")) if isinstance(error, dict) else (None, repr(error))
    if code in (protocol.UNSUPPORTED, protocol.UNKNOWN_VERB):
        raise Unsupported(f"{verb}: {text}")
    raise AgentFailed(f"{verb}: {text} ({device.control.label})")


def ipv6_addresses(device: FrameDUT) -> list[AddressInfo]:
    """The DUT's ``ipv6_addresses``, within ``CONTROL_S`` on a managed DUT."""
    dut = managed(device)
    if dut is None:
        return device.ipv6_addresses()
    verb = control_verbs()["ipv6_addresses"]
    try:
        result: list[AddressInfo] = verb.decode_result(ask(dut, verb.name))
    except (ValueError, TypeError) as e:
        raise AgentFailed(f"ipv6_addresses: the agent's result does not fit: {e}") from None
    return result


def counters(device: FrameDUT) -> dict[str, Any] | None:
    """The stack's counters in the shape of ``x-counters``: read from our in-process stack
    directly, asked of an agent that serves the verb; None when the DUT shows none."""
    stack = getattr(device, "stack", None)
    if stack is not None:
        from harness.backends.stack_agent_values import stack_counters

        return stack_counters(stack)
    dut = managed(device)
    if dut is None or not serves(dut, COUNTERS_VERB):
        return None
    result = ask(dut, COUNTERS_VERB)
    if not isinstance(result, dict):
        raise AgentFailed(f"{COUNTERS_VERB}: the result is not a JSON object: {protocol.one_line(repr(result))[:200]}")
    return result


def counter_problems(figures: dict[str, Any]) -> list[str]:
    """What is wrong with an ``x-counters`` result (docs/control-protocol.md): every frame
    received got exactly one verdict, and no table or reassembly queue is past its bound."""
    problems = []
    try:
        rx, accepted, dropped = (figures.get(k) for k in ("rx_frames", "rx_accepted", "rx_dropped"))
        if isinstance(rx, int) and isinstance(accepted, int) and isinstance(dropped, int) and rx != accepted + dropped:
            problems.append(f"counters do not add up: {rx} frames received, {accepted} accepted + {dropped} dropped")
        for table in figures.get("tables", []):
            if table["entries"] > table["bound"]:
                problems.append(f"{table['name']} holds {table['entries']} entries, above its bound {table['bound']}")
        for queue in figures.get("reassembly", []):
            if queue["octets"] > queue["bound"]:
                problems.append(f"{queue['name']} reassembly holds {queue['octets']} octets, "
                                f"above its bound {queue['bound']}")
            if queue["datagrams"] == 0 and queue["octets"] != 0:
                problems.append(f"{queue['name']} reassembly charges {queue['octets']} octets with no datagram held")
    except (KeyError, TypeError, AttributeError) as e:
        problems.append(f"{COUNTERS_VERB}: a result not of the documented shape ({type(e).__name__}: {e})")
    return problems


def held_datagrams(figures: dict[str, Any]) -> int | None:
    queues = figures.get("reassembly")
    if not isinstance(queues, list) or not queues:
        return None
    try:
        return sum(int(q["datagrams"]) for q in queues)
    except (KeyError, TypeError, ValueError):
        return None
