"""`stackcheck` command line: bad input is one line on stderr and exit 2, before pytest starts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import backends
from harness.backends import Backend
from harness.cli import main as cli


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stackcheck: error: ")
    return lines[0]


@pytest.fixture
def absent_backend() -> Iterator[None]:
    backends.register(Backend("fake-absent", "cannot run", lambda o: None,  # type: ignore[arg-type,return-value]
                              lambda config: "needs root for network namespaces"))
    yield
    backends.unregister("fake-absent")


def test_unknown_dut(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--dut", "nonesuch"]) == 2
    assert "unknown DUT backend 'nonesuch' (known: " in _error_line(capsys)


def test_unavailable_dut_says_why(capsys: pytest.CaptureFixture[str], absent_backend: None) -> None:
    assert cli.main(["run", "--dut", "fake-absent"]) == 2
    assert _error_line(capsys) == (
        "stackcheck: error: the fake-absent DUT cannot run here: needs root for network namespaces")


def test_missing_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["run", "--dut", "interface", "--dut-config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml does not exist" in _error_line(capsys)


def test_malformed_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "dut.toml"
    bad.write_text("interface = \n")
    assert cli.main(["run", "--dut", "interface", "--dut-config", str(bad)]) == 2
    assert "is not valid TOML" in _error_line(capsys)


def test_interface_without_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--dut", "interface"]) == 2
    assert "needs --dut-config" in _error_line(capsys)


def test_bad_worker_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "-n", "many"]) == 2
    assert "-n: expected a number of workers or 'auto'" in _error_line(capsys)


def test_argparse_errors_are_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    _error_line(capsys)
    assert cli.main(["report", "x.json"]) == 2  # --out missing
    assert "--out" in _error_line(capsys)


def test_report_of_missing_results_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["report", str(tmp_path / "results.json"), "--out", str(tmp_path / "out")]) == 2
    assert "results.json does not exist" in _error_line(capsys)


def test_report_writes_markdown_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"dut": "inprocess", "results": [
        {"nodeid": "conformance/a.py::test_a", "test": "test_a", "rfc": 792, "section": "Echo",
         "level": "MUST", "requirement": "echo", "verdict": "pass"}]}))
    assert cli.main(["report", str(results), "--out", str(tmp_path / "out")]) == 0
    assert "| RFC 792 | Echo | MUST | echo | pass | `test_a` |" in (tmp_path / "out" / "report.md").read_text()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["ok"] is True
    assert "inprocess: 1 pass" in capsys.readouterr().out


def test_dut_list_names_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dut", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("inprocess", "linux", "interface"))


def test_console_entry_point_prints_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--dut", "nonesuch"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


class _FakePytest:
    """Stands in for pytest.main: records the arguments, writes results.json, returns ``code``."""

    def __init__(self, code: int, results: list[dict[str, object]] | None) -> None:
        self.code, self.results = code, results
        self.args: list[str] = []

    def __call__(self, args: list[str]) -> int:
        self.args = args
        if self.results is not None:
            path = Path(args[args.index("--results") + 1])
            path.write_text(json.dumps({"dut": "inprocess", "results": self.results}))
        return self.code


PASSED = [{"nodeid": "conformance/a.py::test_a", "test": "test_a", "rfc": 792, "section": "Echo",
           "level": "MUST", "requirement": "echo", "verdict": "pass"}]


@pytest.mark.parametrize(
    ("code", "results", "status"),
    [(0, PASSED, 0), (1, [{**PASSED[0], "verdict": "fail"}], 1), (2, None, 1)],
    ids=["pass", "fail", "no-results"],
)
def test_run_passes_options_to_pytest_and_writes_the_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: int, results: list[dict[str, object]] | None,
    status: int,
) -> None:
    fake = _FakePytest(code, results)
    monkeypatch.setattr(pytest, "main", fake)
    out = tmp_path / "report"
    assert cli.main(["run", "--report", str(out), "-n", "2", "-k", "echo", "--keep-pcaps", "--", "-x"]) == status
    args = fake.args
    assert args[0] == str(cli.conformance_dir()) and args[-1] == "-x"
    assert args[args.index("--dut") + 1] == "inprocess" and args[args.index("-n") + 1] == "2"
    assert args[args.index("--pcap-dir") + 1] == str(out.resolve() / "pcaps")
    assert "--keep-pcaps" in args and args[args.index("-k") + 1] == "echo"
    assert (out / "report.md").exists() == (results is not None)


def test_run_writes_to_out_slash_dut_by_default_never_into_the_source_tree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = _FakePytest(0, PASSED)
    monkeypatch.setattr(pytest, "main", fake)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 0
    out = (tmp_path / "out" / "inprocess").resolve()
    assert fake.args[fake.args.index("--results") + 1] == str(out / "results.json")
    assert (out / "report.html").exists()


def test_run_that_selects_nothing_is_bad_input(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pytest, "main", _FakePytest(int(pytest.ExitCode.NO_TESTS_COLLECTED), None))
    assert cli.main(["run", "--report", str(tmp_path), "-k", "nothing_like_this"]) == 2
    assert _error_line(capsys) == "stackcheck: error: no conformance test matches -k 'nothing_like_this'"
