"""Longest-first ordering of a parallel run (harness.ordering) and its wiring into `stackcheck run`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from harness import ordering
from harness.cli import main as cli


@dataclass(frozen=True)
class _Item:
    nodeid: str


def _ids(items: list[_Item]) -> list[str]:
    return [item.nodeid for item in items]


def test_longest_tests_come_first_and_unknown_ones_count_as_the_median() -> None:
    durations = {"a": 1.0, "b": 9.0, "c": 3.0, "d": 2.0}  # median 2.5
    items = [_Item("a"), _Item("new"), _Item("b"), _Item("c")]
    assert _ids(ordering.longest_first(items, durations)) == ["b", "c", "new", "a"]


def test_ties_keep_the_shuffled_order() -> None:
    items = [_Item(name) for name in "zyxw"]
    assert _ids(ordering.longest_first(items, {"q": 1.0})) == ["z", "y", "x", "w"]


def test_each_worker_starts_with_one_long_and_one_short_test() -> None:
    # pytest-xdist gives each worker two consecutive tests to start with.
    durations = {str(n): float(n) for n in range(1, 9)}
    items = [_Item(str(n)) for n in range(1, 9)]
    assert _ids(ordering.longest_first(items, durations, workers=2)) == ["8", "5", "7", "6", "4", "3", "2", "1"]


def test_no_durations_keeps_the_order() -> None:
    items = [_Item("b"), _Item("a")]
    assert ordering.longest_first(items, {}) == items


def test_record_keeps_the_longest_of_several_runs(tmp_path: Path) -> None:
    def results(name: str, durations: dict[str, float | None]) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"results": [{"nodeid": k, "duration_s": v} for k, v in durations.items()]}))
        return path

    merged = ordering.record([results("linux.json", {"t1": 2.5, "t2": 0.1, "t3": None}),
                              results("tap.json", {"t1": 1.0, "t2": 0.4})])
    assert merged == {"t1": 2.5, "t2": 0.4}


def test_unreadable_durations_file_means_no_ordering(tmp_path: Path) -> None:
    bad = tmp_path / "durations.json"
    bad.write_text("[1, 2]")
    assert ordering.load(bad) == {}
    assert ordering.load(tmp_path / "missing.json") == {}


def test_committed_durations_name_collected_tests() -> None:
    durations = ordering.load()
    assert len(durations) > 1000
    assert all(nodeid.startswith("conformance/") and seconds >= 0 for nodeid, seconds in durations.items())


def test_parallel_run_keeps_random_order_unless_asked_for_longest_first(tmp_path: Path) -> None:
    args = cli._parser().parse_args(["run", "--dut", "inprocess", "-n", "2"])
    pytest_args = cli._pytest_args(args, Path("conformance"), tmp_path, [])
    assert "--longest-first" not in pytest_args and pytest_args[-4:] == [
        "--dist", "worksteal", "--longest-lead", "--eager-start"]
    args = cli._parser().parse_args(["run", "--dut", "inprocess", "-n", "2", "--order", "longest-first"])
    pytest_args = cli._pytest_args(args, Path("conformance"), tmp_path, [])
    assert pytest_args[-5:] == ["--longest-first", "--dist", "load", "--maxschedchunk", "1"]


class _FakeNode:
    """What pytest-xdist's work-stealing scheduler asks of a worker at the first distribution."""

    def __init__(self, n: int) -> None:
        self.sent: list[int] = []
        self.shutting_down = False
        self.gateway = SimpleNamespace(id=f"gw{n}")

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices


def test_shares_are_where_xdist_worksteal_starts_each_worker() -> None:
    from xdist.scheduler.worksteal import WorkStealingScheduling  # type: ignore[import-untyped]

    for count, workers in ((103, 5), (1705, 16), (40, 3)):
        sched = WorkStealingScheduling.__new__(WorkStealingScheduling)
        sched.node2collection, sched.node2pending, sched.pending, sched.collection = {}, {}, [], None
        sched.steal_requested_from_node, sched.numnodes = None, workers
        nodes = [_FakeNode(n) for n in range(workers)]
        for node in nodes:
            sched.node2pending[node] = []
            sched.node2collection[node] = [str(i) for i in range(count)]
        sched.schedule()
        assert [node.sent[0] for node in nodes] == ordering.worksteal_shares(count, workers)


def test_long_tests_are_dealt_evenly_and_each_share_starts_on_its_longest() -> None:
    items = [_Item(str(i)) for i in range(40)]
    # "39" is the longest; the 32 others are all shorter than LONG_TEST_S
    durations = {str(i): (float(i) if i >= 32 else i / 100) for i in range(40)}
    out = ordering.longest_lead(items, durations, workers=4)
    assert sorted(_ids(out), key=int) == [str(i) for i in range(40)]  # a permutation
    starts = ordering.worksteal_shares(40, 4)
    shares = [_ids(out)[start:end] for start, end in zip(starts, [*starts[1:], 40], strict=True)]
    assert [share[0] for share in shares] == ["39", "38", "37", "36"]
    # 35 goes where the least time is (36's share), 34 then to 37's, 33 to 38's, 32 to 39's
    long = [[nodeid for nodeid in share if int(nodeid) >= 32] for share in shares]
    assert long == [["39", "32"], ["38", "33"], ["37", "34"], ["36", "35"]]
    short = [nodeid for nodeid in _ids(out) if int(nodeid) < 32]
    assert short == [str(i) for i in range(32)]  # pytest-randomly's order, kept
    assert ordering.longest_lead(items, {}, workers=4) == items
    assert ordering.longest_lead(items, durations, workers=1) == items


def test_long_tests_of_a_share_run_before_its_last_quarter() -> None:
    workers, count = 2, 44
    items = [_Item(str(i)) for i in range(count)]
    long = {"3", "17", "20", "21", "40", "41"}
    durations = {str(i): (ordering.LONG_TEST_S if str(i) in long else 0.1) for i in range(count)}
    out = _ids(ordering.longest_lead(items, durations, workers))
    assert sorted(out, key=int) == [str(i) for i in range(count)]
    for start, end in zip(ordering.worksteal_shares(count, workers), (22, count), strict=True):
        share = out[start:end]
        assert sum(nodeid in long for nodeid in share) == 3
        assert all(nodeid not in long for nodeid in share[len(share) * 3 // 4:]), share
