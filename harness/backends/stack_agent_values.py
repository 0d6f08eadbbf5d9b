"""How the tap agent puts its stack on the DUT control protocol: the ``x-counters`` figures of a
``stack_under_test.Stack``, a TCP call's failure as the protocol's ``tcp-error``, and the second
interface of ``add_second_interface_address`` (the in-process backend does the same)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from harness.control.server import tcp_error
from harness.dut import TCPError


def stack_counters(stack: Any) -> dict[str, Any]:
    """What ``x-counters`` answers for a ``stack_under_test.Stack`` (the in-process backend's
    stack reads the same way): sums over its NICs, and each bounded table with its bound."""
    stats = stack.stats
    tables = [{"name": f"IPv{family} neighbor cache of {nic.name}", "entries": len(table.entries), "bound": table.size}
              for nic in stack.nics.values() for family, table in sorted(nic.neighbors.items())]
    reassembly = []
    for family, proto in sorted(stack.ip_protocols.items()):
        held = getattr(getattr(proto, "reassembly", None), "reassembler", None)
        if held is not None:
            reassembly.append({"name": f"IPv{family}", "datagrams": len(held), "octets": held.queued_bytes,
                               "bound": held.high_thresh})
    return {"rx_frames": stats.rx_frames, "rx_accepted": stats.rx_accepted,
            "rx_dropped": sum(stats.drops.values()), "tx_frames": stats.tx_frames,
            "tables": tables, "reassembly": reassembly}


def conn_handle(conn: Any) -> int:
    """The handle of a TCPConn as the protocol carries it (an object with its fields)."""
    if not isinstance(conn, dict) or not isinstance(conn.get("handle"), int):
        raise ValueError(f"conn must be a TCPConn object with an integer handle, not {conn!r}")
    return int(conn["handle"])


@contextlib.contextmanager
def tcp_failures() -> Iterator[None]:
    """A socket call's failure as the protocol says it: the error ``tcp-error`` with its ``kind``."""
    try:
        yield
    except TCPError as e:
        raise tcp_error(e.kind, str(e).removeprefix(f"{e.kind}: ")) from None




SECOND_NIC = "second0"
_SECOND_MAC = bytes.fromhex("0200000000fe")


def add_second_interface_address(stack: Any, cidr: str, channel: Callable[[bytes], Any]) -> None:
    """``add_second_interface_address`` on a ``stack_under_test.Stack``: a NIC on a link
    ``channel(mac)`` makes (a channel endpoint nobody reads: its queue is bounded, the extra frames
    dropped), created on first use with the test NIC's baseline (no DAD, no Router
    Solicitations), ``cidr`` usable at once. The callers import the stack; this module does not."""
    if SECOND_NIC not in stack.nics:
        stack.create_nic(SECOND_NIC, channel(_SECOND_MAC))
        for name, value in {"accept_dad": 0, "router_solicitations": 0}.items():
            stack.set_ipv6_option(SECOND_NIC, name, value)
        stack.enable_nic(SECOND_NIC)
    stack.add_address(SECOND_NIC, cidr, dad=False)
