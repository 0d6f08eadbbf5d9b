"""The on-disk cache of extracted RFC statements gives what extraction gives, and never fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.rfcs import statement_cache
from reports.rfcs.index import StatementIndex
from reports.rfcs.statements import extract

REPO = Path(__file__).resolve().parents[2]


def _extracted(number: int) -> list[object]:
    index = StatementIndex.of(REPO / "conformance")
    return list(extract(index.library.text(number), index.policy))


def test_a_cached_rfc_reads_back_the_statements_extraction_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKCHECK_CACHE", str(tmp_path))
    first = StatementIndex.of(REPO / "conformance").of_rfc(4861)
    stored = list((tmp_path / "statements").glob("rfc4861-*.json"))
    assert len(stored) == 1
    again = StatementIndex.of(REPO / "conformance").of_rfc(4861)
    assert first == again == _extracted(4861)


def test_a_damaged_entry_is_extracted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKCHECK_CACHE", str(tmp_path))
    StatementIndex.of(REPO / "conformance").of_rfc(768)
    (entry,) = (tmp_path / "statements").glob("rfc768-*.json")
    entry.write_text('[{"rfc": 768}]')
    assert StatementIndex.of(REPO / "conformance").of_rfc(768) == _extracted(768)


def test_an_unwritable_cache_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("STACKCHECK_CACHE", str(blocked))
    assert StatementIndex.of(REPO / "conformance").of_rfc(768) == _extracted(768)


def test_the_key_changes_with_the_text() -> None:
    policy = StatementIndex.of(REPO / "conformance").policy
    assert statement_cache.key(768, b"a", policy) != statement_cache.key(768, b"b", policy)
