"""What the plugin stores for the reports: a failing test's dissected exchange, the catalog id,
and (with allure-pytest and --alluredir) Allure labels and attachments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.model import ResultRecord

pytest_plugins = ("pytester",)

TEST = '''
from scapy.layers.inet import ICMP, IP
from harness import DUT, MUST, SHOULD, rfc

@rfc(792, "Echo or Echo Reply Message", MUST, "the identifier is returned", req="RFC792-EchoOrEchoReplyMessage-z")
def test_wrong_identifier(dut: DUT) -> None:
    dut.send(dut.ipv4() / ICMP(type=8, id=7, seq=1) / b"hello")
    dut.expect(IP() / ICMP(type=0, id=8), within=1.0)

@rfc(792, "Echo or Echo Reply Message", SHOULD, "echo is answered")
def test_echo(dut: DUT) -> None:
    dut.send(dut.ipv4() / ICMP(type=8, id=7, seq=1) / b"hello")
    dut.expect(IP() / ICMP(type=0, id=7), within=1.0)
'''


def _run(pytester: pytest.Pytester, *extra: str) -> dict[str, ResultRecord]:
    suite = pytester.mkdir("conformance")
    (suite / "test_echo_ids.py").write_text(TEST)
    # In a process of its own: an in-process inner run would import the stack's IPv6 layer and
    # pytester would drop those modules afterwards, leaving this worker two copies of them.
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dut", "inprocess", "--pcap-dir", "out/pcaps",
                                  "--results", "out/results.json", *extra, "conformance")
    results: list[ResultRecord] = json.loads((pytester.path / "out" / "results.json").read_text())["results"]
    return {r["test"]: r for r in results}


def test_a_failing_expect_stores_the_dissected_exchange(pytester: pytest.Pytester) -> None:
    records = _run(pytester)
    failed, passed = records["test_wrong_identifier"], records["test_echo"]
    assert failed["verdict"] == "fail" and failed["req"] == "RFC792-EchoOrEchoReplyMessage-z"
    assert "ICMP.id: expected 0x8, got 0x7" in failed["message"]
    directions = [f["direction"] for f in failed["exchange"]]
    assert directions == ["to_dut", "from_dut"]
    assert "echo-reply" in failed["exchange"][1]["summary"]
    assert "###[ ICMP ]###" in failed["exchange"][1]["dissection"]
    pcap = failed["pcap"]
    assert pcap is not None and (pytester.path / "out" / pcap).is_file()
    assert passed["verdict"] == "pass" and passed["exchange"] == [] and passed["req"] is None


def test_allure_results_carry_rfc_labels_and_attachments(pytester: pytest.Pytester) -> None:
    _run(pytester, "--alluredir", "allure")
    results = [json.loads(p.read_text()) for p in Path(pytester.path / "allure").glob("*-result.json")]
    by_name = {r["name"]: r for r in results}
    labels = {label["name"]: label["value"] for label in by_name["test_wrong_identifier"]["labels"]}
    assert labels["epic"] == "RFC 792"
    assert labels["feature"] == "RFC 792 §Echo or Echo Reply Message"
    assert labels["story"] == "the identifier is returned"
    assert labels["severity"] == "critical" and labels["requirement"] == "RFC792-EchoOrEchoReplyMessage-z"
    assert {lb["name"]: lb["value"] for lb in by_name["test_echo"]["labels"]}["severity"] == "normal"
    containers = [json.loads(p.read_text()) for p in Path(pytester.path / "allure").glob("*-container.json")]
    attached = [a["name"] for r in [*results, *containers] for part in [*r.get("afters", []), r]
                for a in part.get("attachments", [])]
    assert "frames.pcap" in attached and "exchange (dissected)" in attached
