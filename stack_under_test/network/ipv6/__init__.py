"""IPv6 (RFC 8200) with ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861)."""

from __future__ import annotations

from stack_under_test.network.ipv6.endpoint import IPv6Endpoint, IPv6Protocol

__all__ = ["IPv6Endpoint", "IPv6Protocol"]
