"""Expectation entries conditioned on the DUT's identity or settings, and the DUT identity in
results.json: an entry applies only where its ``when`` holds, and one that does not apply is
reported with the reason, never silently ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import backends
from harness.conditions import Condition
from harness.tests.test_plugin import CONFTEST, TESTS, _expect, _results, _run

pytest_plugins = ("pytester",)

SYSCTL_FAKE = CONFTEST + '''
class SysctlDUT(FakeDUT):
    def read_sysctl(self, name):
        return {"net.ipv4.conf.all.rp_filter": "0"}.get(name)

register(Backend("fake-build", "a fake DUT with an identity", lambda o: SysctlDUT(o.capture),
                 lambda config: None, identity=lambda config: {"kernel": "6.18.44-test", "firmware": "2.1"}))
'''

ENTRY = '''
[[deviation]]
test = "ipv4/test_rfc792_icmp.py::test_port_unreachable_is_sent"
rfc = "RFC 792: a port unreachable is sent"
observed = "the fake DUT stays silent"
[deviation.when]
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    pytester.makeconftest(SYSCTL_FAKE)
    (pytester.path / "conformance" / "ipv4").mkdir(parents=True)
    (pytester.path / "conformance" / "expectations").mkdir()
    (pytester.path / "conformance" / "ipv4" / "test_rfc792_icmp.py").write_text(TESTS)
    yield pytester
    for name in ("fake", "fake-shared", "fake-absent", "fake-build"):
        backends.unregister(name)


def _expect_build(pytester: pytest.Pytester, when: str) -> None:
    text = ENTRY + when + "\n"
    (pytester.path / "conformance" / "expectations" / "fake-build.toml").write_text(text)


@pytest.mark.parametrize("when", ['kernel = ">=6.1, <7"', 'build = { firmware = "2.1" }',
                                  'sysctl = { "net.ipv4.conf.all.rp_filter" = "0" }'],
                         ids=["kernel", "build", "sysctl"])
def test_entry_whose_condition_holds_applies(suite: pytest.Pytester, when: str) -> None:
    _expect_build(suite, when)
    result = _run(suite, "--dut", "fake-build", "--results", "results.json")
    result.assert_outcomes(passed=1, xfailed=1)
    data = _results(suite)
    assert data["test_port_unreachable_is_sent"]["verdict"] == "deviation"
    (entry,) = data[""]["expectations"]
    assert entry["status"] == "applied" and entry["applied"] == 1 and entry["why_not"] == []
    assert data[""]["identity"]["kernel"] == "6.18.44-test" and data[""]["identity"]["firmware"] == "2.1"
    assert data[""]["identity"]["stackcheck"] and data[""]["identity"]["commit"]


@pytest.mark.parametrize(("when", "why"), [
    ('kernel = "<6.10"', "kernel 6.18.44-test is outside <6.10"),
    ('build = { firmware = "2.0" }', "firmware is 2.1, not 2.0"),
    ('sysctl = { "net.ipv4.conf.all.rp_filter" = "1" }', "net.ipv4.conf.all.rp_filter is 0, not 1"),
], ids=["kernel", "build", "sysctl"])
def test_entry_whose_condition_fails_is_reported_and_the_test_runs_as_usual(
        suite: pytest.Pytester, when: str, why: str) -> None:
    _expect_build(suite, when)
    result = _run(suite, "--dut", "fake-build", "--results", "results.json")
    result.assert_outcomes(passed=1, failed=1)  # the test fails as an ordinary test would
    data = _results(suite)
    assert data["test_port_unreachable_is_sent"]["verdict"] == "fail"
    (entry,) = data[""]["expectations"]
    assert entry["status"] == "not applied" and entry["why_not"] == [why]
    result.stdout.fnmatch_lines([f"*not applied: {why}*test_port_unreachable_is_sent*"])


def test_backend_without_sysctls_does_not_apply_a_sysctl_condition(suite: pytest.Pytester) -> None:
    _expect(suite, ENTRY.replace("[deviation.when]\n", "[deviation.when]\nsysctl = { x = 1 }\n"))
    _run(suite, "--dut", "fake", "--results", "results.json").assert_outcomes(passed=1, failed=1)
    assert _results(suite)[""]["expectations"][0]["why_not"] == ["the DUT cannot read sysctl x"]


@pytest.mark.parametrize("raw", [{}, {"kernel": "6.1"}, {"kernel": ">= six"}, {"colour": "blue"},
                                 {"sysctl": {"a": [1]}}])
def test_malformed_condition_is_one_readable_error(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"^entry #1: "):
        Condition.parse(raw, "entry #1")


def test_kernel_ranges_compare_release_numbers_not_strings() -> None:
    cond = Condition.parse({"kernel": ">=6.9, <6.20"}, "x")
    assert cond.check({"kernel": "6.18.44-generic"}) == (True, "kernel 6.18.44-generic")
    assert not cond.check({"kernel": "6.8.0"})[0] and not cond.check({"kernel": "6.20"})[0]
    assert cond.check({}) == (False, "the DUT reports no kernel release")


def test_intermittent_entry_reports_a_pass_as_pass_and_a_failure_as_deviation(suite: pytest.Pytester) -> None:
    both = ENTRY.replace("[deviation.when]\n", "intermittent = true\n").replace(
        "test_port_unreachable_is_sent", "test_{name}")
    _expect(suite, both.format(name="port_unreachable_is_sent") + both.format(name="echo_data_is_returned"))
    result = _run(suite, "--dut", "fake", "--results", "results.json")
    result.assert_outcomes(xfailed=1, xpassed=1)
    assert result.ret == 0
    data = _results(suite)
    assert data["test_port_unreachable_is_sent"]["verdict"] == "deviation"
    assert data["test_echo_data_is_returned"]["verdict"] == "pass"
