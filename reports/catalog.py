"""The requirement catalog: every normative statement of the carried RFCs, each with a status.

conformance/requirements/rfc<N>.toml holds one ``[[statement]]`` per statement the extractor
finds in conformance/rfc/rfc<N>.txt (``reports.rfcs.statements``); the text and the level come
from the RFC, never from the catalog::

    rfc = 4861
    title = "Neighbor Discovery for IP version 6 (IPv6)"

    [[statement]]
    id = "RFC4861-7.1.1-1"           # RFC<n>-<section>-<ordinal in the section>
    digest = "5e1f0a2b"              # of the statement's text: an RFC or extractor change shows
    role = "host"                    # host, router or both
    untested = "no test sends ..."   # in scope, not tested yet: why ...
    needs = "a DUT verb that ..."    # ... and what a test would need
    scope = "tcp"                    # or: a category of scopes.toml (out of scope, and why)
    note = "..."                     # optional, for the reader

A statement's status is derived, never kept: **tested** when a conformance test cites its id
(which tests: their citations, no list kept here); otherwise **untested** with the entry's
reason, or **out of scope** with its scope's reason. For the host role (the DUT is a host) a
router-only statement is out of scope too. A scope of scopes.toml may also be in scope
(``untested`` and ``needs`` instead of ``reason``): switching one category in, as the TCP
suite will do for ``tcp``, is a change to that one table.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from reports.rfcs.index import StatementIndex, StatementUnknown
from reports.rfcs.library import RFCMissing
from reports.rfcs.quotes import describe
from reports.rfcs.statements import ID, Statement

ROLES: Final = ("host", "router", "both")
_KEYS: Final = {"id", "digest", "role", "untested", "needs", "scope", "note"}
ROUTER_ONLY: Final = "router-only: the DUT is a host"


class CatalogError(ValueError):
    """A catalog file is malformed; the message is one line naming file and problem."""


@dataclass(frozen=True)
class Scope:
    """A category of statements the suite does not test, or (in_scope) tests later."""

    key: str
    reason: str
    in_scope: bool = False
    needs: str = ""


@dataclass(frozen=True)
class Entry:
    id: str
    rfc: int
    role: str
    digest: str
    untested: str | None = None
    needs: str | None = None
    scope: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Status:
    kind: str  # "tested", "untested" or "out-of-scope"
    reason: str = ""
    needs: str = ""

    @property
    def in_scope(self) -> bool:
        return self.kind != "out-of-scope"


@dataclass(frozen=True)
class Citation:
    """What one collected conformance test cites (harness.rfc)."""

    test: str  # path relative to conformance/ :: function name, without [params]
    rfc: int
    section: str
    level: str
    text: str
    req: str | None = None  # the statement id
    quote: str | None = None  # the part of the statement the test checks
    described: bool = False  # @described: a behaviour without a keyword
    legacy: bool = False  # @rfc(number, section, level, text), not converted yet
    also: tuple[str, ...] = ()  # further statements the same check covers


@dataclass
class Catalog:
    index: StatementIndex
    entries: dict[str, Entry] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)

    def statements(self) -> list[Statement]:
        """Every statement of the RFCs the catalog has a file for, in RFC and text order."""
        return [s for n in sorted(self.titles) for s in self.index.of_rfc(n)]

    def status(self, statement: Statement, tested: bool, role: str = "host") -> Status:
        """The statement's status for a DUT of ``role`` ("host" or "router")."""
        entry = self.entries.get(statement.id)
        if entry is None:
            return Status("untested", "not in the catalog yet", "")
        if entry.role not in (role, "both"):
            return Status("out-of-scope", ROUTER_ONLY if role == "host" else "host-only: the DUT is a router")
        if entry.scope is not None:
            scope = self.scopes[entry.scope]
            if not scope.in_scope:
                return Status("out-of-scope", _joined(scope.reason, entry.note))
            return Status("tested") if tested else Status("untested", _joined(scope.reason, entry.note), scope.needs)
        if tested:
            return Status("tested")
        return Status("untested", entry.untested or "", entry.needs or "")


def _joined(reason: str, note: str | None) -> str:
    return f"{reason} ({note})" if note else reason


def digest(text: str) -> str:
    """Eight hex digits of the statement's text, whitespace collapsed."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:8]


PROJECT_SUITE: Final = Path(__file__).resolve().parents[1] / "conformance"


def load(directory: Path, index: StatementIndex | None = None) -> Catalog:
    """Read scopes.toml and every rfc*.toml in ``directory`` (CatalogError on any problem).
    ``index`` defaults to the statements of the suite the directory belongs to (its parent,
    when that holds the RFC texts in rfc/), else of the project's suite."""
    if index is None:
        suite = directory.parent if (directory.parent / "rfc").is_dir() else PROJECT_SUITE
        index = StatementIndex.of(suite)
    catalog = Catalog(index)
    catalog.scopes = _scopes(directory / "scopes.toml")
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("rfc*.toml")):
        data = _toml(path)
        number = data.get("rfc")
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise CatalogError(f"{path}: needs a top-level 'rfc = <number>'")
        catalog.titles[number] = str(data.get("title", ""))
        for n, raw in enumerate(data.get("statement", []), 1):
            entry = _entry(path, n, number, raw, catalog.scopes)
            if entry.id in seen:
                raise CatalogError(f"{path}: statement {entry.id} is also listed in {seen[entry.id]}")
            seen[entry.id] = path
            catalog.entries[entry.id] = entry
    return catalog


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CatalogError(f"{path}: cannot read the catalog file: {e}") from None


def _scopes(path: Path) -> dict[str, Scope]:
    scopes: dict[str, Scope] = {}
    for key, raw in _toml(path).items() if path.exists() else ():
        if not isinstance(raw, dict):
            raise CatalogError(f"{path}: [{key}] must be a table")
        if "reason" in raw:
            if not isinstance(raw["reason"], str) or set(raw) - {"reason"}:
                raise CatalogError(f"{path}: [{key}] has 'reason' (out of scope) and nothing else")
            scopes[key] = Scope(key, raw["reason"])
        elif isinstance(raw.get("untested"), str) and isinstance(raw.get("needs"), str):
            scopes[key] = Scope(key, raw["untested"], True, raw["needs"])
        else:
            raise CatalogError(f"{path}: [{key}] needs reason = \"...\" (out of scope) or untested and needs")
    return scopes


def _entry(path: Path, n: int, number: int, raw: Any, scopes: dict[str, Scope]) -> Entry:
    where = f"{path}: statement #{n}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where} is not a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "digest", "role"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise CatalogError(f"{where}: {key!r} must be a non-empty string")
    for key in ("untested", "needs", "scope", "note"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise CatalogError(f"{where} ({raw['id']}): {key!r} must be a non-empty string")
    m = ID.match(raw["id"])
    if m is None or int(m.group("rfc")) != number:
        raise CatalogError(f"{where}: id {raw['id']!r} is not like 'RFC{number}-<section>-<n>'")
    if raw["role"] not in ROLES:
        raise CatalogError(f"{where} ({raw['id']}): role {raw['role']!r} is not one of {', '.join(ROLES)}")
    if "scope" in raw and raw["scope"] not in scopes:
        raise CatalogError(f"{where} ({raw['id']}): scope {raw['scope']!r} is not in scopes.toml")
    if "scope" in raw and "untested" in raw:
        raise CatalogError(f"{where} ({raw['id']}): a statement is either out of scope or untested, not both")
    if ("untested" in raw) != ("needs" in raw):
        raise CatalogError(f"{where} ({raw['id']}): 'untested' (why) and 'needs' (what a test needs) go together")
    return Entry(raw["id"], number, raw["role"], raw["digest"], raw.get("untested"), raw.get("needs"),
                 raw.get("scope"), raw.get("note"))


def tested_ids(citations: Iterable[Citation]) -> set[str]:
    return {i for c in citations if c.req and not c.legacy for i in (c.req, *c.also)}


def check(catalog: Catalog, citations: Iterable[Citation]) -> list[str]:
    """Every problem, one line each: a statement without an entry or an entry without a
    statement, a statement whose text changed since its entry was written, a cited id that
    names nothing, a status that contradicts the tests (a tested statement with an untested
    reason or out of scope), an untested one without a reason, a citation not converted yet."""
    problems: list[str] = []
    cites = list(citations)
    tested = tested_ids(cites)
    statements = {s.id: s for s in catalog.statements()}
    for c in cites:
        if c.legacy:
            problems.append(f"{c.test}: cites RFC {c.rfc} §{c.section} by its text; cite the statement's id "
                            "(stackcheck catalog convert rewrites it)")
        else:
            problems += [f"{c.test}: cites {i}, which is not a statement of the catalog"
                         for i in (c.req, *c.also) if i and i not in statements]
    for sid, s in statements.items():
        entry = catalog.entries.get(sid)
        if entry is None:
            problems.append(f"{sid} (§{s.section} {s.level}) has no catalog entry (stackcheck catalog sync adds it)")
            continue
        if entry.digest != digest(s.text):
            problems.append(f"{sid}: the statement's text changed since its entry was written (digest "
                            f"{entry.digest}, now {digest(s.text)}): check its status and its tests, then the digest")
        cited = sid in tested
        if cited and entry.untested is not None:
            problems.append(f"{sid} is tested, but its entry still says untested: {entry.untested}")
        if cited and entry.scope is not None and not catalog.scopes[entry.scope].in_scope:
            problems.append(f"{sid} is tested, but its entry puts it out of scope ({entry.scope})")
        if not cited and entry.role != "router" and entry.scope is None and entry.untested is None:
            problems.append(f"{sid} (§{s.section} {s.level}) has no test, no 'untested' reason and no scope")
    for eid in catalog.entries:
        if eid not in statements:
            problems.append(f"{eid} is in the catalog but the RFC text has no such statement")
    return problems


def check_quotes(index: StatementIndex, citations: Iterable[Citation],
                 descriptive: frozenset[str] = frozenset()) -> list[str]:
    """Every quote a test carries occurs in its RFC, in the section it belongs to: the ``quote``
    of a statement citation in the statement's section, a described behaviour or a citation not
    converted yet in the section it names. A described behaviour that quotes a keyword
    statement is a problem too: it must cite the statement (unless the catalog judges that
    statement descriptive, not a requirement)."""
    problems: list[str] = []
    seen: dict[tuple[str, int, str, str], list[str]] = {}
    for c in citations:
        if c.req and not c.legacy:
            if c.quote is None:
                continue
            try:
                s = index.get(c.req)
            except StatementUnknown:
                continue  # reported by check()
            key = ("part", s.rfc, s.section, c.quote)
        else:
            key = ("described" if c.described else "legacy", c.rfc, c.section, c.text)
        if key not in seen:
            seen[key] = _quote_problems(index, descriptive, *key)
        problems += [f"{c.test}: {p}" for p in seen[key]]
    return problems


def _quote_problems(index: StatementIndex, descriptive: frozenset[str], kind: str, rfc: int, section: str,
                    quote: str) -> list[str]:
    try:
        finder = index.library.finder(rfc)
    except RFCMissing as e:
        return [str(e)]
    located = finder.locate(section, quote)
    if located.match is None:
        return [describe(located, finder.rfc)]
    if kind != "described":
        return []
    parts = located.match.parts or ((located.match.start, located.match.end),)
    inside = [s for s in index.of_rfc(rfc)
              if s.id not in descriptive and any(s.start < b and a < s.end for a, b in parts)]
    return [f"RFC {rfc} §{section}: the described quote lies in {s.id}, a keyword statement; cite it with "
            f'@rfc("{s.id}", quote=...)' for s in inside[:1]]


def section_key(section: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for section names: "7.2.10" after "7.2.9", named sections last."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"\.", section))
