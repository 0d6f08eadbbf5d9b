"""Normative statements extracted from the RFC texts: counts checked against grep, stable ids,
and the decisions of conformance/requirements/extraction.toml applied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.rfcs.library import Library
from reports.rfcs.policy import PolicyError, load
from reports.rfcs.statements import Statement, extract, sentences

REPO = Path(__file__).resolve().parents[2]
LIBRARY = Library(REPO / "conformance" / "rfc")
POLICY = load(REPO / "conformance" / "requirements" / "extraction.toml")
UPPER_GREP = re.compile(r"\b(MUST|SHALL|SHOULD|MAY|REQUIRED|RECOMMENDED|OPTIONAL)\b")
LOWER_GREP = re.compile(r"\b(must|shall|should|may)\b", re.IGNORECASE)


def _statements(number: int) -> list[Statement]:
    return extract(LIBRARY.text(number), POLICY)


def test_rfc_4443_count_matches_grep() -> None:
    # grep -oE '\b(MUST|SHALL|SHOULD|MAY|REQUIRED|RECOMMENDED|OPTIONAL)\b' rfc4443.txt | wc -l
    raw = LIBRARY.path(4443).read_text(encoding="utf-8")
    assert len(UPPER_GREP.findall(raw)) == 50
    # 10 of them are the RFC 2119 boilerplate (lines 122-123: "MUST", "MUST NOT", ... "OPTIONAL");
    # 3 are in Appendix A, the list of changes since RFC 2463 (lines 1186 and 1209);
    # of the 37 left, one sentence holds two: §3.4 "it MUST discard the packet and SHOULD
    # originate an ICMPv6 Parameter Problem message". Every other keyword has a sentence of its own.
    statements = _statements(4443)
    assert len(statements) == 50 - 10 - 3 - 1 == 36
    assert sum(len(s.keywords) for s in statements) == 37
    assert [s.keywords for s in statements if len(s.keywords) > 1] == [("MUST", "SHOULD")]


def test_rfc_792_count_matches_grep() -> None:
    # RFC 792 predates RFC 2119: grep -oiE '\b(must|shall|should|may)\b' rfc792.txt | wc -l
    raw = LIBRARY.path(792).read_text(encoding="utf-8")
    assert len(LOWER_GREP.findall(raw)) == 68
    # No boilerplate holds one. Two sentences hold two: "must be zero when sent, but receivers
    # should not use these fields" (Message Formats) and "the gateway must discard the datagram
    # and may return a destination unreachable message" (Destination Unreachable Message).
    statements = _statements(792)
    assert len(statements) == 68 - 2 == 66
    doubles = {s.id: s.keywords for s in statements if len(s.keywords) > 1}
    assert doubles == {"RFC792-MessageFormats-1": ("MUST", "SHOULD NOT"),
                       "RFC792-DestinationUnreachableMe-8": ("MUST", "MAY")}


def test_ids_are_stable_unique_and_count_within_their_section() -> None:
    first, again = _statements(4861), extract(Library(LIBRARY.directory).text(4861), POLICY)
    assert [(s.id, s.text) for s in first] == [(s.id, s.text) for s in again]
    assert len({s.id for s in first}) == len(first)
    in_711 = [s for s in first if s.section == "7.1.1"]
    assert [s.n for s in in_711] == list(range(1, len(in_711) + 1))
    assert in_711[0].id == "RFC4861-7.1.1-1"
    assert in_711[0].text.startswith("A node MUST silently discard any received Neighbor Solicitation messages")


def test_a_sentence_runs_on_through_a_list_until_its_full_stop() -> None:
    # RFC 4443 §2.2 (b): "such as - a multicast group address, ... the Source Address ... MUST ..."
    b = next(s for s in _statements(4443) if s.text.startswith("(b)"))
    assert b.text.endswith("the Source Address of the ICMPv6 packet MUST be a unicast address belonging to the node.")
    assert "- an anycast address implemented by the node, or" in b.text


def test_labels_above_a_paragraph_are_not_part_of_its_sentence() -> None:
    texts = [s.text for s in _statements(4443) if s.section == "3.2"]
    assert texts[0].startswith("A Packet Too Big MUST be sent by a router")  # not "Description A ..."


def test_upper_case_rfcs_ignore_lower_case_words_and_lower_case_rfcs_use_them() -> None:
    assert all(any(k.isupper() for k in s.keywords) for s in _statements(4861))
    assert not any("must be initialized to zero by the originator" in s.text for s in _statements(4443))
    assert any(s.text == "The Hop-by-Hop Options header, when present, must immediately follow the IPv6 header."
               for s in _statements(8200))


def test_boilerplate_summaries_and_discussion_carry_no_statements() -> None:
    statements = _statements(1122)
    sections = {s.section for s in statements}
    assert not sections & {"1.3.2", "2.5", "3.5", "4.1.5"}  # keyword definitions, summary tables
    assert not any(s.text.startswith("DISCUSSION") for s in statements)
    assert not any("are to be interpreted as described in" in s.text for n in (4861, 8504) for s in _statements(n))
    assert not any(s.section in {"Status of This Memo", "Copyright Notice"} for s in _statements(8200))


def test_sentences_do_not_end_at_abbreviations_or_enumerators() -> None:
    text = "A host MUST do X, e.g., Y. 3. The host MAY do Z (i.e., W). Next one."
    assert [text[a:b] for a, b in sentences(text)] == [
        "A host MUST do X, e.g., Y.", "3. The host MAY do Z (i.e., W).", "Next one."]


def test_every_carried_rfc_has_a_decision(tmp_path: Path) -> None:
    assert set(LIBRARY.numbers()) <= set(POLICY.rules)
    bad = tmp_path / "extraction.toml"
    bad.write_text('[boilerplate]\nwhy = "x"\ntitles = []\n[rfc.768]\nkeywords = "mixed"\nwhy = "x"\n')
    with pytest.raises(PolicyError, match="keywords must be 'upper' or 'lower'"):
        load(bad)
