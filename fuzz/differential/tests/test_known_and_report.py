"""The known-differences file, the report and the conformance test skeletons."""

from __future__ import annotations

import json
import py_compile
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from fuzz.differential import known as known_file
from fuzz.differential import report
from fuzz.differential.campaign import Result
from fuzz.differential.cluster import Cluster, Clusters
from fuzz.differential.liveness import LivenessFailure
from fuzz.differential.stimulus import Stimulus

SUITE = Path(__file__).resolve().parents[3] / "conformance"
GOOD = '''
[[difference]]
id = "icmp-error-tos"
match = '^IPv4 \\\\| ICMP error: tos inprocess=0x00 linux=0x[cd][0-9a-f]$'
triage = "linux-deviation"
rfc = 'RFC 1122 3.2.2: "An ICMP error message SHOULD be sent with normal (i.e., zero) TOS bits."'
observed = "Linux sends ICMP errors with TOS 0xc0"
test = "ipv4/test_rfc1122_icmp_errors.py::test_error_is_sent_with_zero_tos"
'''


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_loads() -> None:
    assert all(k.rfc.startswith("RFC ") for k in known_file.load(known_file.DEFAULT, SUITE))


def test_an_entry_explains_the_signatures_it_matches(tmp_path: Path) -> None:
    (entry,) = known_file.load(_write(tmp_path, GOOD), SUITE)
    assert known_file.triage("IPv4 | ICMP error: tos inprocess=0x00 linux=0xd8", [], [entry]) is entry
    assert known_file.triage("IPv4 | ICMP error: ttl inprocess=64 linux=255", [], [entry]) is None


def test_an_entry_can_ask_for_the_shape_of_the_stimulus_too(tmp_path: Path) -> None:
    text = GOOD.replace("triage = ", "shape = 'options\\(ssrr'\ntriage = ")
    (entry,) = known_file.load(_write(tmp_path, text), SUITE)
    signature = "IPv4 | ICMP error: tos inprocess=0x00 linux=0xc0"
    assert known_file.triage(signature, ["ipv4 options(ssrr,ssrr) icmp/9 to=DUT4"], [entry]) is entry
    assert known_file.triage(signature, ["ipv4 udp to=DUT4"], [entry]) is None


@pytest.mark.parametrize(("change", "message"), [
    (("triage = \"linux-deviation\"", "triage = \"maybe\""), "is not one of allowed, linux-deviation"),
    (("test = \"ipv4/test_rfc1122_icmp_errors.py::test_error_is_sent_with_zero_tos\"",
      "test = \"ipv4/test_rfc1122_icmp_errors.py::test_nothing\""), "is not listed in"),
    (("rfc = 'RFC 1122 3.2.2: ", "rfc = 'see RFC 1122: "), "rfc must quote the RFC"),
    (("match = '^IPv4", "match = '(IPv4"), "is not a regular expression"),
    (("observed = ", "seen = "), "missing ['observed']"),
], ids=["triage", "test", "rfc", "regex", "key"])
def test_a_bad_entry_is_one_readable_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        known_file.load(_write(tmp_path, GOOD.replace(*change)), SUITE)
    assert message in str(info.value) and "\n" not in str(info.value)


def _result() -> Result:
    request = bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
                    / IP(src="198.51.100.2", dst="198.51.100.255") / ICMP(id=1, seq=1))
    reply = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                  / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP(type=0, id=1, seq=1))
    cluster = Cluster("ipv4 => IPv4 | ICMP echo-reply/0 src=DUT4 | from linux, not inprocess", count=3,
                      first=Stimulus("ipv4", (request,)))
    cluster.shrunk = cluster.first
    cluster.shrunk_answers = {"inprocess": [], "linux": ["IPv4 | ICMP echo-reply/0 src=DUT4"]}
    cluster.shrunk_frames = {"inprocess": [], "linux": [reply]}
    clusters = Clusters()
    clusters.by_signature[cluster.signature] = cluster
    failure = LivenessFailure("linux", "linux#0", ["no answer to an ICMP echo request"], [Stimulus("ipv4", (request,))],
                              Stimulus("ipv4", (request,)), "the DUT failed right after this stimulus")
    return Result(["inprocess", "linux"], stimuli=100, differing=3, duration_s=10.0, generating_s=5.0,
                  clusters=clusters, liveness=[failure])


def test_the_report_has_every_part(tmp_path: Path) -> None:
    result = _result()
    document = report.write(result, tmp_path)
    summary = report.summary(result)
    assert {"duts", "stimuli", "duration_s", "clusters", "liveness_failures"} <= set(summary)
    assert summary["clusters"][0] == {"signature": result.clusters.by_signature.popitem()[1].signature,
                                      "count": 3, "triage": "new", "known": None}
    assert summary["liveness_failures"] == 1
    assert json.loads((tmp_path / "report.json").read_text())["stimuli"] == document["stimuli"] == 100
    html = (tmp_path / "report.html").read_text()
    assert "from linux, not inprocess" in html and "linux#0" in html
    for dut in ("inprocess", "linux"):
        assert (tmp_path / "pcaps" / f"cluster-001-{dut}.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"


def test_the_skeleton_is_a_conformance_test_with_a_positive_control(tmp_path: Path) -> None:
    report.write(_result(), tmp_path)
    path = tmp_path / "skeletons" / "test_difference_001.py"
    py_compile.compile(str(path), doraise=True)
    code = path.read_text()
    assert "@rfc(" in code and "dut.send(*stimulus)" in code
    assert "dut.expect_none(ICMP, within=" in code and "dut.expect(ICMP(type=0" in code  # each DUT's behaviour
    assert "Positive control" in code and "198.51.100.255" in code  # the stimulus as Scapy fields
