"""What a report is made of: requirements, each test's outcome per DUT, and the table built from them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERDICTS = ("pass", "fail", "deviation", "unexpected-pass", "skip", "error")
FAILING = frozenset({"fail", "error", "unexpected-pass"})
# A requirement checked by several tests shows its most telling verdict.
_SEVERITY = ("fail", "error", "unexpected-pass", "deviation", "pass", "skip")


@dataclass(frozen=True, order=True)
class Requirement:
    rfc: int  # 0 when the test cites none
    section: str
    level: str
    text: str
    id: str = field(default="", compare=False)  # catalog id, when the test cites one


@dataclass(frozen=True)
class Outcome:
    nodeid: str
    test: str
    requirement: Requirement
    verdict: str
    message: str = ""
    pcap: Path | None = None  # absolute, resolved against the results file's directory
    duration_s: float = 0.0
    deviation: str | None = None  # the expectation file's "observed" text
    # The test's last frames, dissected: [{"direction", "summary", "dissection"}] (failures only)
    exchange: tuple[dict[str, str], ...] = ()


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

    def counts_by_rfc(self) -> dict[int, Counter[str]]:
        per: dict[int, Counter[str]] = {}
        for o in self.outcomes:
            per.setdefault(o.requirement.rfc, Counter())[o.verdict] += 1
        return dict(sorted(per.items()))

    def totals(self) -> Counter[str]:
        return Counter(o.verdict for o in self.outcomes)

    def failing(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict in FAILING]

    def deviations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "deviation"]


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=_SEVERITY.index) if verdicts else "—"


@dataclass
class Row:
    requirement: Requirement
    verdicts: dict[str, str] = field(default_factory=dict)  # column label -> verdict
    tests: list[str] = field(default_factory=list)


@dataclass
class Report:
    runs: list[tuple[str, RunResult]]  # (column label, run); labels are unique

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
        per_dut: dict[Requirement, dict[str, list[str]]] = {}
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
