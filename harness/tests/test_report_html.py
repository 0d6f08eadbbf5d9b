"""The HTML report from a known pair of results files plus a small catalog."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main
from reports import load, to_html
from reports.catalog import load as load_catalog
from reports.model import Report

ECHO = (792, "Echo", "MUST", "echo data is returned")
UNREACH = (792, "Destination Unreachable", "SHOULD", "port unreachable is sent")
BCAST = (1122, "3.2.1.3", "MUST", "a broadcast source is discarded")
FRAMES = [{"direction": "to_dut", "summary": "Ether / IP / UDP 198.51.100.2:9 > 198.51.100.1:9",
           "dissection": "###[ IP ]###\n  ttl = 64 <x>"},
          {"direction": "from_dut", "summary": "Ether / IP / ICMP dest-unreach",
           "dissection": "###[ ICMP ]###\n  type = dest-unreach"}]


def _r(test: str, req: tuple[int, str, str, str], verdict: str, **extra: Any) -> dict[str, Any]:
    rfc, section, level, text = req
    return {"nodeid": f"conformance/ipv4/test_x.py::{test}", "test": test, "rfc": rfc, "section": section,
            "level": level, "requirement": text, "verdict": verdict, "message": "", "pcap": None,
            "duration_s": 0.01, "deviation": None, **extra}


RUNS = {
    "inprocess": [_r("test_echo", ECHO, "pass"), _r("test_echo_big", ECHO, "pass"),
                  _r("test_unreach", UNREACH, "fail", message="expected ICMP <port> within 1 s",
                     pcap="pcaps/inprocess/test_unreach.pcap", exchange=FRAMES),
                  _r("test_bcast", BCAST, "pass")],
    "linux": [_r("test_echo", ECHO, "pass"), _r("test_unreach", UNREACH, "pass"),
              _r("test_bcast", BCAST, "deviation", message="expected no reply",
                 deviation={"reason": "rp_filter=0 answers"})],
}
CATALOG = """rfc = 792
title = "Internet Control Message Protocol"

[[requirement]]
id = "RFC792-Echo-a"
section = "Echo"
level = "MUST"
role = "host"
text = "echo data is returned"

[[requirement]]
id = "RFC792-Redirect-a"
section = "Redirect"
level = "MAY"
role = "host"
text = "a host may act on redirects"
untested = "covered in a later issue"
"""


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    out = []
    for dut, results in RUNS.items():
        (tmp_path / dut).mkdir()
        path = tmp_path / dut / "results.json"
        path.write_text(json.dumps({"dut": dut, "started": "s", "finished": "f", "results": results}))
        out.append(path)
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "rfc792.toml").write_text(CATALOG)
    return out


@pytest.fixture
def html(paths: list[Path], tmp_path: Path) -> str:
    report = Report.of([load.load(p) for p in paths])
    return to_html.render(report, tmp_path / "out", load_catalog(tmp_path / "catalog"))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.rows: list[list[str]] = []
        self.refs: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br", "img", "link", "input"):
            self.open.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "data")]
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    assert parser.open == [], parser.open
    return parser


def test_html_is_well_formed_and_fetches_nothing(html: str) -> None:
    parsed = _parse(html)
    assert not re.search(r"https?://", html)
    assert all(not ref.startswith(("http:", "https:", "//")) for ref in parsed.refs)
    assert "<script" not in html and "url(" not in html


def test_summary_counts_requirements_per_dut_with_untested_from_the_catalog(html: str) -> None:
    rows = _parse(html).rows
    summary = {r[0]: r[1:] for r in rows if r and r[0].startswith(("RFC", "all"))}
    assert next(r[0] for r in rows if r and r[0].startswith(("RFC ", "all"))) == "all RFCs"  # comes first
    assert summary["RFC 792Internet Control Message Protocol"] == ["1/3 pass · 1 fail · 1 untested",
                                                                  "2/3 pass · 1 untested"]
    assert summary["RFC 1122"] == ["1/1 pass", "0/1 pass · 1 known deviation"]
    assert summary["all RFCs"] == ["2/4 pass · 1 fail · 1 untested", "2/4 pass · 1 known deviation · 1 untested"]


def test_requirement_rows_show_both_duts_side_by_side(html: str) -> None:
    rows = [r for r in _parse(html).rows if len(r) == 5]
    texts = ("port unreachable is sent", "echo data is returned", "a broadcast source is discarded",
             "a host may act on redirects")
    by_text = {t: r for r in rows for t in texts if r[2].startswith(t)}
    assert by_text["port unreachable is sent"][3:] == ["fail", "pass"]
    assert by_text["echo data is returned"][3:] == ["pass", "pass"]
    assert "RFC792-Echo-a" in by_text["echo data is returned"][2]  # the catalog id it maps to
    assert by_text["a broadcast source is discarded"][3:] == ["pass", "deviation"]
    assert by_text["a host may act on redirects"][3:] == ["untested", "untested"]
    assert "covered in a later issue" in by_text["a host may act on redirects"][2]


def test_failure_detail_has_message_frames_and_pcap_link(html: str) -> None:
    assert "expected ICMP &lt;port&gt; within 1 s" in html
    assert "ttl = 64 &lt;x&gt;" in html and "sent to the DUT" in html and "received from the DUT" in html
    assert '<a href="../inprocess/pcaps/inprocess/test_unreach.pcap">pcap</a>' in html
    assert "rp_filter=0 answers" in html


def test_cli_report_writes_html_markdown_and_json(paths: list[Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "combined"
    assert main(["report", *map(str, paths), "--out", str(out), "--catalog", str(tmp_path / "catalog")]) == 0
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "report.json"}
    assert "untested" in (out / "report.html").read_text()
    assert "Requirement catalog: 2 requirements of 1 RFCs, 1 not tested yet" in (out / "report.md").read_text()
    assert "report.html" in capsys.readouterr().out


def test_cli_report_allure_without_results_is_one_clear_line(paths: list[Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(paths[0]), "--out", str(tmp_path / "o"), "--allure"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no Allure results" in err and "stackcheck run --allure" in err


def test_cli_report_allure_without_nodejs_warns_and_writes_the_other_reports(
        paths: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    results = paths[0].parent / "allure-results"
    results.mkdir()
    (results / "0-result.json").write_text("{}")
    monkeypatch.setattr("harness.cli.report.shutil.which", lambda name: None)
    assert main(["report", str(paths[0]), "--out", str(tmp_path / "o"), "--allure"]) == 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("stackcheck: warning: no Allure HTML report: it needs Node.js")
    assert str(results) in err
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"report.html", "report.md", "report.json"}


def test_cli_report_allure_when_npm_cannot_download_warns(paths: list[Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    if shutil.which("npm") is None:
        pytest.skip("needs npm to show what happens when its download fails (apt-get install npm)")
    results = paths[0].parent / "allure-results"
    results.mkdir()
    (results / "0-result.json").write_text("{}")
    # A registry that refuses every connection: the download of the renderer fails at once.
    monkeypatch.setenv("STACKCHECK_ALLURE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_offline", "false")
    assert main(["report", str(paths[0]), "--out", str(tmp_path / "o"), "--allure"]) == 0
    err = capsys.readouterr().err
    assert "warning: no Allure HTML report: npm install allure@3 (a download from the npm registry) failed" in err
    assert (tmp_path / "o" / "report.html").is_file()


def test_entry_listing_a_test_that_cites_another_entry_shows_that_tests_verdicts(
        paths: list[Path], tmp_path: Path) -> None:
    # RFC792-Echo-b lists test_echo, whose citation maps to RFC792-Echo-a: a test that checks
    # both is shown under both, not as "untested" under the one it does not cite.
    listed = CATALOG + ('\n[[requirement]]\nid = "RFC792-Echo-b"\nsection = "Echo"\nlevel = "MUST"\n'
                        'role = "host"\ntext = "an echo request is answered"\n'
                        'tests = ["ipv4/test_x.py::test_echo"]\n')
    (tmp_path / "listed").mkdir()
    (tmp_path / "listed" / "rfc792.toml").write_text(listed)
    report = Report.of([load.load(p) for p in paths])
    rows = [r for r in _parse(to_html.render(report, tmp_path / "out", load_catalog(tmp_path / "listed"))).rows
            if len(r) == 5]
    row = next(r for r in rows if r[2].startswith("an echo request is answered"))
    assert row[3:] == ["pass", "pass"], row
    assert "test_echo" in row[2] and "untested" not in row[2], row
