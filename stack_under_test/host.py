"""The assembled host stack: the core Stack with ARP, IPv4, IPv6 (when present), UDP and TCP registered.

This is the composition root: the only module that knows every protocol module. It sits outside
the layers (stack <- network <- transport) so that ``stack`` never imports what is above it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from stack_under_test.network.arp import ARPProtocol
from stack_under_test.network.ipv4.endpoint import IPv4Protocol
from stack_under_test.stack.stack import NetworkFactory, StackOptions, TransportFactory
from stack_under_test.stack.stack import Stack as CoreStack
from stack_under_test.transport.tcp import TCPProtocol
from stack_under_test.transport.udp import UDPProtocol


def _ipv6_factory() -> NetworkFactory | None:
    # The IPv6 package exposes IPv6Protocol(stack) from stack_under_test/network/ipv6/__init__.py.
    if importlib.util.find_spec("stack_under_test.network.ipv6.endpoint") is None:
        return None
    from stack_under_test.network.ipv6 import IPv6Protocol  # type: ignore[attr-defined]

    return IPv6Protocol  # type: ignore[no-any-return]


class Stack(CoreStack):
    @classmethod
    def default_network_protocols(cls, options: StackOptions) -> Sequence[NetworkFactory]:
        protocols: list[NetworkFactory] = [ARPProtocol, IPv4Protocol] if options.ipv4 else []
        ipv6 = _ipv6_factory() if options.ipv6 else None
        if ipv6 is not None:
            protocols.append(ipv6)
        return protocols

    @classmethod
    def default_transport_protocols(cls, options: StackOptions) -> Sequence[TransportFactory]:
        return [UDPProtocol, TCPProtocol]
