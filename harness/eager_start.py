"""pytest-xdist work stealing that starts each worker as soon as its own collection is in.

pytest-xdist hands out the first test only once every worker has collected the suite. On a
real DUT with many workers per CPU the workers collect one after another on the busy CPUs
(about a second of CPU each: 24 workers on 2 cores take 12 s), and the first to finish wait
idle for the last. Their first tests are the suite's longest, which mostly wait on the DUT's
timers, so starting them at once costs the collecting workers little CPU.

The shares are those of ``--dist worksteal`` (``harness.ordering.worksteal_shares``, where
``--longest-lead`` puts a long test at the head of each): a worker gets the next share when its
collection is in; one that has run out while a share still waits for a worker that has not
collected takes that share; after that, work stealing as usual. A worker whose collection
differs from the first one's is reported as a collection error, as pytest-xdist's own check
does, and gets no test.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from xdist.report import report_collection_diff  # type: ignore[import-untyped]
from xdist.scheduler.worksteal import MIN_PENDING, WorkStealingScheduling  # type: ignore[import-untyped]

from harness.ordering import worksteal_shares


class EagerWorkStealing(WorkStealingScheduling):  # type: ignore[misc]  # pytest-xdist has no type information
    collection: list[str] | None  # set by the first schedule()

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self._share_sizes: deque[int] = deque()  # the shares not handed out yet, in order
        self._served: set[Any] = set()  # workers that had their share

    @property
    def collection_is_completed(self) -> bool:
        return bool(self.node2collection)

    def add_node_collection(self, node: Any, collection: Any) -> None:
        assert node in self.node2pending
        ids = list(collection)
        if self.collection is not None and ids != self.collection:
            first = next(iter(self.node2collection))
            diff = report_collection_diff(self.collection, ids, first.gateway.id, node.gateway.id)
            self.log(diff)
            self.config.hook.pytest_collectreport(
                report=pytest.CollectReport(nodeid=node.gateway.id, outcome="failed", longrepr=diff, result=[]))
            node.shutdown()  # the indices it would be sent name other tests in its collection
            return
        self.node2collection[node] = ids

    def schedule(self) -> None:
        if self.collection is None:
            collection: list[str] = next(iter(self.node2collection.values()))
            self.collection = collection
            self.pending[:] = range(len(collection))
            starts = worksteal_shares(len(collection), self.numnodes)
            self._share_sizes.extend(end - start for start, end in
                                     zip(starts, [*starts[1:], len(collection)], strict=True))
        self.check_schedule()

    def check_schedule(self) -> None:
        if not self._share_sizes:
            super().check_schedule()
            return
        for node, pending in list(self.node2pending.items()):
            if not self._share_sizes:
                break
            if node.shutting_down or node not in self.node2collection or len(pending) >= MIN_PENDING:
                continue
            if node not in self._served:
                self._served.add(node)
                self._send_tests(node, self._share_sizes.popleft())
            else:
                # Ran out while a worker is still collecting (or never will): take the last
                # share left; the late worker steals when it comes.
                self._send_last(node, self._share_sizes.pop())
        if not self._share_sizes:
            super().check_schedule()

    def _send_last(self, node: Any, size: int) -> None:
        tests = self.pending[len(self.pending) - size:]
        if tests:
            del self.pending[len(self.pending) - size:]
            self.node2pending[node].extend(tests)
            node.send_runtest_some(tests)
