"""The stackcheck pytest plugin, driven through pytester against a fake DUT backend.

The fake backend is registered by the inner session's conftest.py (so xdist workers see it
too); it records what the plugin asks of it in a JSON file the outer test reads back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import backends

pytest_plugins = ("pytester",)

CONFTEST = '''
import json, os
from pathlib import Path
from harness.backends import Backend, register
from harness.dut import Unsupported

LOG = Path(__file__).parent / "fake-log.jsonl"

def log(**event):
    with LOG.open("a") as f:
        f.write(json.dumps(event) + "\\n")

class FakeDUT:
    name = "fake"

    def __init__(self, capture):
        self.capture = capture
        log(event="created", pid=os.getpid())

    def send(self, *frames):
        for frame in frames:
            if self.capture is not None:
                self.capture.record(bytes(frame), "to_dut", 0.0)

    def join_group(self, group):
        raise Unsupported("the fake DUT cannot join multicast groups")

    def reset(self):
        log(event="reset")

    def describe_state(self):
        return "2001:db8:2::/64 dev fake0 proto kernel"

    def close(self):
        log(event="closed")

register(Backend("fake", "a fake DUT", lambda o: FakeDUT(o.capture), lambda config: None))
register(Backend("fake-shared", "a fake DUT kept for the session",
                 lambda o: FakeDUT(o.capture), lambda config: None, shared=True))
register(Backend("fake-absent", "a DUT that cannot run here",
                 lambda o: FakeDUT(o.capture), lambda config: "needs a fake cable plugged in"))
'''

TESTS = '''
from harness.rfc import MUST, SHOULD, rfc

@rfc(792, "Echo or Echo Reply Message", MUST, "the data received in the echo message must be returned")
def test_echo_data_is_returned(dut):
    dut.send(b"\\x02" * 60)

@rfc(792, "Destination Unreachable Message", SHOULD, "a port unreachable is sent")
def test_port_unreachable_is_sent(dut):
    dut.send(b"\\x03" * 60)
    assert False, "no port unreachable within 2.0 s"
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    pytester.makeconftest(CONFTEST)
    (pytester.path / "conformance" / "ipv4").mkdir(parents=True)
    (pytester.path / "conformance" / "expectations").mkdir()
    (pytester.path / "conformance" / "ipv4" / "test_rfc792_icmp.py").write_text(TESTS)
    yield pytester
    for name in ("fake", "fake-shared", "fake-absent"):
        backends.unregister(name)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis's own plugin costs ~1.5 s per inner session and plays no part here.
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def _results(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    data = json.loads((pytester.path / "results.json").read_text())
    return {r["test"]: r for r in data["results"]} | {"": data}


def _expect(pytester: pytest.Pytester, text: str) -> None:
    (pytester.path / "conformance" / "expectations" / "fake.toml").write_text(text)


DEVIATION = '''
[[deviation]]
test = "ipv4/test_rfc792_icmp.py::test_port_unreachable_is_sent"
rfc = "RFC 792: a port unreachable is sent"
observed = "the fake DUT stays silent"
'''


def test_a_failure_carries_the_dut_state_and_the_test_before_it(suite: pytest.Pytester) -> None:
    _run(suite, "--dut", "fake-shared", "--results", "results.json").assert_outcomes(passed=1, failed=1)
    results = _results(suite)
    passed, failed = results["test_echo_data_is_returned"], results["test_port_unreachable_is_sent"]
    assert failed["dut_state"] == "2001:db8:2::/64 dev fake0 proto kernel" and passed["dut_state"] == ""
    assert passed["worker"] == failed["worker"] == "main"
    first, second = sorted((passed, failed), key=lambda r: r["after"] is not None)
    assert first["after"] is None and second["after"] == first["nodeid"]


def test_results_json_carries_rfc_metadata_and_verdicts(suite: pytest.Pytester) -> None:
    result = _run(suite, "--dut", "fake", "--results", "results.json", "--pcap-dir", "pcaps")
    result.assert_outcomes(passed=1, failed=1)
    results = _results(suite)
    assert results[""]["dut"] == "fake"
    passed, failed = results["test_echo_data_is_returned"], results["test_port_unreachable_is_sent"]
    assert (passed["rfc"], passed["section"], passed["level"]) == (792, "Echo or Echo Reply Message", "MUST")
    assert passed["requirement"] == "the data received in the echo message must be returned"
    assert (passed["verdict"], passed["pcap"], passed["deviation"]) == ("pass", None, None)
    assert failed["verdict"] == "fail" and failed["level"] == "SHOULD"
    assert "no port unreachable within 2.0 s" in failed["message"]
    # Only the failure's pcap is kept, and it holds the one frame sent (24 + 16 + 60 bytes).
    assert failed["pcap"] == "pcaps/fake/ipv4_test_rfc792_icmp.py_test_port_unreachable_is_sent.pcap"
    assert (suite.path / failed["pcap"]).stat().st_size == 24 + 16 + 60
    assert [p.name for p in (suite.path / "pcaps" / "fake").iterdir()] == [Path(failed["pcap"]).name]
    result.stdout.fnmatch_lines(["*RFC 792: 1 pass, 1 fail*"])


def test_keep_pcaps_keeps_passing_tests_pcaps_too(suite: pytest.Pytester) -> None:
    _run(suite, "--dut", "fake", "--results", "results.json", "--pcap-dir", "pcaps", "--keep-pcaps")
    assert _results(suite)["test_echo_data_is_returned"]["pcap"] is not None
    assert len(list((suite.path / "pcaps" / "fake").iterdir())) == 2


def test_listed_deviation_is_reported_as_deviation(suite: pytest.Pytester) -> None:
    _expect(suite, DEVIATION)
    result = _run(suite, "--dut", "fake", "--results", "results.json")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == 0
    record = _results(suite)["test_port_unreachable_is_sent"]
    assert record["verdict"] == "deviation"
    assert record["deviation"]["reason"] == "the fake DUT stays silent"


def test_listed_deviation_that_passes_fails_as_unexpected_pass(suite: pytest.Pytester) -> None:
    _expect(suite, DEVIATION.replace("test_port_unreachable_is_sent", "test_echo_data_is_returned"))
    result = _run(suite, "--dut", "fake", "--results", "results.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    record = _results(suite)["test_echo_data_is_returned"]
    assert record["verdict"] == "unexpected-pass"
    assert "remove the entry" in record["message"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("[[deviation]\n", "*is not valid TOML*"),
        ('[[deviation]]\ntest = "ipv4/test_rfc792_icmp.py::test_x"\n', "*missing*observed*rfc*"),
        (DEVIATION.replace("test_port_unreachable_is_sent", "test_renamed"), "*no test 'test_renamed'*"),
        (DEVIATION.replace("ipv4/", "ipv6/"), "*test file ipv6/test_rfc792_icmp.py does not exist*"),
    ],
    ids=["toml", "keys", "no-test", "no-file"],
)
def test_bad_expectation_file_is_one_usage_error(suite: pytest.Pytester, content: str, error: str) -> None:
    _expect(suite, content)
    result = _run(suite, "--dut", "fake")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {error}"])


def test_expectation_naming_a_missing_case_fails_collection(suite: pytest.Pytester) -> None:
    _expect(suite, DEVIATION.replace("_is_sent", "_is_sent[v4]"))
    result = _run(suite, "--dut", "fake")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # fnmatch reads [v4] as a character class, hence the ?s.
    result.stdout.fnmatch_lines(["*entry 'ipv4/test_rfc792_icmp.py::test_port_unreachable_is_sent?v4?' matches no test case*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2", "-p", "xdist"]], ids=["serial", "xdist"])
def test_conformance_test_without_rfc_marker_fails_collection(suite: pytest.Pytester, workers: list[str]) -> None:
    (suite.path / "conformance" / "ipv4" / "test_uncited.py").write_text("def test_uncited(dut):\n    pass\n")
    result = _run(suite, "--dut", "fake", *workers)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*ERROR collecting conformance/ipv4/test_uncited.py*",
        "conformance/ipv4/test_uncited.py::test_uncited: no @rfc(\"RFC<n>-<section>-<n>\") or @described(...) "
        "citation;*",
    ])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_conformance_test_citing_an_unknown_statement_fails_collection(suite: pytest.Pytester) -> None:
    (suite.path / "conformance" / "ipv4" / "test_unknown.py").write_text(
        "from harness import rfc\n\n\n@rfc('RFC792-EchoOrEchoReplyMessage-99')\ndef test_unknown(dut):\n    pass\n")
    result = _run(suite, "--dut", "fake")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_unknown: RFC792-EchoOrEchoReplyMessage-99 names no statement of RFC 792*"])


def test_unsupported_action_skips_with_the_backends_reason(suite: pytest.Pytester) -> None:
    (suite.path / "conformance" / "ipv4" / "test_rfc1112_igmp.py").write_text(
        "from harness.rfc import MUST, rfc\n"
        "@rfc(1112, '4', MUST, 'hosts join groups')\n"
        "def test_join(dut):\n    dut.join_group('224.1.2.3')\n"
    )
    result = _run(suite, "--dut", "fake", "--results", "results.json", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*the fake DUT cannot join multicast groups*"])
    record = _results(suite)["test_join"]
    assert (record["verdict"], record["message"]) == ("skip", "the fake DUT cannot join multicast groups")


def test_unavailable_backend_skips_every_dut_test_with_its_reason(suite: pytest.Pytester) -> None:
    result = _run(suite, "--dut", "fake-absent", "--results", "results.json")
    result.assert_outcomes(skipped=2)
    assert {r["message"] for r in _results(suite)[""]["results"]} == {"needs a fake cable plugged in"}


def test_unknown_dut_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = _run(suite, "--dut", "nonesuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --dut: unknown DUT backend 'nonesuch' (known: *inprocess*)"])


def _log(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (pytester.path / "fake-log.jsonl").read_text().splitlines()]


def test_fresh_dut_per_test_and_closed_after_it(suite: pytest.Pytester) -> None:
    _run(suite, "--dut", "fake")
    assert [e["event"] for e in _log(suite)] == ["created", "closed"] * 2


def test_shared_backend_is_created_once_and_reset_before_each_test(suite: pytest.Pytester) -> None:
    _run(suite, "--dut", "fake-shared")
    assert [e["event"] for e in _log(suite)] == ["created", "reset", "reset", "closed"]


def test_records_from_xdist_workers_reach_results_json(suite: pytest.Pytester) -> None:
    _expect(suite, DEVIATION)
    result = _run(suite, "--dut", "fake", "--results", "results.json", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1, xfailed=1)
    results = _results(suite)
    assert results["test_port_unreachable_is_sent"]["verdict"] == "deviation"
    # The DUTs were built in the workers, yet the controller wrote both records.
    assert os.getpid() not in {e["pid"] for e in _log(suite) if e["event"] == "created"}
    result.stdout.fnmatch_lines(["*RFC 792: 1 pass, 1 deviation*"])
