"""The requirement catalog: conformance/requirements/rfc<N>.toml, one file per RFC.

Each file::

    rfc = 1122
    title = "Requirements for Internet Hosts -- Communication Layers"

    [[requirement]]
    id = "RFC1122-3.2.1.3-a"           # RFC<n>-<section>-<letter>
    section = "3.2.1.3"
    level = "MUST"                     # MUST, MUST NOT, SHOULD, SHOULD NOT, MAY
    role = "host"                      # host, router, both
    text = "a datagram with a broadcast source address is silently discarded"
    tests = ["ipv4/test_rfc1122_ipv4_header.py::test_source_broadcast_is_dropped"]   # optional
    untested = "no DUT verb can observe the destination order"         # optional

A test covers an entry when it cites the entry's id (``@rfc(..., req="RFC1122-3.2.1.3-a")``),
cites the same (rfc, section, text), or is listed in ``tests`` (path relative to
conformance/, function name without parameters). ``check`` finds cited ids missing from the
catalog and entries that no test covers and that give no ``untested`` reason.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

LEVELS: Final = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY")
ROLES: Final = ("host", "router", "both")
ID: Final = re.compile(r"^RFC(\d+)-[A-Za-z0-9.]+-[a-z]+$")
_KEYS: Final = {"id", "section", "level", "role", "text", "tests", "untested", "rfc"}


class CatalogError(ValueError):
    """A catalog file is malformed; the message is one line naming file and problem."""


@dataclass(frozen=True)
class Entry:
    id: str
    rfc: int
    section: str
    level: str
    role: str
    text: str
    tests: tuple[str, ...] = ()
    untested: str | None = None


@dataclass(frozen=True)
class Citation:
    """What one collected conformance test cites."""

    test: str  # path relative to conformance/ :: function name, without [params]
    rfc: int
    section: str
    level: str
    text: str
    req: str | None = None


@dataclass
class Catalog:
    entries: list[Entry] = field(default_factory=list)
    titles: dict[int, str] = field(default_factory=dict)

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}

    def covering(self, citation: Citation) -> Entry | None:
        """The entry a citation maps to: by id, else by (rfc, section, text), else by test name."""
        if citation.req:
            return self.by_id().get(citation.req)
        for e in self.entries:
            if (e.rfc, e.section, e.text) == (citation.rfc, citation.section, citation.text):
                return e
        for e in self.entries:
            if citation.test in e.tests:
                return e
        return None

    def listing(self, test: str) -> list[Entry]:
        """Every entry that names ``test`` in its ``tests``: one test may check several entries
        (a requirement and the sub-checks it lists, or the same rule in two RFCs)."""
        return [e for e in self.entries if test in e.tests]


def load(directory: Path) -> Catalog:
    """Read every rfc*.toml in ``directory`` (CatalogError on any problem)."""
    catalog = Catalog()
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("rfc*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise CatalogError(f"{path}: cannot read the catalog file: {e}") from None
        number = data.get("rfc")
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise CatalogError(f"{path}: needs a top-level 'rfc = <number>'")
        catalog.titles[number] = str(data.get("title", ""))
        for n, raw in enumerate(data.get("requirement", []), 1):
            entry = _entry(path, n, number, raw)
            if entry.id in seen:
                raise CatalogError(f"{path}: requirement id {entry.id} is also defined in {seen[entry.id]}")
            seen[entry.id] = path
            catalog.entries.append(entry)
    return catalog


def _entry(path: Path, n: int, number: int, raw: Any) -> Entry:
    where = f"{path}: requirement #{n}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where} is not a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "section", "level", "role", "text"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise CatalogError(f"{where}: {key!r} must be a non-empty string")
    m = ID.match(raw["id"])
    if m is None or int(m.group(1)) != number:
        raise CatalogError(f"{where}: id {raw['id']!r} is not like 'RFC{number}-<section>-a'")
    if raw["level"] not in LEVELS:
        raise CatalogError(f"{where} ({raw['id']}): level {raw['level']!r} is not one of {', '.join(LEVELS)}")
    if raw["role"] not in ROLES:
        raise CatalogError(f"{where} ({raw['id']}): role {raw['role']!r} is not one of {', '.join(ROLES)}")
    tests = raw.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise CatalogError(f"{where} ({raw['id']}): tests must be a list of strings")
    untested = raw.get("untested")
    if untested is not None and (not isinstance(untested, str) or not untested.strip()):
        raise CatalogError(f"{where} ({raw['id']}): untested must be a non-empty reason")
    return Entry(raw["id"], number, raw["section"], raw["level"], raw["role"], raw["text"],
                 tuple(tests), untested)


def check(catalog: Catalog, citations: Iterable[Citation]) -> tuple[list[str], list[str]]:
    """(problems, notes). Problems fail the check: a cited id not in the catalog, an entry
    without a test and without an ``untested`` reason. An entry is covered by the test its
    citation maps to (``covering``) and by every collected test its ``tests`` lists. Notes: tests the catalog does not list
    yet (allowed, so a new test need not wait for its catalog entry)."""
    problems: list[str] = []
    notes: list[str] = []
    ids = catalog.by_id()
    covered: set[str] = set()
    for c in citations:
        if c.req and c.req not in ids:
            problems.append(f"{c.test} cites requirement id {c.req}, which is not in the catalog")
            continue
        entry = catalog.covering(c)
        if entry is None:
            notes.append(f"{c.test} (RFC {c.rfc} §{c.section}: {c.text}) has no catalog entry")
        else:
            covered.add(entry.id)
        covered.update(e.id for e in catalog.listing(c.test))
    for e in catalog.entries:
        if e.id not in covered and e.untested is None:
            problems.append(f"{e.id} (RFC {e.rfc} §{e.section}) has no test and no 'untested' reason")
    return problems, sorted(set(notes))


def slug(section: str) -> str:
    """The section part of an id: "3.2.1.3" stays, "Packet Reception" -> "PacketReception"."""
    if re.fullmatch(r"[0-9.]+[A-Za-z]?", section):
        return section
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", section))[:24] or "x"


def letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: the suffix of the n-th requirement of a section."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out
