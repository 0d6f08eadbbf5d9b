"""The RFC texts the project carries (conformance/rfc/rfcNNNN.txt), read once and kept.

    library = Library(Path("conformance/rfc"))
    library.text(4861).section_at(offset)          # the normalised text (reports.rfcs.text)
    library.finder(4861).locate("7.1.1", quote)    # a quote in a section (reports.rfcs.quotes)
    problems = verify(library, quotes)             # every quote of the suite, one line each
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
