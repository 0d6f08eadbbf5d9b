"""Stateless address autoconfiguration (RFC 4862 5.3, 5.5; RFC 7217 identifiers).

The link-local address is formed when the interface comes up; Prefix Information options with
the Autonomous flag form (and refresh) one public address per prefix; RFC 8981 temporary
addresses are tempaddr.py's. Identifiers are modified EUI-64 (addr_gen_mode 0) or RFC 7217 stable
ones (addr_gen_mode 2; Linux also has 3, a random secret: the same algorithm here, as our secret is
random unless stable_secret is set). Formed addresses carry no on-link route of their own
(autoaddress.py).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Timer
from stack_under_test.stack.addresses import AddressEntry
from stack_under_test.stack.ipv6_config import ADDR_GEN_STABLE_PRIVACY
from stack_under_test.wire.ndp import PrefixInfo

from .autoaddress import AutoAddress, AutoAddresses
from .lifetimes import AddressLifetimes, lifetime_deadline
from .stable_iid import IID_LEN, eui64_iid, is_reserved_iid, stable_iid

if TYPE_CHECKING:
    from ..contracts import IPv6Host

LINK_LOCAL_PREFIX = IPv6Network("fe80::/64")
# RFC 4862 5.5.3 b: "If the prefix is the link-local prefix, silently ignore the Prefix
# Information option." Like Linux (IPV6_ADDR_LINKLOCAL) the whole fe80::/10 counts.
_LINK_LOCAL_SCOPE = IPv6Network("fe80::/10")
# Linux addr_gen_mode: 0 EUI-64, 1 none (no link-local; SLAAC uses EUI-64), 2 stable_privacy
# (RFC 7217 with stable_secret), 3 random (RFC 7217 with a random secret).
ADDR_GEN_NONE = 1
_STABLE_MODES = frozenset({ADDR_GEN_STABLE_PRIVACY, 3})


class Slaac:
    def __init__(self, host: IPv6Host, formed: AutoAddresses, lifetimes: AddressLifetimes) -> None:
        self.host = host
        self.formed = formed
        self.lifetimes = lifetimes
        self._secret: bytes | None = None
        self._link_local_counter = 0
        # Addresses that failed DAD are not formed again until the interface restarts (Linux
        # keeps them as "dadfailed"); bounded.
        self._failed: set[bytes] = set()
        self._retries: set[Timer] = set()  # new identifiers waiting out IDGEN_DELAY (RFC 7217 6)

    # ---- identifiers -------------------------------------------------------------------------------
    def _secret_key(self) -> bytes:
        # RFC 7217 5: secret_key is a pseudo-random number (at least 128 bits) set once, when the
        # system or its IPv6 stack first starts; a configured stable_secret takes its place
        # (Linux stable_secret). Ours is drawn once per interface from the stack's rng.
        configured = self.host.nic.ipv6_config.stable_secret
        if configured is not None:
            return configured
        if self._secret is None:
            self._secret = self.host.stack.rng.getrandbits(128).to_bytes(16, "big")
        return self._secret

    def interface_id(self, prefix: IPv6Network, dad_counter: int) -> tuple[bytes, int] | None:
        """The identifier for ``prefix`` and the DAD_Counter it was made with; None if every try
        gave a reserved or already used identifier."""
        nic = self.host.nic
        if nic.ipv6_config.addr_gen_mode not in _STABLE_MODES:
            return eui64_iid(nic.mac), dad_counter
        head = prefix.network_address.packed[:IID_LEN]
        for counter in range(dad_counter, dad_counter + params.IDGEN_RETRIES + 1):
            iid = stable_iid(prefix, nic.name.encode(), counter, self._secret_key())
            # RFC 7217 5: "In the event that an unacceptable identifier has been generated, the
            # DAD_Counter should be incremented by 1, and the algorithm should be restarted from
            # the first step."
            if not is_reserved_iid(iid) and nic.addresses.get(head + iid) is None:
                return iid, counter
        return None

    # ---- link-local (RFC 4862 5.3) ---------------------------------------------------------------------
    def form_link_local(self) -> bytes | None:
        """RFC 4862 5.3: "A node forms a link-local address whenever an interface becomes enabled."
        Returns the address (packed); DAD starts from the endpoint's on_address_added."""
        if self.host.nic.ipv6_config.addr_gen_mode == ADDR_GEN_NONE:
            return None  # Linux addr_gen_mode 1: no link-local address is generated
        made = self.interface_id(LINK_LOCAL_PREFIX, self._link_local_counter)
        if made is None:
            return None
        iid, self._link_local_counter = made
        packed = LINK_LOCAL_PREFIX.network_address.packed[:IID_LEN] + iid
        if self.host.nic.addresses.get(packed) is None:
            self.host.stack.add_address(self.host.nic.name, f"{IPv6Address(packed)}/64", static=False)
        return packed

    # ---- Prefix Information (RFC 4862 5.5.3) --------------------------------------------------------------
    def on_prefix(self, pi: PrefixInfo, *, multicast_ra: bool) -> IPv6Network | None:
        """RFC 4862 5.5.3 for the public address of ``pi``'s prefix; the prefix when the option
        is one to form addresses from (temporary ones too), else None."""
        host = self.host
        cfg = host.nic.ipv6_config
        stats = host.nic.stats
        # RFC 4862 5.5.3 a: "If the Autonomous flag is not set, silently ignore the Prefix
        # Information option." Linux autoconf=0 turns the processing off for the interface.
        if not pi.autonomous or not cfg.autoconf:
            return None
        prefix = IPv6Network((int(pi.prefix), pi.prefix_len), strict=False)
        if prefix.network_address in _LINK_LOCAL_SCOPE:
            stats.count_event("slaac_link_local_prefix_ignored")
            return None
        # RFC 4862 5.5.3 c: "If the preferred lifetime is greater than the valid lifetime,
        # silently ignore the Prefix Information option."
        if pi.preferred_lifetime_s > pi.valid_lifetime_s:
            stats.count_event("slaac_preferred_exceeds_valid")
            return None
        # RFC 4862 5.5.3 d: "If the sum of the prefix length and interface identifier length does
        # not equal 128 bits, the Prefix Information option MUST be ignored."
        if pi.prefix_len + params.INTERFACE_ID_BITS != 128:
            stats.count_event("slaac_prefix_length_mismatch")
            return None
        now = host.stack.clock.now_ms
        public = self.formed.of_prefix(prefix, temporary=False)
        for _, entry in public:
            self._refresh(entry, pi.valid_lifetime_s, pi.preferred_lifetime_s, now)
        # RFC 4862 5.5.3 d: "If the prefix advertised is not equal to the prefix of an address
        # configured by stateless autoconfiguration already in the list of addresses associated
        # with the interface ..., and if the Valid Lifetime is not 0, form an address".
        if not public and pi.valid_lifetime_s != 0:
            self.form(prefix, pi.valid_lifetime_s, pi.preferred_lifetime_s, multicast_ra=multicast_ra)
        return prefix

    def form(self, prefix: IPv6Network, valid_s: int, preferred_s: int, *, multicast_ra: bool, dad_counter: int = 0) -> None:
        if self.formed.limit_reached():
            return
        made = self.interface_id(prefix, dad_counter)
        if made is None:
            self.host.nic.stats.count_event("slaac_no_interface_id")
            return
        iid, counter = made
        packed = prefix.network_address.packed[:IID_LEN] + iid
        if self.host.nic.addresses.get(packed) is not None:
            # The address is configured already (by hand): nothing to form.
            self.host.nic.stats.count_event("slaac_address_exists")
            return
        if packed in self._failed:
            self.host.nic.stats.count_event("slaac_address_dad_failed_before")
            return
        now = self.host.stack.clock.now_ms
        info = AutoAddress(prefix, counter, delay_dad=multicast_ra, created_ms=now)
        self.formed.add(packed, info, lifetime_deadline(now, valid_s), lifetime_deadline(now, preferred_s))
        self.host.nic.stats.count_event("slaac_address_formed")

    def _refresh(self, entry: AddressEntry, valid_s: int, preferred_s: int, now: int) -> None:
        # RFC 4862 5.5.3 e: "If the advertised prefix is equal to the prefix of an address
        # configured by stateless autoconfiguration in the list, the preferred lifetime of the
        # address is reset to the Preferred Lifetime in the received advertisement."
        entry.preferred_until_ms = lifetime_deadline(now, preferred_s)
        received = lifetime_deadline(now, valid_s)
        # "We call the remaining time "RemainingLifetime" in the following discussion:"
        remaining = None if entry.valid_until_ms is None else max(0, entry.valid_until_ms - now)
        two_hours = params.SLAAC_TWO_HOURS_MS
        if received is None or valid_s * 1000 > two_hours or (remaining is not None and valid_s * 1000 > remaining):
            # "1. If the received Valid Lifetime is greater than 2 hours or greater than
            # RemainingLifetime, set the valid lifetime of the corresponding address to the
            # advertised Valid Lifetime."
            entry.valid_until_ms = received
        elif remaining is not None and remaining <= two_hours:
            # "2. If RemainingLifetime is less than or equal to 2 hours, ignore the Prefix
            # Information option with regards to the valid lifetime, unless the Router
            # Advertisement from which this option was obtained has been authenticated". We do
            # not authenticate (no SEND, RFC 3971).
            self.host.nic.stats.count_event("slaac_two_hour_rule")
        else:
            # "3. Otherwise, reset the valid lifetime of the corresponding address to 2 hours."
            entry.valid_until_ms = now + two_hours
        # Never preferred past valid, with no clamp: 5.5.3 c left only Preferred <= Valid, and each
        # rule leaves a valid lifetime of at least the received one (1: it; 2: RemainingLifetime,
        # which is not less; 3: 2 hours, which is not less).
        self.lifetimes.track(entry)

    # ---- DAD outcome ------------------------------------------------------------------------------------
    def on_dad_failed(self, entry: AddressEntry, info: AutoAddress | None, link_local_formed: Callable[[bytes], None]) -> None:
        """The duplicate ``entry`` (removed already) was the link-local address (``info`` None) or
        a public address: try another identifier where RFC 7217 says so; a new link-local address
        is reported to ``link_local_formed``."""
        if len(self._failed) < params.DAD_FAILURE_LOG_LEN:
            self._failed.add(entry.packed)
        if self.host.nic.ipv6_config.addr_gen_mode not in _STABLE_MODES:
            return
        # RFC 7217 6: the host "SHOULD resolve the address conflict by trying a new tentative
        # address" (DAD_Counter + 1). "Hosts SHOULD try at least IDGEN_RETRIES ... tentative
        # addresses" and "MUST limit the number of tentative addresses that are tried": exactly
        # IDGEN_RETRIES more, as Linux (idgen_retries).
        if info is None:
            link_local = entry.packed[:8] == LINK_LOCAL_PREFIX.network_address.packed[:8]
            if not link_local or self._link_local_counter >= params.IDGEN_RETRIES:
                return
            self._link_local_counter += 1

            def retry_link_local() -> None:
                formed = self.form_link_local()
                if formed is not None:
                    link_local_formed(formed)
            self._after_idgen_delay(retry_link_local)
            return
        if info.dad_counter >= params.IDGEN_RETRIES:
            return
        valid_until, preferred_until = entry.valid_until_ms, entry.preferred_until_ms

        def retry() -> None:
            now = self.host.stack.clock.now_ms
            valid = _seconds_left(valid_until, now)
            if valid != 0:
                self.form(info.prefix, valid, _seconds_left(preferred_until, now), multicast_ra=False,
                          dad_counter=info.dad_counter + 1)
        self._after_idgen_delay(retry)

    def _after_idgen_delay(self, action: Callable[[], None]) -> None:
        # RFC 7217 6: "Hosts SHOULD introduce a random delay between 0 and IDGEN_DELAY seconds (see
        # Section 7) before trying a new tentative address, to avoid lockstep behavior of multiple
        # hosts." (Linux waits idgen_delay exactly.)
        pending: list[Timer] = []

        def fire() -> None:
            self._retries.difference_update(pending)
            action()
        pending.append(self.host.stack.clock.schedule(self.host.stack.rng.randint(0, params.IDGEN_DELAY_MS), fire))
        self._retries.update(pending)

    def reset(self) -> None:
        """The interface went down: a fresh start (DAD_Counter too) when it comes up again."""
        for timer in self._retries:
            timer.cancel()
        self._retries.clear()
        self._link_local_counter = 0
        self._failed.clear()


def _seconds_left(until_ms: int | None, now: int) -> int:
    if until_ms is None:
        return params.INFINITE_LIFETIME_S
    return max(0, (until_ms - now) // 1000)
