"""What a report is made of: the verdicts, the records of results.json (written by the pytest
plugin through harness/verdicts.py, read by load.py), requirements, each test's outcome per DUT,
and the table built from them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypedDict

# passed -> "pass", failed -> "fail", xfailed (a known deviation) -> "deviation", strict xpass ->
# "unexpected-pass", a test of an optional feature (or protocol version) the DUT does not declare
# -> "not-implemented" (never a failure), skipped -> "skip", an error in set-up or tear-down -> "error".
Verdict = Literal["pass", "fail", "deviation", "unexpected-pass", "not-implemented", "skip", "error"]
VERDICTS: Final[tuple[Verdict, ...]] = (
    "pass", "fail", "deviation", "unexpected-pass", "not-implemented", "skip", "error")
FAILING: Final[frozenset[Verdict]] = frozenset({"fail", "error", "unexpected-pass"})
# How reports name each verdict to a reader.
VERDICT_LABELS: Final[dict[Verdict, str]] = {
    "pass": "pass", "fail": "fail", "deviation": "known deviation", "unexpected-pass": "unexpected pass",
    "not-implemented": "not implemented (optional)", "skip": "skipped", "error": "error"}
# A requirement checked by several tests shows its most telling verdict.
_SEVERITY: Final[tuple[Verdict, ...]] = (
    "fail", "error", "unexpected-pass", "deviation", "pass", "not-implemented", "skip")
# 2: the verdict "not-implemented" (version 1 files read unchanged).
# 3: each record's worker, the test before it on that worker, and the DUT's state at a failure.
RESULTS_VERSION: Final = 3
NOT_RUN: Final = "—"  # a report cell: this DUT's run has no test of the requirement
Cell = Verdict | Literal["—"]


# ---- results.json ----------------------------------------------------------------------------


class FrameRecord(TypedDict):
    """One frame of the exchange shown with a failure, dissected by Scapy."""

    direction: str  # "to_dut" or "from_dut" (harness.capture.Direction)
    summary: str
    dissection: str


class DeviationRecord(TypedDict):
    """The expectation file's entry for a test that is a known deviation."""

    reason: str  # what the DUT does instead ("observed")
    rfc: str  # the requirement, quoted


class ResultRecord(TypedDict):
    """One test's record in results.json; the citation fields are None when it cites no RFC."""

    nodeid: str
    test: str
    rfc: int | None
    section: str | None
    level: str | None
    requirement: str | None
    req: str | None  # the statement id the test cites (reports.rfcs.statements)
    quote: str | None  # the part of the statement the test checks, when it says
    described: bool  # @described: a behaviour without a keyword, outside the statement count
    also: list[str]  # further statement ids the same check covers
    verdict: Verdict
    message: str
    pcap: str | None  # relative to the results file's directory when inside it
    duration_s: float
    deviation: DeviationRecord | None
    exchange: list[FrameRecord]  # the last frames of a failed test; empty otherwise
    # The expectation entries that matched the test, applied or not and why (harness/expectations.py).
    expectations: list[dict[str, Any]]
    # Where it ran, for failures that depend on what ran before on the same DUT: the process
    # (an xdist worker id such as "gw3", or "main") and the test it ran just before (None: first).
    worker: str
    after: str | None
    dut_state: str  # what the DUT held when the test failed (routes, neighbors, ...); "" when not told


class ResultsFile(TypedDict):
    """results.json: one DUT's run."""

    version: int
    dut: str
    # Who was tested: kernel release, stack version and commit, a device's build (harness/identity.py).
    identity: dict[str, str]
    randomly_seed: int | None  # pytest-randomly's seed of the test order, None when not shuffled
    started: str  # ISO 8601, UTC
    finished: str
    expectations: list[dict[str, Any]]  # per entry: applied or not, and why (harness/expectations.py)
    results: list[ResultRecord]


# ---- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Requirement:
    rfc: int  # 0 when the test cites none
    section: str
    level: str
    text: str
    id: str = field(default="", compare=False)  # the statement id, when the test cites one
    described: bool = field(default=False, compare=False)  # @described: a behaviour without a keyword
    also: tuple[str, ...] = field(default=(), compare=False)  # further statements the check covers


@dataclass(frozen=True)
class Outcome:
    nodeid: str
    test: str
    requirement: Requirement
    verdict: Verdict
    message: str = ""
    pcap: Path | None = None  # absolute, resolved against the results file's directory
    duration_s: float = 0.0
    deviation: str | None = None  # the expectation file's "observed" text
    exchange: tuple[FrameRecord, ...] = ()  # the test's last frames, dissected (failures only)
    quote: str | None = None  # the part of the statement the test checks, when it says
    after: str | None = None  # the test that ran just before in the same worker (on the same DUT if shared)
    dut_state: str = ""  # what the DUT held when the test failed, when its backend can tell


@dataclass(frozen=True)
class RunResult:
    """One results.json: one DUT's run."""

    dut: str
    started: str
    finished: str
    outcomes: tuple[Outcome, ...]
    source: Path
    # Who was tested: kernel release, stack version and commit, a device's build (harness/identity.py).
    identity: dict[str, str] = field(default_factory=dict)
    # Per expectation entry: status ("applied", "not applied", ...), condition, why not, verdicts.
    expectations: tuple[dict[str, Any], ...] = ()
    seed: int | None = None  # pytest-randomly's seed of the run's test order

    def identity_line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.identity.items() if k != "dut") or "not recorded"

    def expectations_to_report(self) -> list[dict[str, Any]]:
        """Entries worth a line: conditional ones, and any that did not simply apply."""
        return [e for e in self.expectations if e.get("when") or e.get("status") not in ("applied", "not run")]

    def counts_by_rfc(self) -> dict[int, Counter[Verdict]]:
        per: dict[int, Counter[Verdict]] = {}
        for o in self.outcomes:
            per.setdefault(o.requirement.rfc, Counter())[o.verdict] += 1
        return dict(sorted(per.items()))

    def totals(self) -> Counter[Verdict]:
        return Counter(o.verdict for o in self.outcomes)

    def failing(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict in FAILING]

    def deviations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "deviation"]


def worst(verdicts: list[Verdict]) -> Cell:
    return min(verdicts, key=_SEVERITY.index) if verdicts else NOT_RUN


@dataclass
class Row:
    requirement: Requirement
    verdicts: dict[str, Cell] = field(default_factory=dict)  # column label -> verdict
    tests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MutationSummary:
    """The headline of a mutation.json (``stackcheck mutate``): how much a green column is worth."""

    suite: str
    date: str
    commit: str
    mutants: int
    killed: int          # including mutants that made a test run past its time limit
    survived: int        # including mutants no test covers
    equivalent: int
    score: float | None  # killed / (mutants - equivalent)
    partial: bool        # only some files were mutated (--only)
    source: Path

    def sentence(self) -> str:
        score = "n/a" if self.score is None else f"{100 * self.score:.1f}%"
        scope = "part of stack_under_test (a partial run)" if self.partial else "stack_under_test"
        return (f"Mutation score of the {self.suite} suite against {scope}: {score} "
                f"({self.killed} of {self.mutants - self.equivalent} mutants caught, {self.survived} survived, "
                f"{self.equivalent} equivalent; {self.mutants} mutants; commit {self.commit}, {self.date})")


@dataclass
class Report:
    runs: list[tuple[str, RunResult]]  # (column label, run); labels are unique
    mutation: MutationSummary | None = None

    @classmethod
    def of(cls, runs: list[RunResult]) -> Report:
        labelled: list[tuple[str, RunResult]] = []
        seen: Counter[str] = Counter()
        for run in runs:
            seen[run.dut] += 1
            label = run.dut if seen[run.dut] == 1 else f"{run.dut} ({seen[run.dut]})"
            labelled.append((label, run))
        return cls(labelled)

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.runs]

    def rows(self) -> list[Row]:
        """One row per requirement, in RFC/section order, with a verdict for each DUT column."""
        per_dut: dict[Requirement, dict[str, list[Verdict]]] = {}
        tests: dict[Requirement, list[str]] = {}
        for label, run in self.runs:
            for o in run.outcomes:
                per_dut.setdefault(o.requirement, {}).setdefault(label, []).append(o.verdict)
                names = tests.setdefault(o.requirement, [])
                if o.test not in names:
                    names.append(o.test)
        return [
            Row(req, {label: worst(per_dut[req].get(label, [])) for label in self.labels}, tests[req])
            for req in sorted(per_dut)
        ]

    def rfcs(self) -> list[int]:
        return sorted({o.requirement.rfc for _, run in self.runs for o in run.outcomes})

    def ok(self) -> bool:
        return not any(run.failing() for _, run in self.runs)
