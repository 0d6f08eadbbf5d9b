"""Optional features: a test of a feature the DUT does not declare is "not implemented", never
a failure; the same test runs (and can fail) on a DUT that declares it. Driven through pytester
against fake backends, like test_plugin.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness import backends
from harness.backends.inprocess import InProcessDUT
from harness.dut import FeatureAbsent
from harness.features import become_router, has_feature, optional_feature, require_feature
from reports.load import load
from reports.model import Report
from reports.to_markdown import render

pytest_plugins = ("pytester",)

CONFTEST = '''
from harness.backends import Backend, register

class FakeDUT:
    name = "fake"

    def __init__(self, features):
        self.features = frozenset(features)
        self.forwarding = False

    def send(self, *frames):
        pass

    def set_forwarding(self, family, enabled):
        self.forwarding = enabled

    def reset(self):
        pass

    def close(self):
        pass

register(Backend("fake-host", "a DUT declaring nothing optional", lambda o: FakeDUT(()), lambda c: None))
register(Backend("fake-rr", "a DUT declaring Record Route", lambda o: FakeDUT(("ipv4-record-route",)),
                 lambda c: None, shared=True))
'''

TESTS = '''
from harness.features import optional_feature, require_feature
from harness.rfc import MUST, SHOULD, rfc

@optional_feature("ipv4-record-route")
@rfc(1122, "3.2.2.6", SHOULD, "If a Record Route ... option is received in an ICMP Echo Request ...")
def test_record_route_is_updated(dut):
    assert False, "the Echo Reply carries no Record Route option"

@rfc(791, "3.1", MUST, "the smallest legal value for the pointer is 4")
def test_timestamp_checked_mid_way(dut):
    require_feature(dut, "ipv4-timestamp")
    assert False, "unreachable on DUTs without the Timestamp option"

@rfc(1122, "3.2.1.8", MUST, "silently ignore the others")
def test_every_dut(dut):
    dut.send(b"x")
'''

ALL_OF = '''
from harness.features import optional_feature
from harness.rfc import MUST, rfc

@optional_feature("ipv4-record-route", "ipv4-timestamp")
@rfc(791, "3.1", MUST, "both")
def test_needs_both(dut):
    pass

@optional_feature("ipv4-record-route", "ipv4-timestamp", any_of=True)
@rfc(791, "3.1", MUST, "either")
def test_needs_either(dut):
    pass
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    pytester.makeconftest(CONFTEST)
    (pytester.path / "conformance" / "ipv4").mkdir(parents=True)
    (pytester.path / "conformance" / "ipv4" / "test_rfc791_options.py").write_text(TESTS)
    yield pytester
    for name in ("fake-host", "fake-rr"):
        backends.unregister(name)


def _results(pytester: pytest.Pytester, *args: str) -> dict[str, dict[str, Any]]:
    pytester.runpytest("-p", "no:hypothesispytest", "--results", "results.json", *args)
    data = json.loads((pytester.path / "results.json").read_text())
    return {r["test"]: r for r in data["results"]}


def test_feature_not_declared_is_not_implemented_never_failed(suite: pytest.Pytester) -> None:
    results = _results(suite, "--dut", "fake-host")
    rr, ts = results["test_record_route_is_updated"], results["test_timestamp_checked_mid_way"]
    assert rr["verdict"] == ts["verdict"] == "not-implemented"
    assert rr["message"].startswith("not implemented (optional): the DUT does not declare ipv4-record-route")
    assert "OPTIONAL per RFC 1122 3.2.1.8" in rr["message"]
    assert "ipv4-timestamp" in ts["message"]
    assert results["test_every_dut"]["verdict"] == "pass"


def test_feature_declared_runs_the_test_and_it_can_fail(suite: pytest.Pytester) -> None:
    results = _results(suite, "--dut", "fake-rr")
    assert results["test_record_route_is_updated"]["verdict"] == "fail"
    assert "carries no Record Route option" in results["test_record_route_is_updated"]["message"]
    assert results["test_timestamp_checked_mid_way"]["verdict"] == "not-implemented"


def test_all_of_and_any_of(suite: pytest.Pytester) -> None:
    (suite.path / "conformance" / "ipv4" / "test_rfc791_both.py").write_text(ALL_OF)
    results = _results(suite, "--dut", "fake-rr", "-k", "needs")
    assert results["test_needs_both"]["verdict"] == "not-implemented"
    assert results["test_needs_either"]["verdict"] == "pass"


def test_exit_status_and_reports_treat_not_implemented_as_no_failure(suite: pytest.Pytester) -> None:
    (suite.path / "conformance" / "ipv4" / "test_rfc791_options.py").write_text(
        TESTS.replace('assert False, "the Echo Reply', 'assert True, "the Echo Reply'))
    result = suite.runpytest("-p", "no:hypothesispytest", "--dut", "fake-host", "--results", "results.json")
    assert result.ret == 0
    run = load(suite.path / "results.json")
    report = Report.of([run])
    assert report.ok()
    markdown = render(report, suite.path)
    assert "## Not implemented (optional features)" in markdown
    assert "not implemented" in markdown.split("## Requirements")[1]


def test_profiles_of_the_built_in_duts() -> None:
    dut = InProcessDUT()
    assert has_feature(dut, "mldv2") and has_feature(dut, "ipv4-record-route")
    require_feature(dut, "igmpv3", "ipv6-jumbograms")
    become_router(dut, 6)  # our stack forwards: no FeatureAbsent
    dut.features = frozenset({"mldv1"})
    with pytest.raises(FeatureAbsent, match=r"RFC 8504 §5\.11"):
        require_feature(dut, "mldv2")
    with pytest.raises(FeatureAbsent, match=r"not implemented \(optional\).*ipv4-forwarding"):
        become_router(dut, 4)


def test_unknown_feature_names_fail_at_import() -> None:
    with pytest.raises(ValueError, match="unknown feature 'ipv4-record-rout'"):
        optional_feature("ipv4-record-rout")
    with pytest.raises(TypeError):
        optional_feature()
