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

OVERLAP = (5722, "4", "MUST", "When reassembling an IPv6 datagram, if one or more its constituent fragments "
           "is determined to be an overlapping fragment, the entire datagram (and any constituent fragments, "
           "including those not yet received) MUST be silently discarded.")
ATOMIC = (6946, "4", "MUST", 'A received atomic fragment should be "reassembled" from the contents of that '
          "sole fragment.")
FRAMES = [{"direction": "to_dut", "summary": "Ether / IPv6 / IPv6ExtHdrFragment 2001:db8::2 > 2001:db8::1",
           "dissection": "###[ IPv6 ]###\n  hlim = 64 <x>"},
          {"direction": "from_dut", "summary": "Ether / IPv6 / ICMPv6EchoReply",
           "dissection": "###[ ICMPv6 Echo Reply ]###\n  type = Echo Reply"}]


def _r(test: str, req: tuple[int, str, str, str], verdict: str, req_id: str | None = None,
       **extra: Any) -> dict[str, Any]:
    rfc, section, level, text = req
    return {"nodeid": f"conformance/ipv6/test_x.py::{test}", "test": test, "rfc": rfc, "section": section,
            "level": level, "requirement": text, "req": req_id, "quote": None, "described": req_id is None,
            "also": [], "verdict": verdict, "message": "", "pcap": None, "duration_s": 0.01, "deviation": None,
            **extra}


RUNS = {
    "inprocess": [_r("test_overlap", OVERLAP, "fail", "RFC5722-4-2", message="expected no reply <echo>",
                     pcap="pcaps/inprocess/test_overlap.pcap", exchange=FRAMES,
                     after="conformance/ipv6/test_x.py::test_before", dut_state="2001:db8:2::/64 dev veth0 <on-link>"),
                  _r("test_overlap_tail", OVERLAP, "pass", "RFC5722-4-2"),
                  _r("test_atomic", ATOMIC, "pass")],
    "linux": [_r("test_overlap", OVERLAP, "deviation", "RFC5722-4-2", message="expected no reply",
                 deviation={"reason": "Linux answers the first datagram"}),
              _r("test_atomic", ATOMIC, "pass")],
}
REPO = Path(__file__).resolve().parents[2]
UNTESTED = ('untested = "no test yet"\n'
            'needs = "a check that the fragments of the DUT\'s large echo replies never overlap"\n')


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    out = []
    for dut, results in RUNS.items():
        (tmp_path / dut).mkdir()
        path = tmp_path / dut / "results.json"
        path.write_text(json.dumps({"dut": dut, "started": "s", "finished": "f", "results": results}))
        out.append(path)
    (tmp_path / "catalog").mkdir()
    requirements = REPO / "conformance" / "requirements"
    (tmp_path / "catalog" / "scopes.toml").write_text((requirements / "scopes.toml").read_text())
    # The real entries (4-3 out of scope), with 4-1 untested whatever the suite's tests cite.
    entries = re.sub(r'(id = "RFC5722-4-1"\n(?:\w+ = .*\n)*?role = .*\n)(?:(?:untested|needs) = .*\n)*',
                     lambda m: m.group(1) + UNTESTED, (requirements / "rfc5722.toml").read_text())
    (tmp_path / "catalog" / "rfc5722.toml").write_text(entries)
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


def test_summary_counts_statements_and_bars_per_dut(html: str) -> None:
    rows = _parse(html).rows
    summary = {r[0]: r[1:] for r in rows if r and r[0].startswith(("RFC", "all"))}
    assert next(r[0] for r in rows if r and r[0].startswith(("RFC ", "all"))) == "all RFCs"  # comes first
    # RFC 5722: three statements; 4-3 (counters) is out of scope; 4-2 is tested, 4-1 is not.
    assert summary["RFC 5722Handling of Overlapping IPv6 Fragments"] == [
        "3 statements · 2 in scope · 1 testedMUST 1/2 · SHOULD 0/0 · MAY 0/0",
        "0/2 pass · 1 fail · 1 untested", "0/2 pass · 1 known deviation · 1 untested"]


def test_statement_rows_show_both_duts_side_by_side(html: str) -> None:
    rows = [r for r in _parse(html).rows if len(r) == 5]
    overlap = next(r for r in rows if "RFC5722-4-2" in r[2])
    assert overlap[:2] == ["4", "MUST"] and overlap[3:] == ["fail", "deviation"]
    assert "test_overlap" in overlap[2] and "test_overlap_tail" in overlap[2]
    atomic = next(r for r in rows if r[2].startswith("A received atomic fragment"))
    assert atomic[3:] == ["pass", "pass"]
    assert "Behaviours cited without a keyword statement (outside the count)" in html


def test_untested_statements_in_scope_are_listed_with_reason_and_needs(html: str) -> None:
    rows = _parse(html).rows
    untested = next(r for r in rows if r and r[0] == "RFC5722-4-1")
    assert untested[1] == "MUST NOT" and untested[2].startswith("IPv6 nodes transmitting datagrams")
    assert "a test needs: a check that the fragments of the DUT's large echo replies never overlap" in untested[3]
    assert "Out of scope (1)" in html


def test_failure_detail_has_message_frames_and_pcap_link(html: str) -> None:
    assert "expected no reply &lt;echo&gt;" in html
    assert "hlim = 64 &lt;x&gt;" in html and "sent to the DUT" in html and "received from the DUT" in html
    assert '<a href="../inprocess/pcaps/inprocess/test_overlap.pcap">pcap</a>' in html
    assert "Linux answers the first datagram" in html


def test_failure_detail_names_the_test_before_it_and_the_dut_state(html: str) -> None:
    assert "ran after <code>conformance/ipv6/test_x.py::test_before</code>" in html
    assert "2001:db8:2::/64 dev veth0 &lt;on-link&gt;" in html


def test_cli_report_writes_html_markdown_and_json(paths: list[Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "combined"
    assert main(["report", *map(str, paths), "--out", str(out), "--catalog", str(tmp_path / "catalog")]) == 0
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "report.json"}
    markdown = (out / "report.md").read_text()
    assert "| RFC 5722 | 3 | 2 | 1 | 1/2 | 0/0 | 0/0 |" in markdown
    assert "- `RFC5722-4-1` MUST NOT: IPv6 nodes transmitting datagrams" in markdown
    coverage = json.loads((out / "report.json").read_text())["coverage"]
    assert coverage["rfcs"]["5722"] == {"statements": 3, "in_scope": 2, "tested": 1, "by_level": {
        "MUST": {"in_scope": 2, "tested": 1}, "SHOULD": {"in_scope": 0, "tested": 0},
        "MAY": {"in_scope": 0, "tested": 0}}}
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

