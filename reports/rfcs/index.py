"""Every normative statement of the carried RFCs, by id, extracted on first use per RFC.

    index = StatementIndex.of(Path("conformance"))   # conformance/rfc + requirements/extraction.toml
    index.get("RFC4861-7.1.1-1")                      # the Statement, or StatementUnknown
    index.of_rfc(4861)                                # all of RFC 4861's, in text order
"""

from __future__ import annotations

from pathlib import Path

from reports.rfcs import statement_cache
from reports.rfcs.library import Library
from reports.rfcs.policy import Policy, load
from reports.rfcs.statements import ID, Statement, extract, slug


class StatementUnknown(LookupError):
    """An id that names no extracted statement; the message says what the section does have."""


class StatementIndex:
    def __init__(self, library: Library, policy: Policy) -> None:
        self.library, self.policy = library, policy
        self._by_rfc: dict[int, list[Statement]] = {}
        self._by_id: dict[str, Statement] = {}

    @classmethod
    def of(cls, suite: Path) -> StatementIndex:
        """The index of a conformance suite directory (its rfc/ texts and extraction policy)."""
        return cls(Library(suite / "rfc"), load(suite / "requirements" / "extraction.toml"))

    def of_rfc(self, number: int) -> list[Statement]:
        if number not in self._by_rfc:
            found = statement_cache.cached(number, self.library.path(number), self.policy,
                                           lambda: extract(self.library.text(number), self.policy))
            self._by_rfc[number] = found
            self._by_id.update((s.id, s) for s in found)
        return self._by_rfc[number]

    def numbers(self) -> list[int]:
        return self.library.numbers()

    def all(self) -> list[Statement]:
        return [s for n in self.numbers() for s in self.of_rfc(n)]

    def get(self, req_id: str) -> Statement:
        m = ID.match(req_id)
        if m is None:
            raise StatementUnknown(f"{req_id!r} is not a statement id like 'RFC4861-7.1.1-3'")
        number = int(m.group("rfc"))
        if number not in self._by_rfc and not self.library.path(number).is_file():
            raise StatementUnknown(f"{req_id}: RFC {number} is not carried in {self.library.directory}")
        statements = self.of_rfc(number)
        if req_id in self._by_id:
            return self._by_id[req_id]
        section = m.group("section")
        count = sum(1 for s in statements if slug(s.section) == section)
        has = f"§{section} has {count} statement(s)" if count else f"§{section} has no statements"
        raise StatementUnknown(f"{req_id} names no statement of RFC {number}: {has}")
