"""Run stimuli on every DUT at once and compare what each answered.

One stimulus is a *job*. The engine takes a free lane of every DUT kind and sends the stimulus
to each. Every job first has a *quick window* (over veth, Linux answers within the send call
itself; a few milliseconds cover a loaded machine), then the engine decides the job's window,
the same for every DUT so that late answers fall in it everywhere or nowhere:
- reports to a query: its maximum response delay (capped at ``max_window_s``; past the cap the
  reports are left out of the comparison, as their presence would be chance);
- fragments a DUT still holds: the longest reassembly timeout among the DUTs, so the Time
  Exceeded it may send is seen.
Virtual-time lanes run their windows at once. Real-time lanes are *parked* while the window
runs, and the engine goes on with the next stimulus on other lanes (``poll`` collects parked
jobs), so drawing the next stimulus overlaps the last one's window and a namespace never idles
the fuzzer. When every lane of a job is done, the answers are normalised and compared. A lane
the stimulus may have changed is re-baselined before its next job (real-time lanes in a thread:
the work is done by `ip` and the backend's agent, and other lanes go on meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, TypeVar

from fuzz.differential.lanes import Lane, LanePool, reassembly_timeout
from fuzz.differential.normalise import Context, Token, normalise
from fuzz.differential.stimulus import Stimulus
from fuzz.differential.symbols import Symbols
from fuzz.differential.traits import Traits, answer_reasons, traits_of

QUICK_S: Final = 0.004
SLACK_S: Final = 0.2  # past a timer's nominal expiry: Linux fires timers a jiffy or two late, more under load
MAX_WINDOW_S: Final = 2.5
REPORT_KINDS: Final = ("IGMP v1-report", "IGMP v2-report", "IGMP v3-report", "ICMPv6 mldv1-report",
                       "ICMPv6 mldv2-report")
REBASELINE_THREADS: Final = 4
DRAIN_LIMIT_S: Final = 60.0  # longer than any window plus the slowest re-baseline (a linux reset)
T = TypeVar("T")
R = TypeVar("R")


class NoLanes(BaseException):
    """Every lane of a DUT is out of service; the message says why. A BaseException, so that it
    ends a Hypothesis generation run instead of being taken for a failing example; the campaign
    then probes the lanes and replaces the broken ones."""


@dataclass
class Observation:
    """What every DUT answered to one stimulus, normalised."""

    stimulus: Stimulus
    tokens: dict[str, tuple[Token, ...]]
    frames: dict[str, list[bytes]]
    window_s: float
    notes: list[str] = field(default_factory=list)
    lanes: dict[str, str] = field(default_factory=dict)  # DUT -> the lane it ran on

    @property
    def differs(self) -> bool:
        return len(set(self.tokens.values())) > 1


@dataclass
class Job:
    stimulus: Stimulus
    traits: Traits
    lanes: dict[str, Lane]
    on_done: Callable[[Observation], None]
    frames: dict[str, list[bytes]] = field(default_factory=dict)
    running: dict[str, Lane] = field(default_factory=dict)  # lanes whose window is still open
    window_s: float | None = None  # decided when the quick window has closed
    notes: list[str] = field(default_factory=list)


class Engine:
    def __init__(self, pools: dict[str, LanePool], *, quick_s: float = QUICK_S,
                 max_window_s: float = MAX_WINDOW_S) -> None:
        self.pools = pools
        self.quick_s = quick_s
        self.max_window_s = max_window_s
        self.parked: list[Job] = []
        self.done = 0
        self.symbols = {dut: Symbols(pool.lanes[0].device.info) for dut, pool in pools.items()}
        self._rebaselines = ThreadPoolExecutor(max_workers=REBASELINE_THREADS, thread_name_prefix="rebaseline")

    # ---- running stimuli -------------------------------------------------------------------
    def run(self, stimulus: Stimulus) -> Observation:
        """One stimulus, waiting for its whole window (shrinking and replays use this)."""
        result: list[Observation] = []
        self.submit(stimulus, result.append)
        while not result:
            self.poll(0.002)
        return result[0]

    def submit(self, stimulus: Stimulus, on_done: Callable[[Observation], None]) -> None:
        """Start ``stimulus`` on a lane of every DUT; ``on_done`` gets the observation once its
        window has closed on all of them (from a later ``submit``, ``poll`` or ``drain``)."""
        lanes = self._acquire()
        job = Job(stimulus, traits_of(stimulus), lanes, on_done, running=dict(lanes))
        for dut, lane in lanes.items():
            lane.job = job
            job.frames[dut] = []
            lane.busy_until = time.monotonic() + self.quick_s
            self._guarded(job, dut, lane, lane.send, stimulus)
        self.parked.append(job)
        self.poll()

    def poll(self, timeout: float = 0.0) -> None:
        """Move parked jobs on: decide windows whose quick part is over, collect lanes whose
        window has closed, finish jobs. Waits up to ``timeout`` while jobs are parked."""
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            for job in list(self.parked):
                self._advance(job, now)
            if time.monotonic() >= end or not self.parked:
                return
            time.sleep(min(0.001, max(0.0, end - time.monotonic())))

    def drain(self, limit_s: float = DRAIN_LIMIT_S) -> None:
        """Wait until every parked job has finished and every lane is free again (a lane still
        busy after ``limit_s``, a re-baseline that never returns, is taken out of service)."""
        end = time.monotonic() + limit_s
        while self.parked or self._busy():
            self.poll(0.005)
            time.sleep(0.001)  # poll returns at once when only re-baselines are outstanding
            if time.monotonic() > end:
                for lane in self._busy():
                    lane.failure = f"still busy ({lane.job!r}) {limit_s:g} s after the last stimulus"
                self.parked.clear()

    def _busy(self) -> list[Lane]:
        return [lane for pool in self.pools.values() for lane in pool.lanes
                if lane.job is not None and lane.failure is None]

    def _advance(self, job: Job, now: float) -> None:
        if job.window_s is None:
            if any(lane.busy_until > now for lane in job.running.values() if not lane.virtual):
                return
            for dut, lane in list(job.running.items()):
                job.frames[dut] += self._guarded(job, dut, lane, lane.collect, self.quick_s) or []
            job.window_s = self._window(job)
            for lane in job.running.values():
                lane.busy_until = now + job.window_s - self.quick_s
        for dut, lane in list(job.running.items()):
            # A parked lane's frames wait in its socket (4 MiB of buffer) until its window closes.
            if lane.virtual or lane.busy_until <= now:
                frames = self._guarded(job, dut, lane, lane.collect, job.window_s)
                if frames is not None:
                    job.frames[dut] += frames
                    self._release(job, dut, lane)
        if not job.running:
            self.parked.remove(job)
            self._finish(job)

    def _guarded(self, job: Job, dut: str, lane: Lane, step: Callable[[T], R], arg: T) -> R | None:
        """Run one step of a lane; a DUT that raises (our stack's exception is a totality bug,
        a real DUT's socket error a lost device) takes its lane out of service with the reason,
        and the job goes on with the other DUTs. None when the step did not go through."""
        if dut not in job.running:
            return None
        try:
            return step(arg)
        except Exception as exc:
            lane.failure = f"{type(exc).__name__} while running a stimulus: {exc}"
            job.notes.append(f"{dut}: {lane.failure}")
            del job.running[dut]
            return None

    def _acquire(self) -> dict[str, Lane]:
        lanes: dict[str, Lane] = {}
        while True:
            for dut, pool in self.pools.items():
                if dut not in lanes and (lane := pool.free()) is not None:
                    lanes[dut] = lane
                    lane.job = "reserved"
            if len(lanes) == len(self.pools):
                return lanes
            for dut, pool in self.pools.items():
                if dut not in lanes and all(lane.failure for lane in pool.lanes):
                    for lane in lanes.values():
                        lane.job = None  # give back what was reserved
                    raise NoLanes(f"every {dut} lane is out of service: {pool.lanes[0].failure}")
            self.poll(0.001)

    # ---- windows and the end of a job ----------------------------------------------------------
    def _window(self, job: Job) -> float:
        window = self.quick_s
        if job.traits.report_bound_s is not None:
            # Even a Maximum Response Delay of 0 is a timer: Linux sends the report a jiffy or more
            # later, from a work queue, so the slack is always added.
            bound = job.traits.report_bound_s + SLACK_S
            if bound > self.max_window_s:
                job.notes.append(f"reports not compared: the query allows {job.traits.report_bound_s:g} s")
            window = max(window, min(bound, self.max_window_s))
        if job.traits.fragments and any(lane.holds_fragments() is not False for lane in job.lanes.values()):
            timeouts = [reassembly_timeout(lane.device) for lane in job.lanes.values()]
            known = [t for t in timeouts if t is not None]
            bound = (max(known) if len(known) == len(timeouts) else self.max_window_s) + SLACK_S
            if bound > self.max_window_s:
                job.notes.append("a reassembly timeout is longer than the window: Time Exceeded not compared")
            window = max(window, min(bound, self.max_window_s))
        return window

    def _release(self, job: Job, dut: str, lane: Lane) -> None:
        """The lane's part of the job is over: re-baseline it if the stimulus (or its own
        answer) may have changed its state, then let the next job have it."""
        del job.running[dut]
        reasons = job.traits.reasons | answer_reasons(job.frames[dut])
        lane.busy_until = 0.0
        problem = lane.health()
        if problem is not None:
            lane.failure = problem
            return
        if not reasons:
            lane.job = None
        elif lane.virtual:
            lane.rebaseline(reasons)
            lane.job = None
        else:  # waiting for `ip` or the agent: in a thread, the lane stays taken until it is done
            lane.job = "rebaseline"
            self._rebaselines.submit(_rebaseline, lane, reasons)

    def _finish(self, job: Job) -> None:
        ctx = Context.of(job.stimulus)
        tokens = {}
        for dut, frames in job.frames.items():
            toks = normalise(frames, ctx, self.symbols[dut])
            if any(n.startswith("reports not compared") for n in job.notes):
                toks = tuple(t for t in toks if not any(k in t.kind for k in REPORT_KINDS))
            if any(n.startswith("a reassembly timeout") for n in job.notes):
                toks = tuple(t for t in toks if "time-exceeded/1" not in t.kind)
            tokens[dut] = toks
        self.done += 1
        lanes = {dut: lane.name for dut, lane in job.lanes.items()}
        job.on_done(Observation(job.stimulus, tokens, job.frames, job.window_s or self.quick_s, job.notes, lanes))

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._rebaselines.shutdown(wait=True)
            for pool in self.pools.values():
                pool.close()


def _rebaseline(lane: Lane, reasons: set[str]) -> None:
    try:
        lane.rebaseline(reasons)
    except Exception as exc:  # a lane that cannot return to the baseline is taken out of service
        lane.failure = f"re-baselining failed: {type(exc).__name__}: {exc}"
        return
    lane.job = None
