from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader, rdpcap

from harness.capture import Capture


def test_kept_capture_is_a_pcap_scapy_reads_back(tmp_path: Path) -> None:
    frames = [
        bytes(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") / IP() / ICMP()),
        bytes(Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / IP() / ICMP(type=0) / (b"x" * 1400)),
    ]
    cap = Capture()
    cap.record(b"ignored: not started", "to_dut", 0.0)
    cap.start(tmp_path / "sub" / "t.pcap")
    cap.record(frames[0], "to_dut", 10.0)
    cap.record(frames[1], "from_dut", 12.25)
    path = cap.stop(keep=True)
    assert path == tmp_path / "sub" / "t.pcap"
    packets = rdpcap(str(path))
    assert [bytes(p) for p in packets] == frames
    assert isinstance(packets[0], Ether)
    assert abs(float(packets[1].time - packets[0].time) - 2.25) < 1e-6
    with PcapReader(str(path)) as reader:
        assert reader.linktype == 1  # LINKTYPE_ETHERNET


def test_capture_not_kept_writes_nothing_and_stops_recording(tmp_path: Path) -> None:
    cap = Capture()
    cap.start(tmp_path / "t.pcap")
    cap.record(b"\x00" * 60, "from_dut", 0.0)
    assert cap.stop(keep=False) is None
    assert not (tmp_path / "t.pcap").exists()
    assert not cap.active
    cap.record(b"\x00" * 60, "from_dut", 0.0)
    assert len(cap.records) == 1


def test_empty_capture_is_a_valid_pcap(tmp_path: Path) -> None:
    cap = Capture()
    cap.start(tmp_path / "e.pcap")
    path = cap.stop(keep=True)
    assert path is not None and len(rdpcap(str(path))) == 0
