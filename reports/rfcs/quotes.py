"""Find a quoted requirement in its RFC, in the section a citation names.

A quote matches the normalised RFC text (``reports.rfcs.text``) exactly, except for:

- whitespace: any run of spaces and line or paragraph breaks matches any other run;
- a hyphen that ended a line in the RFC may be left out (``imple-`` / ``mentation``), and so
  may the bullet glyph of a list item (``o``, ``-``, ``*``);
- an ellipsis (``...`` or ``…``) elides text: the parts around it must occur in order, in the
  same section;
- square brackets: ``[Robustness Variable]`` is first taken literally (several RFCs use brackets
  themselves); only if the quote is not found that way is each bracketed group treated as an
  editorial insertion, which stands for elided text like an ellipsis, and the match is marked
  ``editorial`` so the check can say so. The suite uses no editorial insertions today.

A quote that is not found is answered with the nearest passage, and with the section where the
quote does occur when it occurs outside the named one.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property
from typing import Final

from reports.rfcs.text import RFCText, Section

ELLIPSIS: Final = re.compile(r"\s*(?:\.\.\.|…)\s*")
BRACKETED: Final = re.compile(r"\s*\[[^\]]*\]\s*")
_WORD: Final = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # offsets in RFCText.text
    end: int
    section: Section | None
    editorial: bool = False
    parts: tuple[tuple[int, int], ...] = ()  # each quoted part; an ellipsis elides what is between


@dataclass(frozen=True, slots=True)
class Passage:
    """The stretch of the RFC most like a quote that was not found."""

    start: int
    end: int
    section: Section | None
    likeness: float  # 0..1, difflib's ratio over words


@dataclass(frozen=True, slots=True)
class Located:
    quote: str
    section: str  # as the citation names it
    match: Match | None  # in the named section (or one of its subsections)
    elsewhere: Match | None = None  # the quote occurs, but outside the named section
    nearest: Passage | None = None
    unknown_section: bool = False

    @property
    def ok(self) -> bool:
        return self.match is not None


def canonical(quote: str) -> str:
    """A quote as the matcher reads it: typographic quotes made plain, whitespace collapsed."""
    quote = quote.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    return " ".join(quote.split())


class Flat:
    """The RFC text with every whitespace run made one space, and a map back to RFCText offsets;
    ``skip`` leaves out characters (hyphens that ended a line, bullet glyphs)."""

    def __init__(self, rfc: RFCText, skip: frozenset[int] = frozenset()) -> None:
        chars: list[str] = []
        where: list[int] = []
        space = False
        for i, ch in enumerate(rfc.text):
            if i in skip:
                continue
            if ch.isspace():
                space = True
                continue
            if space and chars:
                chars.append(" ")
                where.append(i - 1)
            space = False
            chars.append(ch)
            where.append(i)
        self.text = "".join(chars)
        self.where = where

    def to_text(self, start: int, end: int) -> tuple[int, int]:
        if not self.where:
            return 0, 0
        return self.where[min(start, len(self.where) - 1)], self.where[max(0, min(end, len(self.where)) - 1)] + 1

    def from_text(self, offset: int) -> int:
        return bisect.bisect_left(self.where, offset)


class Finder:
    """Quotes against one RFC (the flat texts and the word index are built once)."""

    def __init__(self, rfc: RFCText) -> None:
        self.rfc = rfc

    @cached_property
    def flats(self) -> tuple[Flat, Flat, Flat]:
        rfc = self.rfc
        return Flat(rfc), Flat(rfc, rfc.soft_hyphens), Flat(rfc, rfc.soft_hyphens | rfc.bullets)

    @cached_property
    def _words(self) -> tuple[list[str], list[tuple[int, int]], Counter[str]]:
        words, spans = [], []
        for m in _WORD.finditer(self.rfc.text):
            words.append(m.group().lower())
            spans.append((m.start(), m.end()))
        return words, spans, Counter(words)

    def find(self, quote: str, lo: int = 0, hi: int | None = None) -> Match | None:
        """The quote's shortest occurrence within RFCText offsets [lo, hi)."""
        hi = len(self.rfc.text) if hi is None else hi
        text = canonical(quote)
        parts = [p for p in ELLIPSIS.split(text) if p]
        found = self._find_parts(parts, lo, hi)
        if found is not None or "[" not in text:
            return found
        parts = [p for chunk in parts for p in BRACKETED.split(chunk) if p]
        found = self._find_parts(parts, lo, hi)
        return Match(found.start, found.end, found.section, True, found.parts) if found else None

    def _find_parts(self, parts: list[str], lo: int, hi: int) -> Match | None:
        if not parts:
            return None
        for flat in self.flats:
            flo, fhi = flat.from_text(lo), flat.from_text(hi)
            best: list[tuple[int, int]] | None = None
            at = flat.text.find(parts[0], flo, fhi)
            while at != -1:
                spans = [(at, at + len(parts[0]))]
                for part in parts[1:]:
                    nxt = flat.text.find(part, spans[-1][1], fhi)
                    if nxt == -1:
                        break
                    spans.append((nxt, nxt + len(part)))
                if len(spans) < len(parts):
                    break  # later starts cannot find the remaining parts either
                if best is None or spans[-1][1] - at < best[-1][1] - best[0][0]:
                    best = spans
                at = flat.text.find(parts[0], at + 1, fhi)
            if best is not None:
                mapped = tuple(flat.to_text(a, b) for a, b in best)
                start, stop = mapped[0][0], mapped[-1][1]
                return Match(start, stop, self.rfc.section_at(start), parts=mapped)
        return None

    def nearest(self, quote: str, lo: int = 0, hi: int | None = None) -> Passage | None:
        """The passage within [lo, hi) whose words are most like the quote's."""
        hi = len(self.rfc.text) if hi is None else hi
        words, spans, freq = self._words
        qwords = [w.lower() for w in _WORD.findall(canonical(ELLIPSIS.sub(" ", quote)))]
        if not qwords:
            return None
        anchors = sorted(set(qwords), key=lambda w: freq.get(w, 0) or 10**9)[:4]
        first = bisect.bisect_left(spans, (lo, -1))
        best: tuple[float, int, int] | None = None
        matcher = SequenceMatcher(autojunk=False)
        matcher.set_seq2(qwords)
        tried: set[int] = set()
        for j in range(first, len(spans)):
            if spans[j][0] >= hi:
                break
            if words[j] not in anchors:
                continue
            for k, w in enumerate(qwords):
                if w != words[j]:
                    continue
                s = max(first, j - k)
                if s in tried:
                    continue
                tried.add(s)
                e = s + len(qwords)
                while e > s + 1 and (e > len(spans) or spans[e - 1][1] > hi):
                    e -= 1
                matcher.set_seq1(words[s:e])
                ratio = matcher.ratio()
                if best is None or ratio > best[0]:
                    best = (ratio, s, e)
        if best is None:
            return None
        ratio, s, e = best
        start, end = spans[s][0], spans[e - 1][1]
        return Passage(start, end, self.rfc.section_at(start), ratio)

    def locate(self, section_name: str, quote: str) -> Located:
        """Is ``quote`` in the section named (or a subsection)? If not: where, or what is nearest."""
        section = self.rfc.find_section(section_name)
        if section is None:
            anywhere = self.find(quote)
            return Located(quote, section_name, None, anywhere,
                           None if anywhere else self.nearest(quote), unknown_section=True)
        lo, hi = self.rfc.span(section)
        match = self.find(quote, lo, hi)
        if match is not None:
            return Located(quote, section_name, match)
        elsewhere = self.find(quote)
        if elsewhere is not None:
            return Located(quote, section_name, None, elsewhere)
        inside, overall = self.nearest(quote, lo, hi), self.nearest(quote)
        near = overall if overall and (inside is None or overall.likeness > inside.likeness + 0.1) else inside
        return Located(quote, section_name, None, None, near)


def describe(located: Located, rfc: RFCText, width: int = 400) -> str:
    """Why a quote is not verified, in a few lines for the check's output."""
    head = f"RFC {rfc.number} §{located.section}"
    lines = []
    if located.unknown_section:
        lines.append(f"{head}: RFC {rfc.number} has no section {located.section!r}")
    else:
        lines.append(f"{head}: quote not found in the section: \"{_clip(located.quote, width)}\"")
    if located.elsewhere is not None:
        where = located.elsewhere.section.name if located.elsewhere.section else "the front matter"
        lines.append(f"  it is in §{where} (line {rfc.paragraph_at(located.elsewhere.start).line})")
    elif located.nearest is not None:
        p = located.nearest
        where = p.section.name if p.section else "the front matter"
        lines.append(f"  nearest passage, §{where} line {rfc.paragraph_at(p.start).line} "
                     f"({p.likeness:.0%} alike): \"{_clip(rfc.text[p.start:p.end], width)}\"")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
