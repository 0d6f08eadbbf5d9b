"""`stackcheck catalog convert`: @rfc(number, section, level, text) rewritten to statement ids."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.citation_convert import Converter, apply
from reports.rfcs.index import StatementIndex

REPO = Path(__file__).resolve().parents[2]
INDEX = StatementIndex.of(REPO / "conformance")

BEFORE = '''from harness import MUST, SHOULD, rfc

LEAD = ("A node MUST silently discard any received Neighbor Solicitation messages that do not "
        "satisfy all of the following validity checks:")
CASES = {"a": "ICMP Code is 0."}


@rfc(4443, "4.2", MUST,
     "The data received in the ICMPv6 Echo Request message MUST be returned entirely and unmodified "
     "in the ICMPv6 Echo Reply message.")
def test_statement() -> None: ...


@rfc(4861, "7.1.1", MUST, LEAD + " ... ICMP Code is 0.")
def test_list_item() -> None: ...


@rfc(4191, "2.3", MUST, "The length of time in seconds (relative to the time the packet is sent) that "
     "the prefix is valid for route determination.")
def test_described() -> None: ...


@rfc(8201, "4", MUST, "If a node receives a Packet Too Big message reporting a next-hop MTU that is "
     "less than the IPv6 minimum link MTU, it must discard it. A node must not reduce its estimate of "
     "the Path MTU below the IPv6 minimum link MTU on receipt of a Packet Too Big message.")
def test_two_statements() -> None: ...


@rfc(4861, "7.1.1", SHOULD, "not in the RFC at all")
def test_unfound() -> None: ...


def marks(c: str) -> object:
    return rfc(4861, "7.1.1", MUST, f"{LEAD} ... {CASES[c]}")
'''


def test_conversion_maps_quotes_to_statements_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(BEFORE)
    converter = Converter(INDEX)
    changes = converter.plan(tmp_path)
    by_line = {c.line: c for c in changes}
    assert len(changes) == 6
    manual = sorted(c.note for c in changes if c.new is None)
    assert manual[0].startswith("quote not found in RFC 4861 §7.1.1") and manual[1] == "the quote is built at run time"
    apply(changes)
    after = path.read_text()
    ast.parse(after)
    assert '@rfc("RFC4443-4.2-6")\ndef test_statement' in after
    assert '@rfc("RFC4861-7.1.1-1", quote="ICMP Code is 0.")\ndef test_list_item' in after
    assert ('@described(4191, "2.3", MUST,\n           "The length of time in seconds (relative to the time the '
            'packet is sent) that the prefix is valid "\n           "for route determination.")') in after
    assert '@rfc("RFC8201-4-2", "RFC8201-4-3")\ndef test_two_statements' in after
    assert 'from harness import MUST, SHOULD, described, rfc' in after
    assert by_line[23].note == "spans RFC8201-4-2, RFC8201-4-3"
    # Running it again changes nothing but the two it cannot convert.
    again = converter.plan(tmp_path)
    assert [c.new for c in again] == [None, None]
    apply(again)
    assert path.read_text() == after


def test_a_quote_in_a_statement_the_catalog_calls_descriptive_becomes_a_described_behaviour(tmp_path: Path) -> None:
    (tmp_path / "test_y.py").write_text(
        'from harness import MUST, rfc\n\n\n@rfc(792, "Parameter Problem Message", MUST, "The pointer identifies '
        "the octet of the original datagram's header where the error was detected (it may be in the middle "
        'of an option).")\ndef test_pointer() -> None: ...\n')
    [change] = Converter(INDEX, frozenset({"RFC792-ParameterProblemMessage-5"})).plan(tmp_path)
    assert change.new is not None and change.new.startswith('described(792, "Parameter Problem Message", MUST,')
    assert change.note == "RFC792-ParameterProblemMessage-5 is descriptive, not a requirement"
