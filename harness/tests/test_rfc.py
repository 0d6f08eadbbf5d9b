from __future__ import annotations

import json

import pytest

from harness import MAY, MUST, MUST_NOT, Level, Requirement, rfc
from harness.rfc import requirement_of


class _Item:
    def __init__(self, fn: object) -> None:
        self.marks = getattr(fn, "pytestmark", [])

    def get_closest_marker(self, name: str) -> object:
        return next((m for m in self.marks if m.name == name), None)


def test_rfc_applies_the_rfc_marker_with_keywords() -> None:
    @rfc(792, "Echo or Echo Reply Message", MUST, "the data received must be returned")
    def t() -> None: ...

    [mark] = t.pytestmark  # type: ignore[attr-defined]
    assert mark.name == "rfc"
    assert mark.kwargs == {
        "number": 792,
        "section": "Echo or Echo Reply Message",
        "level": Level.MUST,
        "requirement": "the data received must be returned",
    }


def test_requirement_of_reads_the_marker_back() -> None:
    @rfc(8200, "4.5", "MUST NOT", "x")
    def t() -> None: ...

    req = requirement_of(_Item(t))
    assert req == Requirement(8200, "4.5", MUST_NOT, "x")
    assert str(req) == "RFC 8200 §4.5 MUST NOT: x"
    assert requirement_of(_Item(lambda: None)) is None


def test_level_values_are_the_rfc2119_keywords_and_serialise_as_strings() -> None:
    assert [lvl.value for lvl in Level] == ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"]
    assert json.dumps({"level": MAY}) == '{"level": "MAY"}'
    assert f"{MUST_NOT}" == "MUST NOT"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((0, "1", MUST, "x"), TypeError),
        (("792", "1", MUST, "x"), TypeError),
        ((792, "", MUST, "x"), TypeError),
        ((792, "1", "MUSTN'T", "x"), ValueError),
        ((792, "1", MUST, " "), TypeError),
    ],
)
def test_bad_citations_fail_at_decoration(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        rfc(*args)  # type: ignore[arg-type]
