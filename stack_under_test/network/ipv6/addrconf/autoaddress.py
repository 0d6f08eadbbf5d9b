"""The addresses this host formed itself from Router Advertisements: public SLAAC addresses
(RFC 4862 5.5.3) and RFC 8981 temporary addresses, each with what it was formed from.

slaac.py and tempaddr.py form them and configuration.py decides how one is removed; all three
read this table. The link-local address is not in it (it is formed through ``Stack.add_address``
like a configured one, with its on-link route).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Interface, IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.stack.addresses import AddressEntry

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface


@dataclass(slots=True)
class AutoAddress:
    prefix: IPv6Network
    dad_counter: int = 0  # RFC 7217 DAD_Counter (RFC 8981 TEMP_IDGEN_RETRIES for a temporary one)
    temporary: bool = False
    delay_dad: bool = False  # formed from a multicast RA (RFC 4862 5.4.2)
    created_ms: int = 0
    desync_ms: int = 0  # RFC 8981 DESYNC_FACTOR of a temporary address


class AutoAddresses:
    """The formed addresses of one NIC, by packed address."""

    def __init__(self, nic: NetworkInterface) -> None:
        self.nic = nic
        self.formed: dict[bytes, AutoAddress] = {}

    def owns(self, packed: bytes) -> bool:
        return packed in self.formed

    def get(self, packed: bytes) -> AutoAddress | None:
        return self.formed.get(packed)

    def delay_dad(self, packed: bytes) -> bool:
        info = self.formed.get(packed)
        return info is not None and info.delay_dad

    def of_prefix(self, prefix: IPv6Network, *, temporary: bool) -> list[tuple[AutoAddress, AddressEntry]]:
        """The formed addresses of ``prefix`` still assigned, public or temporary ones."""
        found = []
        for packed, info in list(self.formed.items()):
            entry = self.nic.addresses.get(packed)
            if info.prefix == prefix and info.temporary == temporary and entry is not None:
                found.append((info, entry))
        return found

    def limit_reached(self) -> bool:
        # Linux max_addresses counts every IPv6 address of the interface; 0 means no limit, which
        # we still cap (bounded memory).
        cfg = self.nic.ipv6_config
        limit = cfg.max_addresses if cfg.max_addresses > 0 else params.MAX_AUTOCONF_ADDRESSES
        if len(self.nic.addresses.of_family(6)) < limit:
            return False
        self.nic.stats.count_event("slaac_address_limit")
        return True

    def add(self, packed: bytes, info: AutoAddress, valid_until_ms: int | None, preferred_until_ms: int | None) -> None:
        """Assign a formed address: nic.add_address -> the endpoint's on_address_added (its
        solicited-node group, DAD, lifetimes). No on-link route: RFC 5942 4, the Prefix List
        (router_discovery.py) decides what is on-link."""
        entry = AddressEntry(
            IPv6Interface((packed, info.prefix.prefixlen)),
            static=False,
            valid_until_ms=valid_until_ms,
            preferred_until_ms=preferred_until_ms,
            temporary=info.temporary,
        )
        self.formed[packed] = info
        self.nic.add_address(entry)

    def forget(self, packed: bytes) -> AutoAddress | None:
        """The address is gone from the NIC."""
        return self.formed.pop(packed, None)
