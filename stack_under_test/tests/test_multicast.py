"""The generic multicast-listener state machine (network/multicast.py) under a VirtualClock.

A recording sender stands in for IGMP/MLD, so these tests hold for both protocols.
"""

from __future__ import annotations

import random

from stack_under_test.clock import VirtualClock
from stack_under_test.network.multicast import (
    ListenerConfig,
    MemberState,
    Mode,
    MulticastListener,
    Record,
    RecordType,
)

G1 = b"\xe0\x01\x02\x03"
G2 = b"\xe0\x01\x02\x04"
S1 = b"\xc6\x33\x64\x09"


class Recorder:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, str, object]] = []  # (time ms, kind, detail)

    def send_report(self, group: bytes, mode: Mode) -> None:
        self.sent.append((self.clock.now_ms, f"report-v{int(mode)}", group))

    def send_leave(self, group: bytes) -> None:
        self.sent.append((self.clock.now_ms, "leave", group))

    def send_records(self, records: list[Record]) -> None:
        self.sent.append((self.clock.now_ms, "v3", list(records)))

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.sent]


def mode_of(listener: MulticastListener) -> Mode:
    return listener.mode  # a call: mypy does not narrow the property across clock.advance()


def make(seed: int = 1, **config: object) -> tuple[VirtualClock, Recorder, MulticastListener]:
    clock = VirtualClock()
    rec = Recorder(clock)
    listener = MulticastListener(clock, random.Random(seed), rec, ListenerConfig(**config))  # type: ignore[arg-type]
    return clock, rec, listener


def test_v3_join_sends_to_ex_at_once_and_once_more_within_the_unsolicited_interval() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    assert rec.sent == [(0, "v3", [Record(RecordType.CHANGE_TO_EXCLUDE_MODE, G1)])]
    clock.advance(1_000)  # RFC 3376 8.11: Unsolicited Report Interval 1 s; robustness 2 = 2 in total
    assert len(rec.sent) == 2 and rec.sent[1][0] < 1_000
    assert rec.sent[1][2] == [Record(RecordType.CHANGE_TO_EXCLUDE_MODE, G1)]
    clock.advance(60_000)
    assert len(rec.sent) == 2


def test_robustness_sets_the_number_of_transmissions() -> None:
    clock, rec, listener = make(robustness=4)
    listener.join(G1)
    clock.advance(10_000)
    assert rec.kinds() == ["v3"] * 4


def test_v3_leave_sends_to_in_twice_and_replaces_pending_join_retransmissions() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    listener.leave(G1)  # before the TO_EX retransmission
    clock.advance(5_000)
    records = [detail[0].type for _, _, detail in rec.sent]  # type: ignore[index]
    assert records == [
        RecordType.CHANGE_TO_EXCLUDE_MODE,
        RecordType.CHANGE_TO_INCLUDE_MODE,
        RecordType.CHANGE_TO_INCLUDE_MODE,
    ]


def test_v3_general_query_answered_with_one_is_ex_per_group_within_max_resp_time() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    listener.join(G2)
    clock.advance(5_000)
    rec.sent.clear()
    listener.on_query(Mode.V3, 2_000, None)
    clock.advance(1_999)
    assert len(rec.sent) == 1
    when, kind, records = rec.sent[0]
    assert kind == "v3" and 5_000 <= when < 7_000
    assert records == [Record(RecordType.MODE_IS_EXCLUDE, G1), Record(RecordType.MODE_IS_EXCLUDE, G2)]


def test_v3_group_and_source_query_gets_is_in_of_the_queried_sources() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    clock.advance(5_000)
    rec.sent.clear()
    listener.on_query(Mode.V3, 1_000, G1, [S1])
    clock.advance(1_000)
    assert rec.sent[0][2] == [Record(RecordType.MODE_IS_INCLUDE, G1, (S1,))]


def test_v3_query_for_a_group_we_are_not_in_is_not_answered() -> None:
    clock, rec, listener = make()
    listener.on_query(Mode.V3, 1_000, G1)
    listener.on_query(Mode.V3, 1_000, None)  # no groups: nothing to report
    clock.advance(5_000)
    assert rec.sent == []


def test_v2_query_switches_to_v2_mode_until_older_querier_present_timeout() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    listener.on_query(Mode.V2, 1_000, None)
    assert mode_of(listener) is Mode.V2
    clock.advance(1_000)
    assert rec.kinds()[-1] == "report-v2"
    # RFC 3376 8.12: 2 * 125 s + 10 s.
    assert listener.older_querier_timeout_ms() == 260_000
    clock.advance(260_000 - 1_000 - 1)
    assert mode_of(listener) is Mode.V2
    clock.advance(1)
    assert mode_of(listener) is Mode.V3


def test_mode_change_cancels_pending_retransmissions() -> None:
    clock, rec, listener = make()
    listener.join(G1)  # TO_EX sent, one retransmission pending
    listener.on_query(Mode.V2, 100, G2)  # v2 querier: retransmission canceled; G2 not joined
    clock.advance(5_000)
    assert rec.kinds() == ["v3"]


def test_v2_join_reports_twice_within_ten_seconds_and_leave_goes_out_when_last_reporter() -> None:
    clock, rec, listener = make()
    listener.on_query(Mode.V2, 100, None)
    listener.join(G1)
    assert rec.sent == [(0, "report-v2", G1)]
    assert listener.groups[G1].state is MemberState.DELAYING
    clock.advance(10_000)  # RFC 2236 8.10: Unsolicited Report Interval 10 s
    assert rec.kinds() == ["report-v2", "report-v2"]
    assert listener.groups[G1].state is MemberState.IDLE
    listener.leave(G1)
    assert rec.sent[-1] == (10_000, "leave", G1)


def test_v2_report_suppression_and_no_leave_when_someone_else_reported_last() -> None:
    clock, rec, listener = make()
    listener.on_query(Mode.V2, 100, None)
    listener.join(G1)
    clock.advance(10_000)
    rec.sent.clear()
    listener.on_query(Mode.V2, 5_000, None)
    assert listener.groups[G1].state is MemberState.DELAYING
    listener.on_report_heard(G1)  # RFC 2236 3: another host's report cancels ours
    assert listener.groups[G1].state is MemberState.IDLE
    clock.advance(10_000)
    assert rec.sent == []
    listener.leave(G1)  # flag cleared: "it MAY send nothing"
    assert rec.sent == []


def test_v2_running_timer_is_only_reset_by_a_shorter_max_response_time() -> None:
    clock, _, listener = make()
    listener.on_query(Mode.V2, 100, None)
    listener.join(G1)
    clock.advance(10_000)
    listener.on_query(Mode.V2, 10_000, G1)
    deadline = listener.groups[G1].timer.deadline_ms  # type: ignore[union-attr]
    listener.on_query(Mode.V2, 10_000, G1)  # same Max Resp Time: the timer keeps its deadline
    assert listener.groups[G1].timer.deadline_ms == deadline  # type: ignore[union-attr]
    listener.on_query(Mode.V2, 1, G1)  # 1 ms: reset to at most 1 ms from now
    assert listener.groups[G1].timer.deadline_ms <= clock.now_ms + 1  # type: ignore[union-attr]


def test_query_response_delay_is_random_and_below_max_resp_time() -> None:
    delays = set()
    for seed in range(30):
        clock, rec, listener = make(seed)
        listener.on_query(Mode.V2, 100, None)
        listener.join(G1)
        clock.advance(10_000)
        rec.sent.clear()
        start = clock.now_ms
        listener.on_query(Mode.V2, 3_000, None)
        clock.advance(3_000)
        assert len(rec.sent) == 1
        delays.add(rec.sent[0][0] - start)
    assert all(0 <= d < 3_000 for d in delays) and len(delays) > 10


def test_v1_mode_reports_v1_and_never_leaves() -> None:
    _, rec, listener = make()
    listener.on_query(Mode.V1, 10_000, None)
    listener.on_query(Mode.V2, 1_000, None)  # v1 present wins over v2 (RFC 3376 7.2.1)
    assert mode_of(listener) is Mode.V1
    listener.join(G1)
    listener.leave(G1)
    assert rec.kinds() == ["report-v1"]


def test_reset_cancels_everything() -> None:
    clock, rec, listener = make()
    listener.join(G1)
    listener.on_query(Mode.V2, 100, None)
    listener.reset()
    assert mode_of(listener) is Mode.V3 and listener.groups == {}
    clock.advance(300_000)
    assert rec.kinds() == ["v3"]


def test_forced_v2_default_mode_is_like_force_igmp_version_2() -> None:
    clock, rec, listener = make(default_mode=Mode.V2)
    listener.join(G1)
    assert rec.kinds() == ["report-v2"]
    listener.on_query(Mode.V3, 1_000, None)  # a v3 query is answered as v2 in v2 mode
    clock.advance(1_000)
    assert rec.kinds()[-1] == "report-v2"


def test_v2_timer_expiring_while_v1_is_still_present_changes_nothing() -> None:
    clock, rec, listener = make()
    listener.on_query(Mode.V2, 1_000, None)  # v2 present until 260 s
    listener.join(G1)
    clock.advance(200_000)
    listener.on_query(Mode.V1, 10_000, None)  # v1 present until 460 s
    clock.advance(59_999)
    rec.sent.clear()
    listener.on_query(Mode.V1, 10_000, None)  # a response pending across the v2 expiry at 260 s
    clock.advance(10_000)
    assert mode_of(listener) is Mode.V1
    assert rec.kinds() == ["report-v1"]  # not canceled: the mode did not change
    clock.advance(519_998 - clock.now_ms)  # the second v1 query keeps v1 until 259,999 + 260,000 ms
    assert mode_of(listener) is Mode.V1
    clock.advance(1)
    assert mode_of(listener) is Mode.V3
