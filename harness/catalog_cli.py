"""`stackcheck catalog check | seed`: the requirement catalog against the tests' @rfc citations.

    check  fails (exit 1) when a test cites a requirement id the catalog lacks, a catalog
           entry has no test and no ``untested = "reason"``, or a quoted requirement (of a
           test or of the catalog) does not occur in its RFC (conformance/rfc/) in the section
           it names; lists tests without an entry.
    seed   appends an entry for every cited requirement the catalog lacks (to rfc<N>.toml),
           with a fresh id and the citing tests, so the catalog starts from what is tested.

Citations are read by collecting the suite with pytest (``--collect-only``) and the plugin.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from harness.rfc import requirement_of
from reports import catalog as cat
from reports.rfcs.library import Library, Quote, verify

ROUTER_RFCS = frozenset({1812})


class CollectError(Exception):
    """The suite could not be collected; the message says where to look."""


class _Collector:
    def __init__(self, suite: Path) -> None:
        self.suite, self.citations = suite, []  # type: ignore[var-annotated]

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            req = requirement_of(item)
            if req is None or not item.path.is_relative_to(self.suite):
                continue
            name = item.nodeid.split("::", 1)[1].split("[", 1)[0]
            test = f"{item.path.relative_to(self.suite).as_posix()}::{name}"
            self.citations.append(cat.Citation(test, req.rfc, req.section, req.level.value, req.text, req.id))


def citations(suite: Path) -> list[cat.Citation]:
    """Every @rfc citation of the suite's tests (one per test case, parameters merged later)."""
    collector = _Collector(suite)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={suite.parent}",
                            str(suite)], plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        tail = " | ".join(line for line in out.getvalue().splitlines()[-5:] if line.strip())
        raise CollectError(f"collecting {suite} failed (pytest exit {int(code)}): {tail}")
    return collector.citations


def check(suite: Path, directory: Path, texts: Path | None = None) -> int:
    catalog = cat.load(directory)
    cited = citations(suite)
    problems, notes = cat.check(catalog, cited)
    quotes = [Quote(f"catalog {e.id}", e.rfc, e.section, e.text) for e in catalog.entries]
    quotes += [Quote(c.test, c.rfc, c.section, c.text) for c in cited]
    problems += verify(Library(texts or suite / "rfc"), quotes)
    for note in notes:
        print(f"note: {note}")
    for problem in problems:
        print(f"error: {problem}")
    covered = len(catalog.entries) - sum(1 for e in catalog.entries if e.untested is not None)
    print(f"catalog: {len(catalog.entries)} requirements in {len(catalog.titles)} RFCs, "
          f"{covered} with tests, {len(catalog.entries) - covered} untested with a reason, "
          f"{len(notes)} tests without an entry, {len(problems)} problems")
    return 1 if problems else 0


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def seed(suite: Path, directory: Path) -> int:
    """Append entries for cited requirements the catalog does not cover yet; returns how many."""
    catalog = cat.load(directory) if directory.is_dir() else cat.Catalog()
    new: dict[tuple[int, str, str], dict[str, Any]] = {}
    for c in citations(suite):
        if c.req or catalog.covering(c) is not None:
            continue
        entry = new.setdefault((c.rfc, c.section, c.text), {"citation": c, "tests": []})
        if c.test not in entry["tests"]:
            entry["tests"].append(c.test)
    used = {e.id for e in catalog.entries}
    blocks: dict[int, list[str]] = {}
    for (number, section, text), entry in new.items():
        c = entry["citation"]
        n = 0
        while (ident := f"RFC{number}-{cat.slug(section)}-{cat.letters(n)}") in used:
            n += 1
        used.add(ident)
        role = "router" if number in ROUTER_RFCS else "host"
        blocks.setdefault(number, []).append(
            f"\n[[requirement]]\nid = {_toml(ident)}\nsection = {_toml(section)}\nlevel = {_toml(c.level)}\n"
            f"role = {_toml(role)}\ntext = {_toml(text)}\ntests = {_toml(entry['tests'])}\n")
    directory.mkdir(parents=True, exist_ok=True)
    for number, parts in sorted(blocks.items()):
        path = directory / f"rfc{number}.toml"
        head = "" if path.exists() else f"rfc = {number}\ntitle = \"\"\n"
        with path.open("a", encoding="utf-8") as f:
            f.write(head + "".join(parts))
        print(f"{path}: {len(parts)} new requirement(s)")
    return sum(len(p) for p in blocks.values())
