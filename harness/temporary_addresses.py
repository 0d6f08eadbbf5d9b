"""RFC 8981 temporary addresses as the tests see them: a prefix the tester advertises for
autoconfiguration (A=1, not as a default router), and the DUT's temporary addresses in it, read
back with ``DUT.ipv6_addresses``."""

from __future__ import annotations

from ipaddress import IPv6Network
from typing import TYPE_CHECKING, Final

from harness.router_discovery import pio, ra

if TYPE_CHECKING:
    from harness.dut import DUT
    from harness.dut_types import AddressInfo

PREFIX: Final = IPv6Network("2001:db8:2::/64")
OTHER_PREFIX: Final = IPv6Network("2001:db8:3::/64")
INFINITE: Final = 0xFFFFFFFF  # RFC 4861 4.6.2: a lifetime of all one bits


def advertise_prefix(dut: DUT, prefix: IPv6Network = PREFIX, *, valid: int = 1200, preferred: int = 600) -> None:
    dut.send(ra(dut, pio(on_link=1, autonomous=1, valid=valid, preferred=preferred,
                         prefix=str(prefix.network_address)), lifetime=0))


def temporaries(dut: DUT, prefix: IPv6Network = PREFIX) -> list[AddressInfo]:
    return [a for a in dut.ipv6_addresses() if a.temporary and a.interface.ip in prefix]


def one_temporary(dut: DUT, prefix: IPv6Network = PREFIX) -> AddressInfo:
    found = temporaries(dut, prefix)
    assert len(found) == 1, f"expected one temporary address in {prefix}, found {[str(a.interface) for a in found]}"
    return found[0]
