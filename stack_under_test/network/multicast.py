"""A host's multicast-listener state machine, shared by IGMP (RFC 2236, 3376) and MLD (RFC 2710, 3810).

One ``MulticastListener`` per interface. It knows nothing of message formats: the protocol module
hands it decoded queries and heard reports, and it calls back a ``ListenerSender`` to transmit.

Compatibility modes (RFC 3376 7.2.1, RFC 3810 8.2.1) are protocol-neutral here:
  ``Mode.V1``  IGMPv1: reports only, no leave message (RFC 1112);
  ``Mode.V2``  IGMPv2 and MLDv1: reports with suppression, Leave/Done (RFC 2236 3, RFC 2710 4);
  ``Mode.V3``  IGMPv3 and MLDv2: state-change and current-state reports (RFC 3376 5, RFC 3810 6).

Per group in V1/V2 (RFC 2236 6 state diagram): Non-Member, Delaying Member (a report timer runs),
Idle Member. In V3 the group timers answer group(-and-source)-specific queries, the interface
timer answers general queries, and state-change records are retransmitted per group. A group is
in EXCLUDE {} (any source, ``join_group``) or in INCLUDE mode for a set of sources.

To reuse it for MLD: implement ``ListenerSender`` (MLDv1 report/Done, MLDv2 report to ff02::16),
build a ``MulticastListener`` with ``ListenerConfig(default_mode=Mode.V3)`` (the MLDv1 querier maps to
``Mode.V2``; ``Mode.V1`` never occurs), call ``join``/``leave`` for reportable groups only (not ff02::1,
RFC 3810 6), ``on_query`` with the decoded Maximum Response Delay in ms, ``on_report_heard`` for
MLDv1 reports, and ``reset`` when the interface goes down.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from stack_under_test import params
from stack_under_test.clock import Clock, Timer


class Mode(enum.IntEnum):
    V1 = 1
    V2 = 2
    V3 = 3


class RecordType(enum.IntEnum):
    """RFC 3376 4.2.12 and RFC 3810 5.2.12 use the same values."""

    MODE_IS_INCLUDE = 1
    MODE_IS_EXCLUDE = 2
    CHANGE_TO_INCLUDE_MODE = 3
    CHANGE_TO_EXCLUDE_MODE = 4
    ALLOW_NEW_SOURCES = 5
    BLOCK_OLD_SOURCES = 6


class MemberState(enum.Enum):
    NON_MEMBER = "non-member"
    DELAYING = "delaying member"
    IDLE = "idle member"


@dataclass(frozen=True, slots=True)
class Record:
    type: RecordType
    group: bytes
    sources: tuple[bytes, ...] = ()


class ListenerSender(Protocol):
    """What the protocol module (IGMP or MLD) encodes and transmits for the state machine."""

    def send_report(self, group: bytes, mode: Mode) -> None:
        """A V1/V2 Membership Report (IGMPv1/v2 report, MLDv1 report) for ``group``."""
        ...

    def send_leave(self, group: bytes) -> None:
        """An IGMPv2 Leave Group / MLDv1 Done for ``group``."""
        ...

    def send_records(self, records: list[Record]) -> None:
        """A V3 report (IGMPv3 / MLDv2) carrying ``records``; the sender splits it to fit the MTU."""
        ...


@dataclass(slots=True)
class ListenerConfig:
    robustness: int = params.MULTICAST_ROBUSTNESS
    query_interval_ms: int = params.MULTICAST_QUERY_INTERVAL_MS
    query_response_interval_ms: int = params.MULTICAST_QUERY_RESPONSE_INTERVAL_MS
    unsolicited_interval_v3_ms: int = params.IGMPV3_UNSOLICITED_REPORT_INTERVAL_MS
    unsolicited_interval_legacy_ms: int = params.IGMPV2_UNSOLICITED_REPORT_INTERVAL_MS
    default_mode: Mode = Mode.V3  # the mode with no older querier present (or a forced version)
    # V2 mode: a Leave (MLDv1 Done) only as the last reporter (RFC 2236 6, RFC 2710 4 "MAY send
    # nothing"); False: always one.
    leave_as_last_reporter_only: bool = True


class _Group:
    __slots__ = ("address", "include", "last_reporter", "pending_sources", "state", "timer", "unsolicited_left")

    def __init__(self, address: bytes, include: frozenset[bytes] | None = None) -> None:
        self.address = address
        self.include = include  # INCLUDE mode's sources; None = EXCLUDE {} (any source)
        self.state = MemberState.NON_MEMBER
        self.timer: Timer | None = None  # V1/V2 report delay; V3 group-specific query response
        self.last_reporter = False  # RFC 2236 6: "flag that we were the last host to send a report"
        self.unsolicited_left = 0  # V1/V2 unsolicited report repetitions still to send
        self.pending_sources: set[bytes] | None = None  # V3: sources queried; None = whole group

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Change:
    """A V3 state-change record still to be retransmitted (RFC 3376 5.1, RFC 3810 6.1)."""

    __slots__ = ("left", "sources", "timer", "type")

    def __init__(self, type: RecordType, left: int, sources: tuple[bytes, ...] = ()) -> None:
        self.type = type
        self.left = left
        self.sources = sources
        self.timer: Timer | None = None


class MulticastListener:
    def __init__(self, clock: Clock, rng: random.Random, sender: ListenerSender, config: ListenerConfig) -> None:
        self.clock = clock
        self.rng = rng
        self.sender = sender
        self.config = config
        self.groups: dict[bytes, _Group] = {}
        self._changes: dict[bytes, _Change] = {}
        self._general: Timer | None = None  # V3 interface timer (pending general query response)
        # Older Version Querier Present timers (RFC 3376 7.2.1); index 1 = V1, 2 = V2.
        self._older: dict[int, Timer] = {}
        self._current = config.default_mode  # the mode as of the last refresh
        # Learnt from V3 queries (RFC 3376 4.1.6, 4.1.7, 8.12); the defaults until then.
        self.robustness = config.robustness
        self.query_interval_ms = config.query_interval_ms
        self.query_response_interval_ms = config.query_response_interval_ms

    # ---- mode ------------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        for older in (Mode.V1, Mode.V2):
            timer = self._older.get(older)
            if older < self.config.default_mode and timer is not None and timer.pending:
                return older
        return self.config.default_mode

    def older_querier_timeout_ms(self) -> int:
        # RFC 3376 8.12: "This value MUST be ([Robustness Variable] times (the [Query Interval] in the
        # last Query received)) plus ([Query Response Interval])."
        return self.robustness * self.query_interval_ms + self.query_response_interval_ms

    def set_default_mode(self, mode: Mode, *, forget_older: bool = False) -> None:
        """Change the configured mode at run time (MLD's force_mld_version; IGMP never calls this).
        ``forget_older`` drops the Older Version Querier Present timers: a host forced to the
        newest version does not fall back to an older querier."""
        self.config.default_mode = mode
        if forget_older:
            for timer in self._older.values():
                timer.cancel()
            self._older.clear()
        self._refresh_mode()

    def _unsolicited_interval_ms(self) -> int:
        return self.config.unsolicited_interval_v3_ms if self.mode is Mode.V3 else self.config.unsolicited_interval_legacy_ms

    def _delay(self, max_ms: int) -> int:
        """A random delay in [0, max_ms) from the stack rng: the report delay is random up to the Max
        Response Time (RFC 2236 3, RFC 3376 5.2); Linux draws it the same way."""
        return self.rng.randrange(max_ms) if max_ms > 0 else 0

    def _on_mode_changed(self) -> None:
        # RFC 3376 7.2.1: "When a host changes its compatibility mode, it cancels all its pending
        # response and retransmission timers."
        for g in self.groups.values():
            g.cancel()
            g.unsolicited_left = 0
            g.pending_sources = None
            g.state = MemberState.IDLE
        for change in self._changes.values():
            if change.timer is not None:
                change.timer.cancel()
        self._changes.clear()
        if self._general is not None:
            self._general.cancel()
            self._general = None

    def _refresh_mode(self) -> Mode:
        mode = self.mode
        if mode is not self._current:
            self._current = mode
            self._on_mode_changed()
        return mode

    def _on_older_querier_expired(self) -> None:
        self._refresh_mode()

    # ---- membership changes ------------------------------------------------------------------------
    def join(self, group: bytes, include: frozenset[bytes] | None = None) -> None:
        """Join ``group``: any source, or (``include``) in INCLUDE mode from those sources only."""
        if group in self.groups:
            return
        g = self.groups[group] = _Group(group, include)
        g.state = MemberState.IDLE
        mode = self.mode
        if mode is Mode.V3:
            # RFC 3376 5.1: a filter mode change from INCLUDE {} to EXCLUDE {} gives a TO_EX record,
            # "retransmitted [Robustness Variable] - 1 more times"; INCLUDE {} to INCLUDE (B) gives
            # ALLOW (B). 3.2: "An implementation MUST NOT use an EXCLUDE interface record to
            # represent a group when all sockets for this group are in INCLUDE state."
            if include is None:
                self._state_change(group, RecordType.CHANGE_TO_EXCLUDE_MODE)
            else:
                self._state_change(group, RecordType.ALLOW_NEW_SOURCES, tuple(sorted(include)))
            return
        # RFC 2236 3: "When a host joins a multicast group, it should immediately transmit an
        # unsolicited Version 2 Membership Report for that group ... it is recommended that it be
        # repeated once or twice after short delays [Unsolicited Report Interval]."
        self.sender.send_report(group, mode)
        g.last_reporter = True
        g.unsolicited_left = self.robustness - 1
        if g.unsolicited_left > 0:
            self._arm_report(g, self._delay(self._unsolicited_interval_ms()))

    def leave(self, group: bytes) -> None:
        g = self.groups.pop(group, None)
        if g is None:
            return
        g.cancel()
        g.state = MemberState.NON_MEMBER
        mode = self.mode
        if mode is Mode.V3:
            # RFC 3376 5.1: EXCLUDE {} to INCLUDE {} gives a TO_IN {} record, INCLUDE (A) to
            # INCLUDE {} a BLOCK (A) record, retransmitted likewise.
            if g.include is None:
                self._state_change(group, RecordType.CHANGE_TO_INCLUDE_MODE)
            else:
                self._state_change(group, RecordType.BLOCK_OLD_SOURCES, tuple(sorted(g.include)))
        elif mode is Mode.V2 and (g.last_reporter or not self.config.leave_as_last_reporter_only):
            # RFC 2236 3: "if it was the last host to reply to a Query with a Membership Report for
            # that group, it SHOULD send a Leave Group message"; "If it was not the last host to reply
            # to a Query, it MAY send nothing" - Linux sends nothing then, and so do we.
            self.sender.send_leave(group)
        # RFC 3376 7.2.1 / RFC 1112: in IGMPv1 compatibility mode a host sends no leave message.

    def reset(self) -> None:
        """Forget every group and cancel every timer (the interface went down)."""
        self._on_mode_changed()
        self.groups.clear()
        for timer in self._older.values():
            timer.cancel()
        self._older.clear()
        self._current = self.config.default_mode

    def report_all(self) -> None:
        """V3: send every group's state again as a state-change report (TO_EX {}), retransmitted
        like a join. MLD calls it when the interface gets a valid link-local address (RFC 3810
        5.2.13); IGMP never does."""
        if self.mode is not Mode.V3:
            return
        for group in list(self.groups):
            self._state_change(group, RecordType.CHANGE_TO_EXCLUDE_MODE)

    def _state_change(self, group: bytes, record: RecordType, sources: tuple[bytes, ...] = ()) -> None:
        old = self._changes.pop(group, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        # RFC 3376 5.1: "each such additional change triggers the immediate transmission of a new
        # State-Change Report" - the newer record replaces the pending retransmissions.
        change = _Change(record, self.robustness, sources)
        self._changes[group] = change
        self._send_change(group, change)

    def _send_change(self, group: bytes, change: _Change) -> None:
        self.sender.send_records([Record(change.type, group, change.sources)])
        change.left -= 1
        if change.left <= 0:
            self._changes.pop(group, None)
            return
        # RFC 3376 5.1: "at intervals chosen at random from the range (0, [Unsolicited Report Interval])".
        change.timer = self.clock.schedule(
            self._delay(self._unsolicited_interval_ms()), lambda: self._send_change(group, change)
        )

    # ---- V1/V2 report timers ------------------------------------------------------------------------
    def _arm_report(self, g: _Group, delay_ms: int) -> None:
        g.cancel()
        g.state = MemberState.DELAYING
        g.timer = self.clock.schedule(delay_ms, lambda: self._on_report_timer_expired(g))

    def _on_report_timer_expired(self, g: _Group) -> None:
        g.timer = None
        if self.groups.get(g.address) is not g:
            return
        mode = self.mode
        if mode is Mode.V3:
            # A group-specific V3 query's pending response (RFC 3376 5.2 rules 3 and 4).
            self._send_current_state([g])
            g.state = MemberState.IDLE
            return
        self.sender.send_report(g.address, mode)
        g.last_reporter = True
        if g.unsolicited_left > 1:
            g.unsolicited_left -= 1
            self._arm_report(g, self._delay(self._unsolicited_interval_ms()))
            return
        g.unsolicited_left = 0
        g.state = MemberState.IDLE

    # ---- received queries and reports -------------------------------------------------------------
    def on_query(
        self,
        version: Mode,
        max_resp_ms: int,
        group: bytes | None,
        sources: Iterable[bytes] = (),
        qrv: int = 0,
        qqi_ms: int = 0,
    ) -> None:
        """A query of ``version`` (the querier's), for ``group`` (None: a general query)."""
        if version < Mode.V3:
            # RFC 3376 7.2.1: "the IGMPv1 Querier Present timer ... set to Older Version Querier Present
            # Timeout seconds whenever an IGMPv1 Membership Query is received" (likewise v2; Linux
            # sets it for any v2 query, group-specific ones included, and so do we).
            old = self._older.get(version)
            if old is not None:
                old.cancel()
            self._older[version] = self.clock.schedule(self.older_querier_timeout_ms(), self._on_older_querier_expired)
        else:
            # RFC 3376 4.1.6: QRV zero means "use the default"; 4.1.7 QQIC likewise; 8.3 the Query
            # Response Interval is the Max Resp Time of the last query.
            self.robustness = qrv or self.config.robustness
            self.query_interval_ms = qqi_ms or self.config.query_interval_ms
            self.query_response_interval_ms = max_resp_ms
        if self._refresh_mode() is Mode.V3:
            self._v3_query(max_resp_ms, group, tuple(sources))
        else:
            self._legacy_query(max_resp_ms, group)

    def _legacy_query(self, max_resp_ms: int, group: bytes | None) -> None:
        # RFC 2236 3: "When a host receives a General Query, it sets delay timers for each group
        # ... If a timer for the group is already running, it is reset to the random value only if
        # the requested Max Response Time is less than the remaining value of the running timer."
        targets = self.groups.values() if group is None else [g for g in (self.groups.get(group),) if g]
        now = self.clock.now_ms
        for g in targets:
            g.unsolicited_left = 0  # a query's response replaces the unsolicited repetitions (Linux)
            if g.timer is not None and g.timer.pending and g.timer.deadline_ms - now <= max_resp_ms:
                continue
            self._arm_report(g, self._delay(max_resp_ms))

    def _v3_query(self, max_resp_ms: int, group: bytes | None, sources: tuple[bytes, ...]) -> None:
        delay = self._delay(max_resp_ms)
        now = self.clock.now_ms
        general = self._general
        # RFC 3376 5.2 rule 1: "If there is a pending response to a previous General Query scheduled
        # sooner than the selected delay, no additional response needs to be scheduled."
        if general is not None and general.pending and general.deadline_ms - now <= delay:
            return
        if group is None:
            # Rule 2: "the interface timer is used to schedule a response to the General Query after
            # the selected delay. Any previously pending response to a General Query is canceled."
            if general is not None:
                general.cancel()
            self._general = self.clock.schedule(delay, self._on_general_timer_expired)
            return
        g = self.groups.get(group)
        if g is None:
            return  # no reception state: nothing to report
        if g.timer is None or not g.timer.pending:
            # Rule 3: "the group timer is used to schedule a report. If the received Query is a
            # Group-and-Source-Specific Query, the list of queried sources is recorded".
            g.pending_sources = set(sources) if sources else None
            self._arm_report(g, delay)
            return
        # Rules 4 and 5: a Group-Specific Query (or an empty recorded list) clears the source list, a
        # Group-and-Source-Specific one augments it; "The new response is scheduled to be sent at the
        # earliest of the remaining time for the pending report and the selected delay."
        if not sources:
            g.pending_sources = None
        elif g.pending_sources is not None:
            g.pending_sources.update(sources)
        if g.timer.deadline_ms - now > delay:
            self._arm_report(g, delay)

    def _on_general_timer_expired(self) -> None:
        self._general = None
        if self.mode is Mode.V3:
            # RFC 3376 5.2: "one Current-State Record is sent for each multicast address for which the
            # specified interface has reception state".
            self._send_current_state(list(self.groups.values()), general=True)

    def _send_current_state(self, groups: list[_Group], general: bool = False) -> None:
        records: list[Record] = []
        for g in groups:
            if general or g.pending_sources is None:
                # The group's filter: EXCLUDE {} gives "MODE_IS_EXCLUDE ... and Source list" (empty),
                # INCLUDE (A) gives MODE_IS_INCLUDE (A).
                if g.include is None:
                    records.append(Record(RecordType.MODE_IS_EXCLUDE, g.address))
                else:
                    records.append(Record(RecordType.MODE_IS_INCLUDE, g.address, tuple(sorted(g.include))))
            else:
                # RFC 3376 5.2 rule 4 table: "INCLUDE (A)  B  IS_IN (A*B)", "EXCLUDE (A)  B  IS_IN (B-A)"
                # with A = {}; "If the resulting Current-State Record has an empty set of source
                # addresses, then no response is sent."
                wanted = g.pending_sources if g.include is None else g.pending_sources & g.include
                if wanted:
                    records.append(Record(RecordType.MODE_IS_INCLUDE, g.address, tuple(sorted(wanted))))
            g.pending_sources = None
        if records:
            self.sender.send_records(records)

    def on_report_heard(self, group: bytes) -> None:
        """Another host's V1/V2 report for ``group`` (RFC 2236 3 suppression)."""
        if self.mode is Mode.V3:
            return  # RFC 3376 has no report suppression; v3 hosts do not act on others' reports
        g = self.groups.get(group)
        if g is None or g.state is not MemberState.DELAYING:
            return
        # RFC 2236 3: "If the host receives another host's Report (version 1 or 2) while it has a timer
        # running, it stops its timer for the specified group and does not send a Report"; the flag
        # that it was the last reporter is cleared.
        g.cancel()
        g.unsolicited_left = 0
        g.last_reporter = False
        g.state = MemberState.IDLE


class _SizedRecord(Protocol):
    @property
    def size(self) -> int: ...


_R = TypeVar("_R", bound=_SizedRecord)


def pack_reports(
    records: Iterable[Record],
    room: int,
    record_header_len: int,
    source_len: int,
    make: Callable[[int, bytes, tuple[bytes, ...]], _R],
) -> list[list[_R]]:
    """The wire records of ``records`` in batches of at most ``room`` octets, one batch per report.

    RFC 3376 4.2.16 and RFC 3810 5.2.15: records that do not fit one report go in as many reports
    as needed, and a record whose sources do not fit is split into several of the same type. Only
    INCLUDE, ALLOW and BLOCK records carry sources here (an EXCLUDE record's list is empty), so
    splitting keeps their meaning.
    """
    per = max(1, (room - record_header_len) // source_len)
    batches: list[list[_R]] = []
    batch: list[_R] = []
    used = 0
    for record in records:
        sources = record.sources
        for start in range(0, max(len(sources), 1), per):
            part = make(int(record.type), record.group, sources[start : start + per])
            if batch and used + part.size > room:
                batches.append(batch)
                batch, used = [], 0
            batch.append(part)
            used += part.size
    if batch:
        batches.append(batch)
    return batches
