"""Per-test pcap of every frame that crossed the DUT boundary, written with stdlib struct.

The backend records each frame it puts on the wire (``to_dut``) and each frame the DUT
emitted (``from_dut``). Frames are kept in memory and written by ``stop(keep=True)`` as a
classic pcap (LINKTYPE_ETHERNET), so a passing test whose pcap is not kept costs no file I/O.
Classic pcap has no direction field: the direction of each frame is kept in ``records``
and its MAC addresses show it in Wireshark.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Direction = Literal["to_dut", "from_dut"]

PCAP_MAGIC_US: Final = 0xA1B2C3D4
LINKTYPE_ETHERNET: Final = 1
SNAPLEN: Final = 262144


@dataclass(frozen=True)
class Record:
    frame: bytes
    direction: Direction
    ts: float  # backend time in seconds (virtual or monotonic)


class Capture:
    """Collect frames between ``start(path)`` and ``stop(keep)``; ``record`` is a no-op when idle."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.records: list[Record] = []
        self._wall_start = 0.0

    @property
    def active(self) -> bool:
        return self.path is not None

    def start(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records = []
        self._wall_start = time.time()

    def record(self, frame: bytes, direction: Direction, ts: float) -> None:
        if self.path is not None:
            self.records.append(Record(bytes(frame), direction, ts))

    def stop(self, keep: bool) -> Path | None:
        """Finish the capture; write the pcap if ``keep`` and return its path, else None."""
        path, self.path = self.path, None
        if path is None or not keep:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_pcap())
        return path

    def to_pcap(self) -> bytes:
        # Backend time may be virtual (starting near 0) or monotonic: anchor the first frame at
        # the wall-clock time the capture started and keep the backend's spacing after it.
        # Frames from the DUT carry the time they arrived, which can precede a frame the test
        # sent before reading them: sorting (stably) puts the file in the order of the link.
        records = sorted(self.records, key=lambda rec: rec.ts)
        base = records[0].ts if records else 0.0
        out = [struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)]
        for rec in records:
            ts = self._wall_start + max(0.0, rec.ts - base)
            sec = int(ts)
            usec = min(999_999, round((ts - sec) * 1_000_000))
            data = rec.frame[:SNAPLEN]
            out.append(struct.pack("<IIII", sec, usec, len(data), len(rec.frame)))
            out.append(data)
        return b"".join(out)
