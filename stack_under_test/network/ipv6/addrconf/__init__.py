"""IPv6 address configuration of one NIC: DAD, lifetimes, SLAAC and temporary addresses (RFC 4862,
RFC 7217, RFC 8981), behind ``AddressConfiguration`` (configuration.py)."""

from __future__ import annotations

from stack_under_test.network.ipv6.addrconf.configuration import AddressConfiguration

__all__ = ["AddressConfiguration"]
