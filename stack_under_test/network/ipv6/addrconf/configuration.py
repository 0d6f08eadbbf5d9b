"""The IPv6 addresses of one NIC and how they come and go (RFC 4862, RFC 7217, RFC 8981).

``AddressConfiguration`` is what the IPv6 endpoint calls: it runs Duplicate Address Detection
(dad.py), the lifetimes (lifetimes.py), the link-local and SLAAC addresses (slaac.py) and the
temporary ones (tempaddr.py), and turns what one of them finds into what the others must do, so
none of them knows another. It tells the endpoint (``IPv6Host``) two things: a link-local
address became valid, and a duplicate hardware-based link-local address means IPv6 goes off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test.drops import Drop
from stack_under_test.stack.addresses import AddressEntry, AddressState
from stack_under_test.wire.ipv6 import is_link_local, solicited_node
from stack_under_test.wire.ndp import PrefixInfo

from .autoaddress import AutoAddresses
from .dad import DuplicateAddressDetection
from .lifetimes import AddressLifetimes
from .slaac import LINK_LOCAL_PREFIX, Slaac
from .stable_iid import IID_LEN, eui64_iid
from .tempaddr import TemporaryAddresses

if TYPE_CHECKING:
    from ..contracts import IPv6Host


class AddressConfiguration:
    def __init__(self, host: IPv6Host) -> None:
        self.host = host
        self.formed = AutoAddresses(host.nic)
        self.lifetimes = AddressLifetimes(host.stack.clock, host.nic, self.remove)
        self.dad = DuplicateAddressDetection(host, self._dad_succeeded, self._dad_found_duplicate)
        self.slaac = Slaac(host, self.formed, self.lifetimes)
        self.temporary = TemporaryAddresses(host, self.formed, self.lifetimes)
        self.link_local: bytes | None = None  # the link-local address formed on enable
        self._enabling = False

    # ---- the NIC comes up and goes down ---------------------------------------------------------------
    def enable(self) -> None:
        nic = self.host.nic
        self._enabling = True  # RFC 4862 5.4.2: DAD's first probe after (re)initialization waits
        try:
            # Addresses kept while the NIC was down are checked again (as gVisor and Linux do):
            # another node may have taken them meanwhile.
            for entry in nic.addresses.of_family(6):
                if self.dad.wanted(entry):
                    self.dad.start(entry, delay=True)
                elif entry.state is AddressState.TENTATIVE:
                    entry.state = AddressState.PREFERRED  # DAD was switched off while down
                self.lifetimes.track(entry)
            # RFC 4862 5.3: "A node forms a link-local address whenever an interface becomes
            # enabled." (slaac.py: EUI-64 or an RFC 7217 stable identifier; DAD as configured.)
            self.link_local = self.slaac.form_link_local()
        finally:
            self._enabling = False

    def disable(self) -> None:
        self.dad.cancel_all()
        for entry in list(self.host.nic.addresses.of_family(6)):
            if not entry.static:
                self.remove(entry)
        self.slaac.reset()
        self.temporary.reset()
        self.link_local = None

    # ---- addresses added and removed (the endpoint's on_address_added / on_address_removed) -----------
    def on_address_added(self, entry: AddressEntry) -> None:
        nic = self.host.nic
        wanted = self.dad.wanted(entry)
        if wanted:
            # Tentative before the join: a link-local address under DAD is not yet "a valid
            # link-local address" to send that report from (RFC 3810 5.2.13: it goes from ::).
            entry.state = AddressState.TENTATIVE
        # RFC 4862 5.4: "a tentative address" until DAD ends; a probe that is the first message
        # after enable, or for an address from a multicast RA, waits first, and the report of the
        # solicited-node group with it (5.4.2, dad.py): held before the join would send it.
        delay = wanted and nic.enabled and (self._enabling or self.formed.delay_dad(entry.packed))
        group = solicited_node(entry.packed)
        if delay:
            self.host.hold_report(group)
        # RFC 4291 2.8: a node recognizes "the Solicited-Node multicast address for each of its
        # unicast and anycast addresses"; RFC 4862 5.4.2: the group is joined (and reported,
        # mld.py) before DAD's first probe.
        nic.join_group(group)
        if wanted and nic.enabled:
            self.dad.start(entry, delay=delay)
        # (On a disabled NIC the address stays tentative: DAD runs when the NIC comes up.)
        if nic.addresses.get(entry.packed) is entry:
            self.lifetimes.track(entry)  # RFC 4862 5.5.4: deprecation and expiry timers

    def on_address_removed(self, entry: AddressEntry) -> None:
        self.host.nic.leave_group(solicited_node(entry.packed))  # first: DAD's cancel reports no join
        self.dad.cancel(entry.packed)
        self.lifetimes.untrack(entry.packed)
        info = self.formed.forget(entry.packed)
        if info is not None and info.temporary:
            self.temporary.on_address_removed(entry.packed)

    def remove(self, entry: AddressEntry) -> None:
        """Remove an address of ours whatever made it: a formed address carries no on-link route
        of its own (RFC 5942 4: address configuration "MUST NOT implicitly cause a prefix derived
        from that address to be treated as on-link"); the others go the way they came, through
        ``Stack.remove_address``, which drops the on-link route with the last address of its subnet."""
        host = self.host
        if host.nic.addresses.get(entry.packed) is not entry:
            return
        if self.formed.owns(entry.packed):
            host.nic.remove_address(entry.packed)
        else:
            host.stack.remove_address(host.nic.name, str(entry.interface))

    # ---- Router Advertisements (router_discovery.py, through the endpoint) ------------------------------
    def on_prefix(self, pi: PrefixInfo, *, multicast_ra: bool) -> None:
        prefix = self.slaac.on_prefix(pi, multicast_ra=multicast_ra)
        if prefix is not None and self.host.nic.ipv6_config.use_tempaddr >= 1:
            self.temporary.on_prefix(prefix, pi.valid_lifetime_s, pi.preferred_lifetime_s, multicast_ra=multicast_ra)

    # ---- Neighbor Solicitations and Advertisements for our addresses (ndp.py) --------------------------
    def on_neighbor_solicit(self, src: bytes, entry: AddressEntry, nonce: bytes | None) -> Drop | None:
        return self.dad.on_neighbor_solicit(src, entry, nonce)

    def on_neighbor_advert(self, entry: AddressEntry) -> Drop | None:
        return self.dad.on_neighbor_advert(entry)

    # ---- what DAD found ------------------------------------------------------------------------------------
    def _dad_succeeded(self, entry: AddressEntry) -> None:
        if is_link_local(entry.packed):
            # RFC 3810 5.2.13: "Once a valid link-local address is available, a node SHOULD
            # generate new MLDv2 Report messages for all multicast addresses joined on the
            # interface." (Linux: addrconf_dad_completed -> ipv6_mc_dad_complete.)
            self.host.on_link_local_valid()

    def _link_local_formed(self, packed: bytes) -> None:
        self.link_local = packed

    def _dad_found_duplicate(self, entry: AddressEntry) -> None:
        """Remove the duplicate; try another identifier where RFC 7217 / RFC 8981 say so."""
        host = self.host
        hardware_link_local = entry.packed == LINK_LOCAL_PREFIX.network_address.packed[:IID_LEN] + eui64_iid(host.nic.mac)
        info = self.formed.get(entry.packed)
        self.remove(entry)
        if info is not None and info.temporary:
            self.temporary.on_dad_failed(info)
        else:
            self.slaac.on_dad_failed(entry, info, self._link_local_formed)
        if hardware_link_local:
            # RFC 4862 5.4.5: "If the address is a link-local address formed from an interface
            # identifier based on the hardware address, which is supposed to be uniquely assigned
            # (e.g., EUI-64 for an Ethernet interface), IP operation on the interface SHOULD be
            # disabled." We follow the SHOULD whenever DAD runs (accept_dad 1 or 2), until the
            # interface is brought up again; Linux does so only with accept_dad=2.
            self.dad.stop_all("duplicate hardware-based link-local address")
            host.disable_ipv6()
