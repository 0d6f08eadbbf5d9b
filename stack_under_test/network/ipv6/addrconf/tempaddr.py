"""Temporary addresses (RFC 8981): random interface identifiers with short lifetimes.

Off by default (use_tempaddr 0, as Linux): RFC 8981 makes them optional. With use_tempaddr >= 1
every prefix that forms a public SLAAC address also gets one temporary address, whose lifetimes
never exceed the public address's nor TEMP_VALID_LIFETIME / TEMP_PREFERRED_LIFETIME -
DESYNC_FACTOR from its creation; a new one is made REGEN_ADVANCE before the current one is
deprecated. use_tempaddr 2 ("prefer") is for source selection (RFC 6724 rule 7), which reads
AddressEntry.temporary.
"""

from __future__ import annotations

from collections import deque
from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Timer
from stack_under_test.stack.addresses import AddressState

from .autoaddress import AutoAddress, AutoAddresses
from .lifetimes import AddressLifetimes, lifetime_deadline
from .stable_iid import IID_LEN, is_reserved_iid

if TYPE_CHECKING:
    from ..contracts import IPv6Host


class TemporaryAddresses:
    def __init__(self, host: IPv6Host, formed: AutoAddresses, lifetimes: AddressLifetimes) -> None:
        self.host = host
        self.formed = formed
        self.lifetimes = lifetimes
        self._regen: dict[bytes, Timer] = {}
        self._succeeded: set[bytes] = set()  # temporary addresses whose successor is made already
        # Prefixes whose temporary addresses failed DAD TEMP_IDGEN_RETRIES times in a row (RFC 8981
        # 3.4 step 7), until the interface goes down; bounded by the addresses a NIC may form.
        self._given_up: set[IPv6Network] = set()
        # RFC 8981 3.4: "the host MUST log a system error": the last few, for diagnostics.
        self.errors: deque[str] = deque(maxlen=params.DAD_FAILURE_LOG_LEN)

    def regen_advance_ms(self) -> int:
        # RFC 8981 3.8: "REGEN_ADVANCE 2 + (TEMP_IDGEN_RETRIES * DupAddrDetectTransmits *
        # RetransTimer / 1000)" seconds.
        cfg = self.host.nic.ipv6_config
        return 2_000 + params.IDGEN_RETRIES * cfg.dad_transmits * cfg.retrans_time_ms

    def _public(self, prefix: IPv6Network) -> tuple[int | None, int | None] | None:
        """(valid_until_ms, preferred_until_ms) of the public address of ``prefix``, if any."""
        for _, entry in self.formed.of_prefix(prefix, temporary=False):
            return entry.valid_until_ms, entry.preferred_until_ms
        return None

    def _temp_valid_ms(self) -> int:
        return self.host.nic.ipv6_config.temp_valid_lft_ms

    def _temp_preferred_ms(self) -> int:
        return self.host.nic.ipv6_config.temp_prefered_lft_ms

    def on_prefix(self, prefix: IPv6Network, valid_s: int, preferred_s: int, *, multicast_ra: bool) -> None:
        now = self.host.stack.clock.now_ms
        public = self._public(prefix)
        if public is None:
            public = lifetime_deadline(now, valid_s), lifetime_deadline(now, preferred_s)
        # RFC 8981 3.4: an RA for the prefix updates the lifetimes of its temporary addresses,
        # which never exceed the public ones nor the temporary maxima counted from creation.
        current = False
        for info, entry in self.formed.of_prefix(prefix, temporary=True):
            deprecated = entry.state is AddressState.DEPRECATED
            entry.valid_until_ms, entry.preferred_until_ms = self._lifetimes(info.created_ms, info.desync_ms, public)
            self.lifetimes.track(entry)
            if self.host.nic.addresses.get(entry.packed) is not entry:
                continue
            if not deprecated:
                # RFC 8981 3.5: "if a temporary address becomes deprecated as result of processing a
                # Prefix Information option with a zero preferred lifetime, then a new temporary
                # address MUST NOT be generated (in response to the same Prefix Information option)."
                current = True
                if entry.packed not in self._succeeded:
                    self._schedule_regeneration(entry.packed, entry.preferred_until_ms)
        # RFC 8981 3.4 step 3: "If the host has not configured any temporary address for the
        # corresponding prefix, the host SHOULD create a new temporary address for such prefix."
        if not current and valid_s != 0 and prefix not in self._given_up:
            self.create(prefix, public, multicast_ra=multicast_ra)

    def _lifetimes(
        self, created_ms: int, desync_ms: int, public: tuple[int | None, int | None]
    ) -> tuple[int, int]:
        valid_max = created_ms + self._temp_valid_ms()
        preferred_max = created_ms + self._temp_preferred_ms() - desync_ms
        valid = valid_max if public[0] is None else min(public[0], valid_max)
        preferred = preferred_max if public[1] is None else min(public[1], preferred_max)
        return valid, min(preferred, valid)

    def create(
        self, prefix: IPv6Network, public: tuple[int | None, int | None], *, multicast_ra: bool, retries: int = 0
    ) -> None:
        host = self.host
        if self.formed.limit_reached():
            return
        now = host.stack.clock.now_ms
        # RFC 8981 3.8: DESYNC_FACTOR "A random value within the range 0 - MAX_DESYNC_FACTOR. It is
        # computed each time a temporary address is generated". MAX_DESYNC_FACTOR is "0.4 *
        # TEMP_PREFERRED_LIFETIME", and DESYNC_FACTOR "MUST be smaller than
        # (TEMP_PREFERRED_LIFETIME - REGEN_ADVANCE)".
        temp_preferred = self._temp_preferred_ms()
        high = min(temp_preferred * 2 // 5, temp_preferred - self.regen_advance_ms() - 1)
        desync = host.stack.rng.randint(0, max(0, high))
        valid, preferred = self._lifetimes(now, desync, public)
        # RFC 8981 3.4 step 5: "A temporary address is created only if this calculated preferred
        # lifetime is greater than REGEN_ADVANCE time units. In particular, an implementation MUST
        # NOT create a temporary address with a zero preferred lifetime."
        if preferred - now <= self.regen_advance_ms():
            host.nic.stats.count_event("tempaddr_lifetime_too_short")
            return
        head = prefix.network_address.packed[:IID_LEN]
        for _ in range(params.IDGEN_RETRIES + 1):
            # RFC 8981 3.3.1: a random identifier, not a reserved one nor one in use.
            iid = host.stack.rng.getrandbits(64).to_bytes(IID_LEN, "big")
            if not is_reserved_iid(iid) and host.nic.addresses.get(head + iid) is None:
                break
        else:
            return
        packed = head + iid
        info = AutoAddress(prefix, retries, temporary=True, delay_dad=multicast_ra, created_ms=now, desync_ms=desync)
        self.formed.add(packed, info, valid, preferred)
        host.nic.stats.count_event("tempaddr_formed")
        self._schedule_regeneration(packed, preferred)

    def _schedule_regeneration(self, packed: bytes, preferred_until_ms: int | None) -> None:
        # RFC 8981 3.5: "The host SHOULD start the process of address regeneration REGEN_ADVANCE
        # time units before a temporary address is deprecated." (Again when an RA moves that.)
        old = self._regen.pop(packed, None)
        if old is not None:
            old.cancel()
        if preferred_until_ms is None:
            return
        delay = preferred_until_ms - self.regen_advance_ms() - self.host.stack.clock.now_ms
        self._regen[packed] = self.host.stack.clock.schedule(max(0, delay), lambda: self._regenerate(packed))

    def _regenerate(self, packed: bytes) -> None:
        self._regen.pop(packed, None)
        info = self.formed.get(packed)
        if info is None or self.host.nic.ipv6_config.use_tempaddr < 1 or info.prefix in self._given_up:
            return
        self._succeeded.add(packed)
        public = self._public(info.prefix)
        if public is not None:
            self.create(info.prefix, public, multicast_ra=False)

    def on_dad_failed(self, info: AutoAddress) -> None:
        # RFC 8981 3.4 step 7: "If DAD indicates the address is already in use, the host MUST
        # generate a new randomized IID and repeat the previous steps as appropriate (starting
        # from step 4), up to TEMP_IDGEN_RETRIES times. If, after TEMP_IDGEN_RETRIES consecutive
        # attempts, the host is unable to generate a unique temporary address, the host MUST log a
        # system error and SHOULD NOT attempt to generate a temporary address for the given prefix
        # for the duration of the host's attachment to the network via this interface."
        if info.dad_counter >= params.IDGEN_RETRIES:
            self._given_up.add(info.prefix)
            self.host.nic.stats.count_event("tempaddr_given_up")
            self.errors.append(f"no unique temporary address in {info.prefix} on {self.host.nic.name} after "
                               f"{params.IDGEN_RETRIES} retries")
            return
        public = self._public(info.prefix)
        if public is not None:
            self.create(info.prefix, public, multicast_ra=False, retries=info.dad_counter + 1)

    def on_address_removed(self, packed: bytes) -> None:
        self._succeeded.discard(packed)
        timer = self._regen.pop(packed, None)
        if timer is not None:
            timer.cancel()

    def reset(self) -> None:
        """The interface went down: its attachment to the link is over (RFC 8981 3.4, 3.6)."""
        for timer in self._regen.values():
            timer.cancel()
        self._regen.clear()
        self._succeeded.clear()
        self._given_up.clear()
