"""`stackcheck fuzz` end to end, about 20 s each: a Hypothesis campaign whose report carries
branch coverage of stack_under_test (coverage.py), and the coverage-guided mode under Atheris.
Both need the optional extra `fuzz`, which `make test` installs."""

from __future__ import annotations

import importlib.util
import json
import signal
from pathlib import Path

import pytest

from harness.cli import fuzz as fuzz_cli
from harness.cli import main as cli
from harness.cli.fuzz import FuzzReport, TargetReport


def _logs(tmp_path: Path) -> str:
    return "".join(p.read_text(errors="replace")[-2000:] for p in (tmp_path / "fuzz-work").glob("log-*"))


def _report(path: Path) -> dict[str, TargetReport]:
    report: FuzzReport = json.loads(path.read_text(encoding="utf-8"))
    return report["targets"]


@pytest.mark.skipif(importlib.util.find_spec("coverage") is None,
                    reason="needs coverage.py for the branch coverage figure: pip install -e '.[fuzz]' (make test does)")
def test_campaign_reports_examples_and_branch_coverage(tmp_path: Path) -> None:
    """Started the way a shell starts a background job (SIGINT ignored, which children inherit),
    the workers must still stop on the runner's SIGINT and save their coverage data; the
    rate-limit worker used to ignore it and be killed 30 s later."""
    report = tmp_path / "fuzz-report.json"
    # The duration includes the worker's start-up (pytest, Hypothesis and coverage imports), which
    # took most of 6 s on a loaded 2-core machine; 20 s leaves room to generate examples.
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        status = cli.main(["fuzz", "--target", "rate-limit", "--duration", "20s", "--db", str(tmp_path / "db"),
                           "--report", str(report)])
    finally:
        signal.signal(signal.SIGINT, before)
    assert status == fuzz_cli.EXIT_OK, _logs(tmp_path)
    target = _report(report)["rate-limit"]
    assert target["examples"] > 0 and target["distinct_failures"] == 0, _logs(tmp_path)
    coverage = target["branch_coverage_percent"]
    assert isinstance(coverage, float) and 0 < coverage < 100
    assert "| rate-limit |" in report.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="needs atheris (prebuilt wheel for Linux x86-64): pip install -e '.[fuzz]' (make test does)")
def test_atheris_mode_runs_raw_bytes_and_keeps_a_corpus(tmp_path: Path) -> None:
    report = tmp_path / "fuzz-report.json"
    corpus = tmp_path / "corpus"
    status = cli.main(["fuzz", "--atheris", "--target", "raw", "--duration", "12s", "--corpus", str(corpus),
                       "--report", str(report), "--db", str(tmp_path / "db")])
    log = _logs(tmp_path)
    assert status == fuzz_cli.EXIT_OK, log
    target = _report(report)["raw"]
    assert target["examples"] > 0 and target["distinct_failures"] == 0, log
    assert (corpus / "raw").is_dir() and any((corpus / "raw").iterdir()), "libFuzzer kept no corpus"
