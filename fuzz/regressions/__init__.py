"""Regression inputs the fuzzer found, one hex frame per line in ``<property>.txt`` (``#`` starts
a comment: say what broke and which fix closed it). Every property replays its file first."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def load(name: str) -> list[bytes]:
    path = _HERE / f"{name}.txt"
    if not path.exists():
        return []
    frames = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            frames.append(bytes.fromhex(text))
    return frames
