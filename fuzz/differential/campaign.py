"""A differential fuzzing campaign: batches of stimuli on every DUT, a liveness check between
batches, and every new signature shrunk, until the time is up.

    lanes (fresh DUTs) -> [ generate a batch -> probe every lane -> shrink new signatures ] * N -> report

The campaign counts every stimulus run (generated ones; shrinking and probing are not counted)
and the wall time each phase took, so the report can say how many stimuli a second the DUTs
took. A liveness failure replaces the lane with a fresh instance after its culprit was looked
for, so one crash does not end a night.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from hypothesis import strategies as st

from fuzz.differential.cluster import Cluster, Clusters, signatures
from fuzz.differential.engine import Engine, NoLanes, Observation
from fuzz.differential.hunt import generate, shrink
from fuzz.differential.known import Known, triage
from fuzz.differential.lanes import Lane, LanePool
from fuzz.differential.liveness import LivenessFailure, Prober, isolate
from fuzz.differential.shape import kind_of, shape_of
from fuzz.differential.stimulus import Stimulus

BATCH_S: Final = 20.0
SHRINK_BUDGET_S: Final = 30.0


@dataclass
class Result:
    duts: list[str]
    stimuli: int = 0
    differing: int = 0
    duration_s: float = 0.0
    generating_s: float = 0.0
    shrinking_s: float = 0.0
    probing_s: float = 0.0
    clusters: Clusters = field(default_factory=Clusters)
    liveness: list[LivenessFailure] = field(default_factory=list)
    kernel_log: list[str] = field(default_factory=list)
    lanes: dict[str, int] = field(default_factory=dict)
    rebaselines: dict[str, int] = field(default_factory=dict)


@dataclass
class Settings:
    duration_s: float
    batch_s: float = BATCH_S
    shrink_budget_s: float = SHRINK_BUDGET_S
    log: Callable[[str], None] = print
    on_batch: Callable[[Result], None] | None = None  # e.g. rewrite the report, so a night keeps its findings


class Campaign:
    def __init__(self, pools: dict[str, LanePool], strategy: st.SearchStrategy[Stimulus], known: list[Known],
                 settings: Settings) -> None:
        self.duts = list(pools)
        self.engine = Engine(pools)
        self.strategy = strategy
        self.known = known
        self.settings = settings
        self.prober = Prober()
        self.result = Result(self.duts, lanes={dut: len(pool.lanes) for dut, pool in pools.items()})
        self._pending: list[Cluster] = []
        self._symbols = self.engine.symbols[self.duts[0]]

    # ---- the loop --------------------------------------------------------------------------
    def run(self) -> Result:
        start = time.monotonic()
        end = start + self.settings.duration_s
        batch = 0
        try:
            while time.monotonic() < end:
                batch += 1
                batch_end = min(end, time.monotonic() + self.settings.batch_s)
                t0 = time.monotonic()
                try:
                    drawn = generate(self.engine, self.strategy, until=_after(batch_end),
                                     on_observation=self._observed)
                except NoLanes as exc:  # a DUT lost every lane: probe now, which replaces them
                    self.settings.log(f"stackcheck fuzz --diff: {exc}")
                    drawn = self.engine.done - self.result.stimuli
                self.result.stimuli += drawn
                self.result.generating_s += time.monotonic() - t0
                t0 = time.monotonic()
                self._check_liveness()
                self.result.probing_s += time.monotonic() - t0
                t0 = time.monotonic()
                # At most as long as a batch, so that a night of new findings still fuzzes half the time.
                self._shrink_pending(min(end, t0 + self.settings.batch_s))
                self.result.shrinking_s += time.monotonic() - t0
                self._progress(batch, start)
                if self.settings.on_batch is not None:
                    self.result.duration_s = time.monotonic() - start
                    self.settings.on_batch(self.result)
        except KeyboardInterrupt:
            self.settings.log("stackcheck fuzz --diff: interrupted, writing the report")
        finally:
            for cluster in self._pending:
                if not cluster.shrink_note:
                    cluster.shrink_note = "not shrunk: the campaign ended before its turn"
            self.result.duration_s = time.monotonic() - start
            self.result.rebaselines = {dut: sum(lane.rebaselines for lane in pool.lanes)
                                       for dut, pool in self.engine.pools.items()}
        return self.result

    def close(self) -> None:
        self.prober.close()
        self.engine.close()

    # ---- observations ----------------------------------------------------------------------
    def _observed(self, obs: Observation, choices: Any) -> None:
        if not obs.differs:
            return
        self.result.differing += 1
        shape = shape_of(obs.stimulus, self._symbols)
        for signature in signatures(obs, self.duts, kind_of(obs.stimulus, self._symbols)):
            cluster = self.result.clusters.add(signature, obs.stimulus, choices, shape)
            if cluster is None:
                continue
            self._triage(cluster)
            self._record(cluster, obs)
            self._pending.append(cluster)

    def _triage(self, cluster: Cluster) -> None:
        shapes = list(cluster.shapes)
        if cluster.shrunk is not None:
            shapes.append(shape_of(cluster.shrunk, self._symbols))
        known = triage(cluster.signature, shapes, self.known)
        if known is not None:
            cluster.triage, cluster.known_id = known.triage, known.id
            cluster.known_reason, cluster.known_rfc = known.observed, known.rfc

    def _record(self, cluster: Cluster, obs: Observation) -> None:
        cluster.shrunk_answers = {dut: [str(t) for t in obs.tokens[dut]] for dut in self.duts}
        cluster.shrunk_frames = {dut: list(obs.frames[dut]) for dut in self.duts}

    def _shrink_pending(self, end: float) -> None:
        """Shrink new signatures first, known ones too while time is left (their examples make
        the report readable), each within its budget; what is left waits for the next batch."""
        self._pending.sort(key=lambda c: c.triage != "new")
        while self._pending and time.monotonic() < end:
            cluster = self._pending.pop(0)
            if cluster.choices is None:
                cluster.shrink_note = "not shrunk: no choice sequence was recorded for it"
                continue
            budget = min(self.settings.shrink_budget_s, max(1.0, end - time.monotonic()))
            shrunk = shrink(self.engine, self.strategy, cluster.choices, self._shows(cluster.signature),
                            budget_s=budget)
            if shrunk is None:
                cluster.shrink_note = "did not show again when replayed: the first stimulus is shown, unshrunk"
                if cluster.triage == "new":
                    cluster.triage = "unreproduced"
                continue
            cluster.shrunk = shrunk.stimulus
            cluster.shrink_note = shrunk.note or f"shrunk in {shrunk.runs} runs"
            self._record(cluster, shrunk.observation)
            if cluster.triage == "new":
                self._triage(cluster)  # the shrunk stimulus shows the cause plainest

    def _shows(self, signature: str) -> Callable[[Observation], bool]:
        def keeps(obs: Observation) -> bool:
            return obs.differs and signature in signatures(obs, self.duts, kind_of(obs.stimulus, self._symbols))

        return keeps

    # ---- liveness ----------------------------------------------------------------------------
    def _check_liveness(self) -> None:
        self.engine.drain()
        for line in self.prober.kernel_log():
            self.result.kernel_log.append(line)
        for dut, pool in self.engine.pools.items():
            for lane in pool.lanes:
                if lane.unstarted:
                    self._restart(dut, lane)
                    continue
                if not lane.history and lane.failure is None:
                    continue  # it ran nothing since its last good probe
                problems = [lane.failure] if lane.failure else self.prober.probe(lane)
                if problems:
                    self._liveness_failure(dut, lane, problems)
                else:
                    lane.history.clear()  # what ran before a good probe did not break the lane

    def _liveness_failure(self, dut: str, lane: Lane, problems: list[str]) -> None:
        preceding = list(lane.history)
        self.settings.log(f"stackcheck fuzz --diff: {lane.name} failed its liveness probe: {'; '.join(problems)}")
        failure = LivenessFailure(dut, lane.name, problems, preceding)
        try:
            failure.culprit, failure.culprit_note = isolate(self.prober, lane, preceding)
        except Exception as exc:  # the fresh instance itself failing is worth saying, not fatal
            failure.culprit_note = f"could not replay the preceding stimuli: {type(exc).__name__}: {exc}"
        self.result.liveness.append(failure)
        self._restart(dut, lane)

    def _restart(self, dut: str, lane: Lane) -> None:
        """A fresh instance in the lane, so the campaign goes on; a DUT that does not start is
        tried again after the next batch (no finding: no stimulus ran on it)."""
        lane.history.clear()
        try:
            lane.replace()
        except Exception as exc:
            lane.failure = f"could not start a fresh {dut}: {type(exc).__name__}: {exc}"
            lane.unstarted = True
            self.settings.log(f"stackcheck fuzz --diff: {lane.name}: {lane.failure}")
            return
        lane.failure, lane.job, lane.unstarted = None, None, False

    def _progress(self, batch: int, start: float) -> None:
        r = self.result
        elapsed = time.monotonic() - start
        new = sum(1 for c in r.clusters if c.triage == "new")
        self.settings.log(
            f"[batch {batch}, {elapsed:.0f} s] {r.stimuli} stimuli ({r.stimuli / max(r.generating_s, 1e-9):.0f}/s "
            f"while generating), {r.differing} differing, {len(r.clusters)} clusters ({new} new), "
            f"{len(r.liveness)} liveness failure(s)")


def _after(deadline: float) -> Callable[[], bool]:
    return lambda: time.monotonic() >= deadline


def report_paths(out: Path) -> dict[str, Path]:
    return {"html": out / "report.html", "json": out / "report.json", "pcaps": out / "pcaps",
            "skeletons": out / "skeletons"}
