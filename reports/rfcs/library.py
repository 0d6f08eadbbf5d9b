"""The RFC texts the project carries (conformance/rfc/rfcNNNN.txt), read once and kept.

    library = Library(Path("conformance/rfc"))
    library.text(4861).section_at(offset)          # the normalised text (reports.rfcs.text)
    library.finder(4861).locate("7.1.1", quote)    # a quote in a section (reports.rfcs.quotes)
    problems = verify(library, quotes)             # every quote of the suite, one line each
    cited_quotes(where, 'RFC 1122 3.2.1.3: "A host MUST ..." (note)')  # an expectation file's rfc
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reports.rfcs.quotes import Finder, describe
from reports.rfcs.text import RFCText, load


class RFCMissing(LookupError):
    """The project carries no text of this RFC; the message names the file expected."""


class Library:
    """The RFC texts of one directory, each normalised on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._finders: dict[int, Finder] = {}

    def numbers(self) -> list[int]:
        found = (re.fullmatch(r"rfc(\d+)", p.stem) for p in self.directory.glob("rfc*.txt"))
        return sorted(int(m.group(1)) for m in found if m)

    def path(self, number: int) -> Path:
        return self.directory / f"rfc{number}.txt"

    def finder(self, number: int) -> Finder:
        if number not in self._finders:
            path = self.path(number)
            if not path.is_file():
                raise RFCMissing(f"RFC {number} is not carried: no {path}")
            self._finders[number] = Finder(load(path, number))
        return self._finders[number]

    def text(self, number: int) -> RFCText:
        return self.finder(number).rfc


@dataclass(frozen=True)
class Quote:
    """A quoted requirement and who quotes it (a test, or a catalog entry)."""

    where: str
    rfc: int
    section: str
    text: str


CITED: Final = re.compile(r'RFC (?P<rfc>\d+) §?(?P<section>[^:"]+?): (?P<rest>".*)', re.S)


def cited_quotes(where: str, cited: str) -> list[Quote] | str:
    """The quotes of a requirement cited as prose, as the expectation files do:
    ``RFC <number> <section>: "<quote>"`` and, in a note after it, further quoted parts of the
    same section. Every double-quoted part is a quote; a string of another form is a problem."""
    m = CITED.fullmatch(cited.strip())
    if m is None:
        return f'{where}: {cited[:60]!r} does not read \'RFC <number> <section>: "<quote>"\''
    rfc, section = int(m.group("rfc")), m.group("section")
    return [Quote(where, rfc, section, part) for part in re.findall(r'"([^"]+)"', m.group("rest"))]


def verify(library: Library, quotes: Iterable[Quote]) -> list[str]:
    """One problem (several lines: the quote, then the nearest passage or the section it is
    really in) per quote that does not occur in its RFC in the section it names."""
    problems: list[str] = []
    seen: dict[tuple[int, str, str], str | None] = {}
    for q in quotes:
        key = (q.rfc, q.section, " ".join(q.text.split()))
        if key not in seen:
            try:
                finder = library.finder(q.rfc)
            except RFCMissing as e:
                seen[key] = str(e)
            else:
                located = finder.locate(q.section, q.text)
                seen[key] = None if located.ok else describe(located, finder.rfc)
        if seen[key] is not None:
            problems.append(f"{q.where}: {seen[key]}")
    return problems


def verify_cited(library: Library, cited: Iterable[tuple[str, str]]) -> list[str]:
    """``verify`` for requirements cited as prose (``cited_quotes``): (where, text) pairs."""
    problems: list[str] = []
    quotes: list[Quote] = []
    for where, text in cited:
        found = cited_quotes(where, text)
        if isinstance(found, str):
            problems.append(found)
        else:
            quotes += found
    return problems + verify(library, quotes)
