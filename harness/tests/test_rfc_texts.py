"""The RFC texts the project carries are the RFC Editor's, byte for byte: each file is listed in
conformance/rfc/README.md with its SHA-256, and the digest matches."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

TEXTS = Path(__file__).resolve().parents[2] / "conformance" / "rfc"
ROW = re.compile(r"^\| (\d+) \| .* \| `([0-9a-f]{64})` \|$")


def _listed() -> dict[int, str]:
    rows = (ROW.match(line) for line in (TEXTS / "README.md").read_text(encoding="utf-8").splitlines())
    return {int(m.group(1)): m.group(2) for m in rows if m}


def test_every_carried_text_is_listed_with_its_digest() -> None:
    files = {int(p.stem.removeprefix("rfc")) for p in TEXTS.glob("rfc*.txt")}
    assert files == set(_listed()), "conformance/rfc/README.md and the rfc*.txt files disagree"


def test_every_digest_matches_the_file() -> None:
    wrong = [n for n, digest in _listed().items()
             if hashlib.sha256((TEXTS / f"rfc{n}.txt").read_bytes()).hexdigest() != digest]
    assert wrong == [], f"RFC texts changed since they were copied: {wrong}"


def test_the_texts_the_suite_needs_are_there() -> None:
    # The suite's RFCs plus 3168 and 6564, which it covers next.
    assert {768, 791, 792, 826, 1122, 4861, 8200, 9777, 3168, 6564} <= set(_listed())
