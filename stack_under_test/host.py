"""The assembled host stack: the core Stack with ARP, IPv4, IPv6, UDP and TCP registered.

This is the composition root: the only module that knows every protocol module. It sits outside
the layers (stack <- network <- transport) so that ``stack`` never imports what is above it.
"""

from __future__ import annotations

from collections.abc import Sequence

from stack_under_test.network.arp import ARPProtocol
from stack_under_test.network.ipv4.endpoint import IPv4Protocol
from stack_under_test.network.ipv6.endpoint import IPv6Protocol
from stack_under_test.stack.stack import IPFactory, NetworkFactory, StackOptions, TransportFactory
from stack_under_test.stack.stack import Stack as CoreStack
from stack_under_test.transport.tcp import TCPProtocol
from stack_under_test.transport.udp import UDPProtocol


class Stack(CoreStack):
    @classmethod
    def default_network_protocols(cls, options: StackOptions) -> Sequence[NetworkFactory]:
        return [ARPProtocol] if options.ipv4 else []  # ARP resolves IPv4 next hops

    @classmethod
    def default_ip_protocols(cls, options: StackOptions) -> Sequence[IPFactory]:
        return [factory for factory, wanted in ((IPv4Protocol, options.ipv4), (IPv6Protocol, options.ipv6)) if wanted]

    @classmethod
    def default_transport_protocols(cls, options: StackOptions) -> Sequence[TransportFactory]:
        return [UDPProtocol, TCPProtocol]
