"""The RFC text without its page layout, and quotes checked against it, section by section."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from harness.cli import catalog as catalog_cli
from reports.rfcs.index import StatementIndex
from reports.rfcs.library import Library, cited_quotes
from reports.rfcs.quotes import Finder, describe
from reports.rfcs.text import normalise

REPO = Path(__file__).resolve().parents[2]
LIBRARY = Library(REPO / "conformance" / "rfc")

PAGED = """\
Network Working Group                                          A. Author
Request for Comments: 9999                                     Example
Category: Standards Track                                   January 2001


                          A Test Document

1.  Introduction

   The first paragraph runs to the end of the page and goes on after
   the page break in the middle of its sentence, as RFC paragraphs do



Author                      Standards Track                     [Page 1]
\f
RFC 9999                     A Test Document                January 2001


   on the next page.  A link-
   layer address is carried.  Every imple-
   mentation MUST do this.

2.  Lists

   A node MUST discard a message that fails these checks:

      - The Hop Limit is 255.

      - The Code is 0.
"""


def test_page_footers_headers_and_line_breaks_go_and_paragraphs_join_across_pages() -> None:
    rfc = normalise(PAGED, 9999)
    assert "[Page" not in rfc.text and "January 2001" not in rfc.text.split("Introduction", 1)[1]
    assert ("as RFC paragraphs do on the next page. A link-layer address is carried. "
            "Every imple-mentation MUST do this.") in rfc.text
    assert [s.name for s in rfc.sections] == ["1", "2"]
    finder = Finder(rfc)
    assert finder.locate("1", "the middle of its sentence, as RFC paragraphs do on the next page").ok
    assert finder.locate("1", "Every implementation MUST do this.").ok  # a hyphen that ended a line
    assert finder.locate("1", "A link-layer address").ok


def test_bullets_may_be_left_out_and_an_ellipsis_elides_list_items() -> None:
    finder = Finder(normalise(PAGED, 9999))
    assert finder.locate("2", "fails these checks: - The Hop Limit is 255.").ok
    assert finder.locate("2", "fails these checks: The Hop Limit is 255.").ok
    assert finder.locate("2", "A node MUST discard a message that fails these checks: ... The Code is 0.").ok
    assert not finder.locate("2", "A node MUST discard a message that fails these checks: The Code is 0.").ok
    assert finder.locate("2", "fails these checks: … The Code is 0.").ok


def test_v3_text_starts_with_a_byte_order_mark_and_has_no_pages() -> None:
    rfc = LIBRARY.text(8981)
    assert not rfc.text.startswith("\ufeff")
    assert LIBRARY.finder(8981).locate("3.4", "DESYNC_FACTOR MUST be computed").ok


@pytest.mark.parametrize(("number", "section", "quote"), [
    # Numbered headings at the left margin.
    (4861, "7.1.1", "A node MUST silently discard any received Neighbor Solicitation messages"),
    # RFC 1122 indents its headings; RFC 791 centres the top-level ones: the TOC confirms them.
    (1122, "3.2.1.3", "A host MUST silently discard an incoming datagram that is not destined for"),
    (791, "3.2", "Every internet destination must be able to receive a datagram of 576 octets"),
    # Unnumbered headings: RFC 792 at the margin above indented prose, RFC 768/826 underlined.
    (792, "Echo or Echo Reply Message", "The data received in the echo message must be returned"),
    (768, "Fields", "Source Port is an optional field"),
    (826, "Packet Reception", "the receiving Ethernet module gives the packet to the Address Resolution"),
    # Appendices.
    (4861, "A", "There are a number of complicating issues that arise when Neighbor Discovery"),
])
def test_each_quote_is_found_in_its_own_section(number: int, section: str, quote: str) -> None:
    located = LIBRARY.finder(number).locate(section, quote)
    assert located.ok, describe(located, LIBRARY.text(number))


def test_a_quote_in_another_section_says_where_it_is() -> None:
    finder = LIBRARY.finder(4861)
    located = finder.locate("7.2.3", "A node MUST silently discard any received Neighbor Solicitation messages")
    assert not located.ok and located.elsewhere is not None and located.elsewhere.section is not None
    assert located.elsewhere.section.name == "7.1.1"
    assert "it is in §7.1.1" in describe(located, finder.rfc)


def test_a_quote_changed_by_one_word_is_answered_with_the_nearest_passage() -> None:
    finder = LIBRARY.finder(768)
    original = ("Source Port is an optional field, when meaningful, it indicates the port of the "
                "sending process")
    assert finder.locate("Fields", original).ok
    located = finder.locate("Fields", original.replace("sending", "receiving"))
    assert not located.ok and located.elsewhere is None and located.nearest is not None
    message = describe(located, finder.rfc)
    assert "nearest passage, §Fields" in message and "sending process" in message


def test_square_brackets_are_the_rfcs_own_first_and_editorial_insertions_only_then() -> None:
    finder = LIBRARY.finder(3810)
    own = finder.locate("6.1", "becomes the first of [Robustness Variable] transmissions")
    assert own.ok and own.match is not None and not own.match.editorial
    inserted = finder.locate("6.1", "becomes the first of [the] [Robustness Variable] transmissions")
    assert inserted.ok and inserted.match is not None and inserted.match.editorial


def test_an_unknown_section_is_reported() -> None:
    located = LIBRARY.finder(768).locate("Checksums", "Source Port is an optional field")
    assert located.unknown_section and "has no section 'Checksums'" in describe(located, LIBRARY.text(768))


def _suite(tmp_path: Path, decorator: str) -> Path:
    suite = tmp_path / "conformance"
    suite.mkdir()
    # A module name of its own: an earlier collection in this process imported the other one.
    (suite / f"test_udp_{tmp_path.name}.py").write_text(
        f"from harness import MUST, described, rfc\n\n\n{decorator}\ndef test_udp() -> None:\n    pass\n\n\n"
        "@rfc('RFC768-UserInterface-1')\ndef test_ports() -> None:\n    pass\n")  # RFC 768's one statement in scope
    (suite / "requirements").mkdir()
    for name in ("rfc768.toml", "scopes.toml"):  # RFC 768's real entries: the check looks at them too
        (suite / "requirements" / name).write_text((REPO / "conformance" / "requirements" / name).read_text())
    return suite


PART = "A user interface should allow the creation of new receive ports"
DESCRIBED = "Length is the length in octets of this user datagram including this header and the data."


@pytest.mark.parametrize(("decorator", "problem"), [
    (f"@rfc('RFC768-UserInterface-1', quote={PART!r})", None),
    (f"@rfc('RFC768-UserInterface-1', quote={PART.replace('creation', 'deletion')!r})",
     "RFC 768 §User Interface: quote not found in the section"),
    (f"@described(768, 'Fields', MUST, {DESCRIBED!r})", None),
    (f"@described(768, 'Fields', MUST, {DESCRIBED.replace('octets', 'bits')!r})",
     "RFC 768 §Fields: quote not found in the section"),
    (f"@described(768, 'Format', MUST, {DESCRIBED!r})", "RFC 768 §Format: quote not found in the section"),
])
def test_catalog_check_fails_on_a_quote_changed_by_one_word(tmp_path: Path, decorator: str,
                                                            problem: str | None) -> None:
    suite = _suite(tmp_path, decorator)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = catalog_cli.check(suite, suite / "requirements", StatementIndex.of(REPO / "conformance"))
    assert result == (0 if problem is None else 1), out.getvalue()
    if problem is not None:
        assert f"::test_udp: {problem}" in out.getvalue()
        assert "nearest passage, §" in out.getvalue() or "it is in §Fields" in out.getvalue()


@pytest.mark.parametrize(("cited", "problem"), [
    (f'RFC 768 User Interface: \\"{PART}\\" (and \\"receive ports\\")', None),
    (f'RFC 768 User Interface: \\"{PART.replace("receive", "send")}\\"',
     "RFC 768 §User Interface: quote not found in the section"),
    (f'RFC 768 User Interface: \\"{PART}\\" (and \\"send ports\\")',
     "RFC 768 §User Interface: quote not found in the section"),
    (f"RFC 768: {PART}", "does not read 'RFC <number> <section>: \"<quote>\"'"),
])
def test_catalog_check_verifies_the_quotes_of_the_expectation_files(tmp_path: Path, cited: str,
                                                                    problem: str | None) -> None:
    suite = _suite(tmp_path, "@rfc('RFC768-UserInterface-1')")
    (suite / "expectations").mkdir()
    (suite / "expectations" / "somedut.toml").write_text(
        f'[[deviation]]\ntest = "{next(suite.glob("test_udp_*.py")).name}::test_udp"\nrfc = "{cited}"\n'
        'observed = "the DUT offers no way to create a receive port"\n')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = catalog_cli.check(suite, suite / "requirements", StatementIndex.of(REPO / "conformance"))
    assert result == (0 if problem is None else 1), out.getvalue()
    if problem is not None:
        assert "expectations/somedut.toml test_udp_" in out.getvalue() and problem in out.getvalue()


def test_cited_quotes_are_every_double_quoted_part_of_one_section() -> None:
    quotes = cited_quotes("x", 'RFC 1122 3.2.1.3: "A host MUST ..." ((c)-(f): "MUST NOT be used")')
    assert not isinstance(quotes, str)
    assert [(q.rfc, q.section, q.text) for q in quotes] == [
        (1122, "3.2.1.3", "A host MUST ..."), (1122, "3.2.1.3", "MUST NOT be used")]
