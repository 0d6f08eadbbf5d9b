"""Every normative statement of an RFC: each sentence that carries a requirement keyword.

Which keywords count is decided per RFC in conformance/requirements/extraction.toml
(``reports.rfcs.policy``): the upper-case BCP 14 keywords (MUST, MUST NOT, REQUIRED, SHALL,
SHALL NOT, SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED, MAY, OPTIONAL) for an RFC that
adopts RFC 2119/8174 or capitalises its requirements, or lower-case must, must not, shall,
shall not, should, should not and may for one that does not. Boilerplate (the BCP 14
paragraph, copyright and IPR text, references, the Status of this Memo) and the sections and
labelled notes the policy skips carry no statements.

A statement is one sentence. Paragraphs run on into the next one while they end without a
full stop, colon or semicolon (a list introduced by "such as" and finished by the sentence's
verb is one sentence); a heading or a figure ends a sentence. Each statement is keyed
``RFC<number>-<section>-<n>``, n counting the statements of its (innermost) section from 1
in the order of the text, so the same RFC text always gives the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from reports.rfcs.policy import Policy
from reports.rfcs.text import Paragraph, RFCText

GROUPS: Final = {
    "MUST": ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT"),
    "SHOULD": ("SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"),
    "MAY": ("MAY", "OPTIONAL"),
}
GROUP_OF: Final = {keyword: group for group, members in GROUPS.items() for keyword in members}
# Longest first, so "MUST NOT" is one keyword and "NOT RECOMMENDED" is not "RECOMMENDED".
UPPER: Final = re.compile(r"\b(MUST(?: NOT| not)?|SHALL(?: NOT| not)?|SHOULD(?: NOT| not)?|NOT RECOMMENDED"
                          r"|RECOMMENDED|REQUIRED|MAY|OPTIONAL)\b")
# Lower case anywhere; capitalised only where it opens the sentence ("Must be copied on
# fragmentation."), not inside one ("0 = May Fragment" names a flag, "May 1992" a month).
LOWER: Final = re.compile(r"\b(must(?: not)?|shall(?: not)?|should(?: not)?|may)\b")
LOWER_OPENING: Final = re.compile(r"^\W*(Must(?: not)?|Shall(?: not)?|Should(?: not)?|May)\b(?! \d{4})")
BOILERPLATE: Final = re.compile(r"Key words for use in RFCs|are to be interpreted as described in", re.IGNORECASE)
_ABBREVIATIONS: Final = re.compile(r"\b(?:e\.g|i\.e|etc|cf|vs|Fig|Sec|No|al|Inc|approx|resp)\.$")
_END: Final = re.compile(r"[.!?][\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])")
_ENUMERATOR: Final = re.compile(r"^\(?[0-9a-zA-Z]{1,3}[.)]$")


@dataclass(frozen=True, slots=True)
class Statement:
    rfc: int
    section: str  # the innermost section's name ("7.1.1", "Echo or Echo Reply Message")
    n: int  # 1 for the section's first statement
    keywords: tuple[str, ...]  # in order, upper-case whatever the RFC's case: ("MUST", "MAY")
    text: str
    start: int  # offsets in RFCText.text
    end: int

    @property
    def id(self) -> str:
        return statement_id(self.rfc, self.section, self.n)

    @property
    def group(self) -> str:
        """MUST, SHOULD or MAY: the strongest group among the statement's keywords."""
        groups = {GROUP_OF[k] for k in self.keywords}
        return next(g for g in GROUPS if g in groups)

    @property
    def level(self) -> str:
        """The first keyword of the strongest group ("MUST NOT" in "MAY ... MUST NOT")."""
        return next(k for k in self.keywords if GROUP_OF[k] == self.group)


def slug(section: str) -> str:
    """The section part of an id: "3.2.1.3" stays, "Packet Reception" -> "PacketReception"."""
    if re.fullmatch(r"(?:[0-9]+|[A-Z])(?:\.[0-9]+)*", section):
        return section
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", section))[:24] or "x"


def statement_id(rfc: int, section: str, n: int) -> str:
    return f"RFC{rfc}-{slug(section)}-{n}"


ID: Final = re.compile(r"^RFC(?P<rfc>\d+)-(?P<section>[A-Za-z0-9.]+)-(?P<n>\d+)$")


def keywords(sentence: str, upper: bool) -> tuple[str, ...]:
    found = UPPER.findall(sentence) if upper else LOWER_OPENING.findall(sentence) + LOWER.findall(sentence)
    return tuple(" ".join(k.upper().split()) for k in found)


def _runs(rfc: RFCText, paragraphs: list[Paragraph]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of text paragraphs that read as one: a paragraph that ends
    without ``.``, ``:``, ``;``, ``!`` or ``?`` goes on in the next one. Each line of a table
    is a run of its own."""
    start: int | None = None
    end = 0
    for p in paragraphs:
        if p.kind == "table":
            if start is not None:
                yield start, end
            start = None
            yield from zip(p.lines, (*p.lines[1:], p.end), strict=True)
            continue
        if p.kind != "text":
            if start is not None:
                yield start, end
            start = None
            continue
        if start is None:
            start = p.start
        elif not _continues(rfc.text[end - 12:end], rfc.text[p.start:p.end]):
            yield start, end
            start = p.start
        end = p.end
        if re.search(r"[.:;!?][\"')\]]*$", rfc.text[p.start:p.end]):
            yield start, end
            start = None
    if start is not None:
        yield start, end


def _continues(tail: str, following: str) -> bool:
    """Does a paragraph without a full stop go on in the next one? Only if the next reads on in
    lower case ("such as" ... "- a multicast group address,"), or this one stops at a comma or
    a conjunction; "Echo (see Section 3.2.2.6)" above "If an ICMP message ..." does not."""
    words = re.sub(r"^(?:[-o*+•]|\(?[0-9a-z]{1,3}[.)])\s+", "", following)
    return words[:1].islower() or re.search(
        r"(,|\b(?:and|or|nor|but|of|the|a|an|to|as|if|when|whether|that|which|in|on|for|by|with|from|than|is|are|be))\s*$",
        tail) is not None


def sentences(text: str, base: int = 0) -> Iterator[tuple[int, int]]:
    """Offsets of the sentences of one run of text."""
    begin = 0
    for m in _END.finditer(text):
        head = text[begin:m.start() + 1].strip()
        if _ABBREVIATIONS.search(text[max(begin, m.start() - 8):m.start() + 1]) or _ENUMERATOR.match(head):
            continue
        yield base + begin, base + m.end()
        begin = m.end()
        while begin < len(text) and text[begin].isspace():
            begin += 1
    if text[begin:].strip():
        yield base + begin, base + len(text.rstrip())


def _skipped_sections(policy: Policy, rfc: RFCText) -> set[str]:
    """Names of the sections that carry no statements: skipped themselves or inside one that is."""
    skipped = [s for s in rfc.sections if policy.skips(rfc.number, s)]
    return {s.name for s in rfc.sections if any(k.contains(s) or k == s for k in skipped)}


def _labelled(paragraphs: list[Paragraph], rfc: RFCText, labels: tuple[str, ...]) -> set[int]:
    """Indexes of paragraphs inside labelled notes (RFC 1122's "DISCUSSION:"): the label's
    paragraph and the more indented ones that follow it."""
    inside: set[int] = set()
    label_indent: int | None = None
    for i, p in enumerate(paragraphs):
        first = rfc.text[p.start:p.end].split(" ", 1)[0].rstrip(":")
        if p.kind == "text" and first in labels:
            label_indent = p.indent
            inside.add(i)
        elif label_indent is not None and p.kind != "heading" and p.indent > label_indent:
            inside.add(i)
        else:
            label_indent = None
    return inside


def extract(rfc: RFCText, policy: Policy) -> list[Statement]:
    """The RFC's normative statements, in the order of the text."""
    rule = policy.rule(rfc.number)
    out: list[Statement] = []
    counts: dict[str, int] = {}
    skipped = _skipped_sections(policy, rfc)
    for section in rfc.sections:
        if section.name in skipped:
            continue
        paragraphs = [p for p in rfc.paragraphs if section.start <= p.start < section.end]
        hidden = _labelled(paragraphs, rfc, rule.skip_labels)
        kept = [p if i not in hidden and not BOILERPLATE.search(rfc.text[p.start:p.end])
                else Paragraph(p.start, p.end, p.indent, p.line, "skipped") for i, p in enumerate(paragraphs)]
        for run_start, run_end in _runs(rfc, kept):
            run = rfc.text[run_start:run_end].replace("\n", " ")
            for start, end in sentences(run, run_start):
                if start in rfc.bullets:  # the list's bullet glyph is layout, not the statement's text
                    start += 2
                sentence = rfc.text[start:end].replace("\n", " ")
                found = keywords(sentence, rule.upper)
                if not found:
                    continue
                counts[section.name] = counts.get(section.name, 0) + 1
                out.append(Statement(rfc.number, section.name, counts[section.name], found, sentence, start, end))
    return out
