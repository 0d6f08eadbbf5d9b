"""The citations of conformance tests: statement ids, described behaviours, the form before ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness import MAY, MUST, MUST_NOT, Level, Requirement, described, rfc
from harness.rfc import CitationError, requirement_of


class _Item:
    def __init__(self, fn: object) -> None:
        self.marks = getattr(fn, "pytestmark", [])

    def get_closest_marker(self, name: str) -> object:
        return next((m for m in self.marks if m.name == name), None)


def _marked(mark: pytest.MarkDecorator) -> Callable[[], None]:
    @mark
    def t() -> None: ...

    return t


def test_a_statement_id_brings_its_rfc_section_level_and_text_from_the_rfc() -> None:
    req = requirement_of(_Item(_marked(rfc("RFC4861-7.1.1-1"))))
    assert req is not None and req.id == "RFC4861-7.1.1-1"
    assert (req.rfc, req.section, req.level) == (4861, "7.1.1", MUST)
    assert req.text.startswith("A node MUST silently discard any received Neighbor Solicitation messages")
    assert req.quote is None and not req.described and req.also == ()


def test_a_quote_says_which_part_and_more_ids_say_which_statements_the_check_also_covers() -> None:
    req = requirement_of(_Item(_marked(rfc("RFC8201-4-2", "RFC8201-4-3", quote="it must discard it"))))
    assert req is not None and req.id == "RFC8201-4-2" and req.also == ("RFC8201-4-3",)
    assert req.quote == "it must discard it"
    [mark] = _marked(rfc("RFC8201-4-2", "RFC8201-4-3", quote="it must discard it")).pytestmark  # type: ignore[attr-defined]
    assert mark.kwargs == {"req": "RFC8201-4-2", "also": ("RFC8201-4-3",), "quote": "it must discard it"}


def test_a_described_behaviour_keeps_its_quote_and_level_and_is_marked() -> None:
    quote = "The length of time in seconds (relative to the time the packet is sent)"
    req = requirement_of(_Item(_marked(described(4191, "2.3", MUST, quote))))
    assert req == Requirement(4191, "2.3", MUST, quote, None, None, True)
    assert req is not None and req.described


def test_an_id_that_names_no_statement_is_a_citation_error() -> None:
    with pytest.raises(CitationError, match=r"RFC4861-7\.1\.1-99 names no statement of RFC 4861: §7\.1\.1 has \d+"):
        requirement_of(_Item(_marked(rfc("RFC4861-7.1.1-99"))))


def test_the_form_before_ids_still_reads_back() -> None:
    req = requirement_of(_Item(_marked(rfc(8200, "4.5", "MUST NOT", "x"))))
    assert req == Requirement(8200, "4.5", MUST_NOT, "x")
    assert str(req) == "RFC 8200 §4.5 MUST NOT: x"
    assert requirement_of(_Item(lambda: None)) is None


def test_level_values_are_the_bcp14_keywords_and_serialise_as_strings() -> None:
    assert [lvl.value for lvl in Level] == ["MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT", "SHOULD",
                                            "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED", "MAY", "OPTIONAL"]
    assert json.dumps({"level": MAY}) == '{"level": "MAY"}'
    assert f"{MUST_NOT}" == "MUST NOT"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: rfc("RFC4861-7.1.1-a"), ValueError),  # the old catalog ids
        (lambda: rfc("4861-7.1.1-1"), ValueError),
        (lambda: rfc("RFC4861-7.1.1-1", "not an id"), ValueError),
        (lambda: rfc("RFC4861-7.1.1-1", req="RFC4861-7.1.1-2"), TypeError),
        (lambda: rfc("RFC4861-7.1.1-1", quote=" "), TypeError),
        (lambda: rfc(0, "1", MUST, "x"), TypeError),
        (lambda: rfc(792, "", MUST, "x"), TypeError),
        (lambda: rfc(792, "1", "MUSTN'T", "x"), ValueError),
        (lambda: described(792, "1", MUST, " "), TypeError),
        (lambda: described(792, "1", "SHOULDN'T", "x"), ValueError),
    ],
)
def test_bad_citations_fail_at_decoration(call: Callable[[], Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        call()
