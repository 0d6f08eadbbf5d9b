"""A DUT control agent for YOUR stack, in Python: copy this file, attach your stack where it
says "YOUR STACK", and serve the verbs your stack can (docs/control-protocol.md).

As it stands it is the smallest correct agent: ``harness.control.server`` speaks the protocol
(hello, errors, argument checks) and every DUT verb without a ``verb_<name>`` method below is
listed as lacking with a reason, so the harness runs the tests that need no control verb and
skips the others saying why. Serve a verb by writing its method, e.g.::

    def verb_join_group(self, group: str) -> None:
        self.stack.join(group)

(arguments by the parameter names of ``harness/dut.py``; raise ``unsupported("why")`` for a
value your stack cannot take, ValueError for a bad one).

Run beside your stack (the harness starts it from your DUT config's [dut] table)::

    python my_agent.py --control /run/my-agent.sock [--tap tap0 --mac ... --ipv4 ... --ipv6 ...]

Check it against the protocol::

    .venv/bin/pytest harness/control/agent_check.py --agent unix:/run/my-agent.sock
"""

from __future__ import annotations

import argparse
import select
import signal
import sys
import time
from types import FrameType
from typing import Any

from harness.control.server import ControlServer
from harness.control.verbs import control_verbs


class MyStackAgent:
    """The control verbs over YOUR STACK. ``harness.control.server`` calls ``verb_<name>``."""

    name = "my-stack-agent"  # YOUR STACK's name and version, shown in reports' skip reasons
    version = "0.1"
    # Optional features and protocol versions YOUR STACK implements, by the names of
    # harness/control/protocol.py FEATURES, e.g. ("mldv2", "igmpv3", "slaac").
    features: tuple[str, ...] = ()

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        # The DUT's timer values in seconds, if a test may wait them out, e.g.
        # {"ipv4_reassembly_timeout": 30.0}.
        self.timers: dict[str, float] = {}
        # YOUR STACK: start it on the link named by options.tap with options.mac, options.ipv4,
        # options.ipv6 (the [dut] command's placeholders).

    @property
    def lacks(self) -> dict[str, str]:
        """Every DUT verb this agent has no method for, with the reason the harness shows."""
        return {name: f"{self.name} does not serve {name} yet" for name in control_verbs()
                if not hasattr(self, f"verb_{name}")}

    def verb_reset(self) -> None:
        """Back to the common baseline (docs/control-protocol.md): the test link's addresses usable
        at once, no Router Solicitations, no sockets or groups a test made, empty neighbor and
        destination caches, routers and prefixes forgotten; return once the DUT is quiet."""
        # YOUR STACK: restart it, or clear what the last test changed.

    def filenos(self) -> list[int]:
        """YOUR STACK's descriptors the loop waits on (its TAP, its timers)."""
        return []

    def process(self, readable: list[int]) -> None:
        """YOUR STACK: serve frames and timers that are due."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DUT control agent for my stack (docs/control-protocol.md)")
    parser.add_argument("--control", required=True, metavar="PATH", help="the Unix socket to listen on")
    for option in ("--tap", "--mac", "--ipv4", "--ipv6", "--mtu"):
        parser.add_argument(option, help="from the [dut] command's placeholders")
    options = parser.parse_args(argv)
    agent = MyStackAgent(options)
    server = ControlServer(agent, options.control)

    def stop(signum: int, frame: FrameType | None) -> Any:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"my-agent ready: control unix:{options.control}", flush=True)  # the [dut] table's `ready`
    try:
        while True:
            deadline = server.next_deadline()
            timeout = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select(server.filenos() + agent.filenos(), [], [], timeout)
            agent.process(readable)
            server.process(readable)
            server.poll()
    except KeyboardInterrupt:
        return 0
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
