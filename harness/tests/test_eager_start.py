"""harness.eager_start: a worker of a parallel run starts on its share as soon as it has collected."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from harness import ordering
from harness.eager_start import EagerWorkStealing


class _Node:
    """What the scheduler asks of a pytest-xdist worker."""

    def __init__(self, n: int) -> None:
        self.sent: list[int] = []
        self.steal: list[int] = []
        self.shutting_down = False
        self.gateway = SimpleNamespace(id=f"gw{n}")

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def send_steal(self, indices: list[int]) -> None:
        self.steal = indices

    def shutdown(self) -> None:
        self.shutting_down = True


class _Config:
    def __init__(self, workers: int) -> None:
        self.reports: list[Any] = []
        self.hook = SimpleNamespace(pytest_collectreport=lambda report: self.reports.append(report))
        self.option = SimpleNamespace(tx=[f"{workers}*popen"])

    def getvalue(self, name: str) -> Any:
        return getattr(self.option, name)


def _scheduler(workers: int) -> tuple[EagerWorkStealing, list[_Node], _Config]:
    config = _Config(workers)
    sched = EagerWorkStealing(config)  # type: ignore[arg-type]
    nodes = [_Node(n) for n in range(workers)]
    for node in nodes:
        sched.add_node(node)
    return sched, nodes, config


def _collected(sched: EagerWorkStealing, node: _Node, ids: list[str]) -> None:
    # What pytest-xdist's DSession does when a worker's collection is in.
    sched.add_node_collection(node, ids)
    if sched.collection_is_completed:
        sched.schedule()


def test_each_worker_gets_its_share_when_its_collection_is_in() -> None:
    ids = [f"t{i}" for i in range(30)]
    sched, nodes, _ = _scheduler(3)
    starts = ordering.worksteal_shares(len(ids), 3)
    _collected(sched, nodes[0], ids)
    assert nodes[0].sent == list(range(starts[0], starts[1]))
    assert nodes[1].sent == nodes[2].sent == []  # still collecting: nothing yet
    _collected(sched, nodes[2], ids)
    assert nodes[2].sent == list(range(starts[1], starts[2]))
    _collected(sched, nodes[1], ids)
    assert nodes[1].sent == list(range(starts[2], len(ids)))
    assert sorted(nodes[0].sent + nodes[1].sent + nodes[2].sent) == list(range(len(ids)))
    assert not any(node.steal for node in nodes)


def test_worker_that_runs_out_takes_a_share_still_waiting_for_its_worker() -> None:
    ids = [f"t{i}" for i in range(20)]
    sched, nodes, _ = _scheduler(2)
    _collected(sched, nodes[0], ids)
    assert nodes[0].sent == list(range(10))
    for index in range(9):
        sched.mark_test_complete(nodes[0], index)
    assert nodes[0].sent == list(range(20))  # gw1 is not there yet: gw0 takes its share


def test_worker_with_another_collection_is_reported_and_gets_nothing() -> None:
    ids = [f"t{i}" for i in range(10)]
    sched, nodes, config = _scheduler(2)
    _collected(sched, nodes[0], ids)
    _collected(sched, nodes[1], ids[:-1])
    assert nodes[1].sent == [] and nodes[1].shutting_down
    assert len(config.reports) == 1 and config.reports[0].failed and "gw1" in str(config.reports[0].longrepr)
