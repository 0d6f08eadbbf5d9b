"""The IPv6 path-MTU cache (RFC 8201): the shared cache of ``network/pmtu.py`` with IPv6's
minimum link MTU as its floor and the ``ipv6_pmtu_expiry`` timer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from stack_under_test import params
from stack_under_test.network import pmtu

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

MAX_ENTRIES: Final = pmtu.MAX_ENTRIES
TIMER_NAME: Final = "ipv6_pmtu_expiry"


class PathMTUCache(pmtu.PathMTUCache):
    def __init__(self, stack: Stack) -> None:
        # RFC 8201 4: "A node MUST NOT reduce its estimate of the Path MTU below the IPv6 minimum
        # link MTU."
        super().__init__(stack, TIMER_NAME, params.IPV6_MIN_MTU)
