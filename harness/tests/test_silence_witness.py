"""Every silence needs a witness (harness/witness.py): the plugin fails a conformance test
that proved silence without one positive observation, unless it is marked silence_ok(reason).

Driven through pytester against the in-process DUT, so the rule is checked on a real stack."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

TESTS = '''
import pytest
from scapy.layers.inet import ICMP
from harness.rfc import MUST, rfc

REQ = (792, "Echo or Echo Reply Message", MUST, "echo replies")

def ping(dut, ttl=64, seq=1):
    dut.send(dut.ipv4(ttl=ttl) / ICMP(type=8, id=7, seq=seq))

@rfc(*REQ)
def test_silence_alone(dut):
    dut.send(dut.ipv4(ihl=4) / ICMP(type=8, id=7, seq=1))   # malformed header: dropped
    dut.expect_none(ICMP(type=0), within=1.0)

@rfc(*REQ)
def test_silence_beside_a_positive_control(dut):
    dut.send(dut.ipv4(ihl=4) / ICMP(type=8, id=7, seq=1))
    dut.expect_none(ICMP(type=0), within=1.0)
    ping(dut, seq=2)
    dut.expect(ICMP(type=0, seq=2))

@rfc(*REQ)
def test_control_first_then_silence(dut):
    ping(dut, seq=2)
    dut.expect(ICMP(type=0, seq=2))
    dut.send(dut.ipv4(ihl=4) / ICMP(type=8, id=7, seq=3))
    dut.expect_none(ICMP(type=0, seq=3), within=1.0)

@rfc(*REQ)
def test_udp_recv_nothing_is_a_silence_too(dut):
    dut.udp_bind(5000)
    assert dut.udp_recv(5000, within=0.5) is None

@rfc(*REQ)
@pytest.mark.silence_ok("the requirement is only that nothing is sent")
def test_reasoned_opt_out(dut):
    dut.expect_none(ICMP(type=0), within=1.0)

@rfc(*REQ)
@pytest.mark.silence_ok("")
def test_opt_out_without_reason(dut):
    ping(dut)
    dut.expect(ICMP(type=0))

@rfc(*REQ)
def test_no_silence_claimed(dut):
    ping(dut)
    dut.expect(ICMP(type=0))
'''


def _outcomes(pytester: pytest.Pytester) -> tuple[dict[str, str], str]:
    (pytester.path / "conformance" / "ipv4").mkdir(parents=True)
    (pytester.path / "conformance" / "ipv4" / "test_rfc792_witness.py").write_text(TESTS)
    result = pytester.runpytest("-p", "no:hypothesispytest", "--dut", "inprocess", "-rA")
    found = {}
    for line in result.outlines:
        for verdict in ("PASSED", "FAILED"):
            if line.startswith(verdict + " "):
                found[line.split("::")[1].split(" ")[0]] = verdict
    return found, "\n".join(result.outlines)


def test_silence_without_a_witness_fails_and_a_control_or_a_reasoned_opt_out_passes(
        pytester: pytest.Pytester) -> None:
    outcomes, output = _outcomes(pytester)
    assert outcomes == {
        "test_silence_alone": "FAILED",
        "test_silence_beside_a_positive_control": "PASSED",
        "test_control_first_then_silence": "PASSED",
        "test_udp_recv_nothing_is_a_silence_too": "FAILED",
        "test_reasoned_opt_out": "PASSED",
        "test_opt_out_without_reason": "FAILED",
        "test_no_silence_claimed": "PASSED",
    }
    assert output.count("silence without a witness") >= 2
    assert "silence_ok needs a reason" in output
