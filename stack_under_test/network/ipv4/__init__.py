"""IPv4 (RFC 791, RFC 1122 3) and ICMP (RFC 792)."""

from __future__ import annotations

from typing import Final

# How a datagram was addressed to us (RFC 1122 3.2.1.3); ICMP errors are only sent about UNICAST.
UNICAST: Final = 0
BROADCAST: Final = 1
MULTICAST: Final = 2
