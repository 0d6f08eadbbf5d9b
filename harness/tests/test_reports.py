"""Reports from a known pair of results files (two DUTs side by side)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports import load, to_json, to_markdown
from reports.model import Report


def _r(test: str, rfc: int, section: str, level: str, text: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return {"nodeid": f"conformance/ipv4/test_x.py::{test}", "test": test, "rfc": rfc, "section": section,
            "level": level, "requirement": text, "verdict": verdict, "message": "", "pcap": None,
            "duration_s": 0.01, "deviation": None, **extra}


ECHO = (792, "Echo", "MUST", "echo data is returned")
UNREACH = (792, "Destination Unreachable", "SHOULD", "port unreachable is sent")
BCAST = (1122, "3.2.1.3", "MUST", "a broadcast source is discarded")

INPROCESS = [
    _r("test_echo", *ECHO, "pass"),
    _r("test_echo_big", *ECHO, "pass"),
    _r("test_unreach", *UNREACH, "fail", message="AssertionError: | nothing seen",
       pcap="pcaps/inprocess/test_unreach.pcap", worker="gw1", after="conformance/ipv4/test_x.py::test_echo",
       dut_state="$ ip -6 route show table main\n2001:db8:2::/64 dev veth0"),
    _r("test_bcast", *BCAST, "pass"),
]
LINUX = [
    _r("test_echo", *ECHO, "pass"),
    _r("test_echo_big", *ECHO, "skip", message="needs root"),
    _r("test_unreach", *UNREACH, "pass"),
    _r("test_bcast", *BCAST, "deviation", deviation={"reason": "rp_filter=0 answers"}),
]


@pytest.fixture
def report(tmp_path: Path) -> Report:
    runs = []
    for dut, results in (("inprocess", INPROCESS), ("linux", LINUX)):
        (tmp_path / dut).mkdir()
        path = tmp_path / dut / "results.json"
        path.write_text(json.dumps({"dut": dut, "started": "s", "finished": "f", "results": results}))
        runs.append(load.load(path))
    return Report.of(runs)


def test_one_row_per_requirement_with_a_verdict_per_dut(report: Report) -> None:
    rows = report.rows()
    assert [(r.requirement.rfc, r.requirement.section) for r in rows] == [
        (792, "Destination Unreachable"), (792, "Echo"), (1122, "3.2.1.3")]
    assert [r.verdicts for r in rows] == [
        {"inprocess": "fail", "linux": "pass"},
        {"inprocess": "pass", "linux": "pass"},  # one pass and one skip: the requirement was checked
        {"inprocess": "pass", "linux": "deviation"},
    ]
    assert rows[1].tests == ["test_echo", "test_echo_big"]


def test_counts_per_rfc_and_failures(report: Report) -> None:
    (_, inprocess), (_, linux) = report.runs
    assert inprocess.counts_by_rfc() == {792: {"pass": 2, "fail": 1}, 1122: {"pass": 1}}
    assert linux.counts_by_rfc() == {792: {"pass": 2, "skip": 1}, 1122: {"deviation": 1}}
    assert [o.test for o in inprocess.failing()] == ["test_unreach"]
    assert not report.ok()


def test_markdown_has_summary_rows_and_failures(report: Report, tmp_path: Path) -> None:
    md = to_markdown.render(report, tmp_path / "inprocess")
    assert "| RFC 792 | 2 pass, 1 fail | 2 pass, 1 skip |" in md
    assert "| RFC 1122 | 1 pass | 1 deviation |" in md
    assert ("| RFC 792 | Destination Unreachable | SHOULD | port unreachable is sent | **FAIL** | pass "
            "| `test_unreach` |") in md
    assert "AssertionError: \\| nothing seen" not in md  # messages go in code blocks, unescaped
    assert "AssertionError: | nothing seen" in md
    assert "pcap: [pcaps/inprocess/test_unreach.pcap](pcaps/inprocess/test_unreach.pcap)" in md
    assert "rp_filter=0 answers" in md
    assert "ran after `conformance/ipv4/test_x.py::test_echo` (the test before it in the same worker)" in md
    assert "the DUT's state when it failed:\n\n```\n$ ip -6 route show table main\n2001:db8:2::/64 dev veth0\n```" in md


def test_json_report(report: Report, tmp_path: Path) -> None:
    data = json.loads(to_json.render(report, tmp_path))
    assert [d["label"] for d in data["duts"]] == ["inprocess", "linux"]
    assert data["summary"]["linux"]["1122"] == {"deviation": 1}
    assert len(data["requirements"]) == 3
    assert data["failures"] == [{"dut": "inprocess", "nodeid": "conformance/ipv4/test_x.py::test_unreach",
                                 "rfc": 792, "verdict": "fail", "message": "AssertionError: | nothing seen",
                                 "pcap": "inprocess/pcaps/inprocess/test_unreach.pcap",
                                 "after": "conformance/ipv4/test_x.py::test_echo",
                                 "dut_state": "$ ip -6 route show table main\n2001:db8:2::/64 dev veth0"}]
    assert data["deviations"][0]["reason"] == "rp_filter=0 answers"
    assert data["ok"] is False


def test_same_dut_twice_gets_distinct_columns(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"dut": "linux", "results": LINUX}))
    report = Report.of([load.load(path), load.load(path)])
    assert report.labels == ["linux", "linux (2)"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "does not exist"),
        ("{", "is not valid JSON"),
        ('{"results": []}', "is not a stackcheck results file"),
        ('{"dut": "x", "results": [{"nodeid": "a", "verdict": "great"}]}', "unknown verdict 'great'"),
    ],
)
def test_bad_results_file_is_one_clear_error(tmp_path: Path, content: str | None, error: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(load.ResultsError, match=error):
        load.load(path)
