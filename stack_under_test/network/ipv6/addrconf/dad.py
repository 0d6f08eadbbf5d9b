"""Duplicate Address Detection (RFC 4862 5.4) with the nonce of Enhanced DAD (RFC 7527).

An address under DAD is TENTATIVE: never a source, receives nothing but DAD's NS/NA (endpoint.py
and addresses.py keep that). We join its solicited-node group before the first probe, send
DupAddrDetectTransmits Neighbor Solicitations from :: each carrying a fresh nonce, RetransTimer
apart, and wait RetransTimer after the last; silence makes the address PREFERRED (or DEPRECATED
when its preferred lifetime ended meanwhile). An NA for the address, or a DAD NS for it from
another node, makes it a duplicate: it is removed.

What follows a verdict is configuration.py's: a duplicate is removed (and another identifier
tried where RFC 7217 / RFC 8981 say so), and a duplicate hardware-based link-local address turns
IPv6 off on the interface (RFC 4862 5.4.5).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Timer
from stack_under_test.drops import Drop
from stack_under_test.stack.addresses import AddressEntry, AddressState
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ipv6 import UNSPECIFIED, solicited_node
from stack_under_test.wire.ndp import NONCE_LEN, NeighborSolicit, nonce_option
from stack_under_test.wire.numbers import PROTO_ICMPV6

if TYPE_CHECKING:
    from ..contracts import IPv6Host

# What DAD reports (configuration.py acts on it): an address that passed, one found duplicated.
Outcome = Callable[[AddressEntry], None]


class _Run:
    __slots__ = ("entry", "held", "left", "nonces", "timer")

    def __init__(self, entry: AddressEntry, transmits: int) -> None:
        self.entry = entry
        self.left = transmits  # Neighbor Solicitations still to send
        self.nonces: set[bytes] = set()  # at most DupAddrDetectTransmits (bounded by its maximum)
        self.timer: Timer | None = None
        self.held = False  # the solicited-node group's report waits for the delay (hold_report)


class DuplicateAddressDetection:
    def __init__(self, host: IPv6Host, on_succeeded: Outcome, on_duplicate: Outcome) -> None:
        self.host = host
        self._on_succeeded = on_succeeded
        self._on_duplicate = on_duplicate
        self._runs: dict[bytes, _Run] = {}
        # RFC 4862 5.4.5: "the node SHOULD log a system management error": the last few, for
        # white-box tests and diagnostics (bounded).
        self.failures: deque[str] = deque(maxlen=params.DAD_FAILURE_LOG_LEN)

    def wanted(self, entry: AddressEntry) -> bool:
        """RFC 4862 5.4: DAD runs on every unicast address unless DupAddrDetectTransmits is zero
        ("A value of zero indicates that Duplicate Address Detection is not performed") or it is
        turned off for the interface (Linux accept_dad=0) or the address (Linux nodad)."""
        cfg = self.host.nic.ipv6_config
        return entry.family == 6 and entry.dad and cfg.accept_dad > 0 and cfg.dad_transmits > 0

    def start(self, entry: AddressEntry, *, delay: bool) -> None:
        """Start DAD on ``entry``, whose solicited-node group the caller has joined already.

        RFC 4862 5.4.2: "Before sending a Neighbor Solicitation, an interface MUST join the
        all-nodes multicast address and the solicited-node multicast address of the tentative
        address." ``delay``: the probe is the first message after the interface came up, or the
        address came from a multicast Router Advertisement; then "the node SHOULD delay joining
        the solicited-node multicast address by a random delay between 0 and
        MAX_RTR_SOLICITATION_DELAY". The section also requires that "an interface MUST receive and process datagrams sent to the all-nodes
        multicast address or solicited-node multicast address of the tentative address during
        the delay period": the NIC joins at once and only the MLD report waits, until the first
        probe (hold_report).
        """
        self.cancel(entry.packed)
        cfg = self.host.nic.ipv6_config
        entry.state = AddressState.TENTATIVE
        run = self._runs[entry.packed] = _Run(entry, cfg.dad_transmits)
        if not delay:
            self._step(run)
            return
        run.held = True
        self.host.hold_report(solicited_node(entry.packed))
        wait = self.host.stack.rng.randint(0, cfg.rtr_solicit_delay_ms)
        run.timer = self.host.stack.clock.schedule(wait, lambda: self._begin(run))

    def _begin(self, run: _Run) -> None:
        """The delay is over: report the solicited-node group, then the first probe."""
        self._release(run)
        self._step(run)

    def _release(self, run: _Run) -> None:
        if run.held:
            run.held = False
            self.host.release_report(solicited_node(run.entry.packed))

    def cancel(self, packed: bytes) -> None:
        run = self._runs.pop(packed, None)
        if run is not None:
            if run.timer is not None:
                run.timer.cancel()
            self._release(run)  # the address stays (or has left the group already): report it

    def cancel_all(self) -> None:
        for packed in list(self._runs):
            self.cancel(packed)

    # ---- the probes ------------------------------------------------------------------------------
    def _step(self, run: _Run) -> None:
        if self._runs.get(run.entry.packed) is not run:
            return
        if run.left <= 0:
            self._succeeded(run)
            return
        run.left -= 1
        self._send_probe(run)
        # RFC 4862 5.1: RetransTimer "specifies the delay between consecutive Neighbor
        # Solicitation transmissions performed during Duplicate Address Detection ..., as well as
        # the time a node waits after sending the last Neighbor Solicitation before ending the
        # Duplicate Address Detection process." Read at use time: an RA may have changed it.
        run.timer = self.host.stack.clock.schedule(self.host.nic.ipv6_config.retrans_time_ms, lambda: self._step(run))

    def _send_probe(self, run: _Run) -> None:
        host = self.host
        target = run.entry.packed
        # RFC 7527 4: a random nonce in every NS(DAD), so that our own probes looped back to us
        # are recognised. RFC 3971 5.3.2: "at least 6 bytes" of random data.
        nonce = host.stack.rng.getrandbits(8 * NONCE_LEN).to_bytes(NONCE_LEN, "big")
        run.nonces.add(nonce)
        # RFC 4862 5.4.2: "The Neighbor Solicitation's Source Address is the unspecified address"
        # (so no Source Link-Layer Address option, RFC 4861 4.3), "the Target Address is set to the
        # address being checked, and the IP destination is set to the solicited-node multicast
        # address of the target address."
        dst = solicited_node(target)
        raw = icmpv6.encode(NeighborSolicit(IPv6Address(target), nonce_option(nonce)), UNSPECIFIED, dst)
        if host.send(UNSPECIFIED, dst, PROTO_ICMPV6, raw, hop_limit=params.NDP_HOP_LIMIT) is None:
            host.nic.stats.count_event("dad_solicit_sent")

    def _succeeded(self, run: _Run) -> None:
        del self._runs[run.entry.packed]
        entry = run.entry
        now = self.host.stack.clock.now_ms
        deprecated = entry.preferred_until_ms is not None and entry.preferred_until_ms <= now
        entry.state = AddressState.DEPRECATED if deprecated else AddressState.PREFERRED
        self.host.nic.stats.count_event("dad_succeeded")
        self._on_succeeded(entry)

    # ---- what the NS/NA handlers report (ndp.py, through configuration.py) --------------------------
    def on_neighbor_solicit(self, src: bytes, entry: AddressEntry, nonce: bytes | None) -> Drop | None:
        """A valid NS whose target is ``entry``, one of our tentative addresses."""
        # RFC 4862 5.4.3: "If the target address is tentative, and the source address is a unicast
        # address, the solicitation's sender is performing address resolution on the target; the
        # solicitation should be silently ignored." ... "In all cases, a node MUST NOT respond to
        # a Neighbor Solicitation for a tentative address."
        if src != UNSPECIFIED:
            return Drop.NDP_TARGET_TENTATIVE
        run = self._runs.get(entry.packed)
        # RFC 4862 5.4.3: "If the solicitation is from the node itself (because the node loops
        # back multicast packets), the solicitation does not indicate the presence of a duplicate
        # address." RFC 7527 4: a received NS(DAD) whose Nonce option equals one we sent is our
        # own probe looped back (whoever relayed it), and is ignored.
        if run is not None and nonce is not None and nonce in run.nonces:
            return Drop.NDP_DAD_LOOPED_BACK
        # RFC 4862 5.4.3: "If the solicitation is from another node, the tentative address is a
        # duplicate and should not be used (by either node)."
        self._duplicate(entry, "a DAD Neighbor Solicitation from another node")
        return None

    def on_neighbor_advert(self, entry: AddressEntry) -> Drop | None:
        """A valid NA whose target is ``entry``, one of our addresses, tentative or not."""
        if entry.state is not AddressState.TENTATIVE:
            # RFC 4862 5.4.4, an assigned address: "How to handle such a case is beyond the scope
            # of this document." Like Linux we keep the address and drop the advertisement.
            return Drop.NDP_ADVERT_FOR_OUR_ADDRESS
        # RFC 4862 5.4.4: "If the target address is tentative, the tentative address is not unique."
        self._duplicate(entry, "a Neighbor Advertisement")
        return None

    def _duplicate(self, entry: AddressEntry, why: str) -> None:
        # RFC 4862 5.4.5: "A tentative address that is determined to be a duplicate as described
        # above MUST NOT be assigned to an interface, and the node SHOULD log a system management
        # error."
        self.cancel(entry.packed)
        self.host.nic.stats.count_event("dad_duplicate")
        self.failures.append(f"{entry.interface.ip} on {self.host.nic.name}: duplicate, found by {why}")
        self._on_duplicate(entry)

    def stop_all(self, why: str) -> None:
        """IPv6 goes off on the interface (RFC 4862 5.4.5): no DAD runs on, the reason is logged."""
        self.failures.append(f"IPv6 disabled on {self.host.nic.name}: {why}")
        self.cancel_all()
