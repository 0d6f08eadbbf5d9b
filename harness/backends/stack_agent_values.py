"""How the tap agent puts its stack on the DUT control protocol: the ``x-counters`` figures of a
``stack_under_test.Stack`` and a TCP call's failure as the protocol's ``tcp-error``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


