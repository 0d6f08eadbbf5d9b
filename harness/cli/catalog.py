"""`stackcheck catalog check | sync | coverage | list | convert`: the requirement catalog and the suite.

    check     fails (exit 1) on any problem of reports.catalog.check and check_quotes: a
              statement without an entry, a status that contradicts the tests, an id or a quote
              that is not in the RFC text (conformance/rfc/), a citation not converted yet,
              a quote of an expectation file (conformance/expectations/) not in its section
    sync      adds an entry, proposed by conformance/requirements/rules.toml, for every
              statement the catalog lacks; --prune drops entries whose statement is gone
    coverage  statements, in scope and tested per RFC and overall (--json: for scripts)
    list      every statement with its status (--rfc N, --status tested|untested|out-of-scope)
    convert   rewrites @rfc(number, section, level, text) citations to statement ids
              (harness/citation_convert.py); --dry-run prints the plan only

Citations are read by collecting the suite with pytest (``--collect-only``) and the plugin.
The logic lives in reports/ and harness/citation_convert.py; this module only wires it up.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import deviations
from harness.citation_convert import Converter, apply
from harness.rfc import CitationError, requirement_of
from reports import catalog as cat
from reports import catalog_sync, coverage
from reports.rfcs.index import StatementIndex
from reports.rfcs.library import verify_cited


class CollectError(Exception):
    """The suite could not be collected; the message says where to look."""


class _Collector:
    def __init__(self, suite: Path) -> None:
        self.suite = suite
        self.citations: list[cat.Citation] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not item.path.is_relative_to(self.suite):
                continue
            name = item.nodeid.split("::", 1)[1].split("[", 1)[0]
            test = f"{item.path.relative_to(self.suite).as_posix()}::{name}"
            try:
                req = requirement_of(item)
            except CitationError as e:
                self.errors.append(f"{test}: {e}")
                continue
            if req is None:
                continue
            marker = item.get_closest_marker("rfc")
            legacy = marker is not None and "number" in marker.kwargs and not req.described
            self.citations.append(cat.Citation(test, req.rfc, req.section, req.level.value, req.text, req.id,
                                               req.quote, req.described, legacy, req.also))


def collect(suite: Path) -> tuple[list[cat.Citation], list[str]]:
    """Every citation of the suite's tests (one per test case) and the ids that name nothing."""
    collector = _Collector(suite)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={suite.parent}",
                            "-p", "no:stackcheck", str(suite)], plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        tail = " | ".join(line for line in out.getvalue().splitlines()[-5:] if line.strip())
        raise CollectError(f"collecting {suite} failed (pytest exit {int(code)}): {tail}")
    return collector.citations, collector.errors


def citations(suite: Path) -> list[cat.Citation]:
    return collect(suite)[0]


def check(suite: Path, directory: Path, index: StatementIndex | None = None) -> int:
    index = index or StatementIndex.of(suite)
    catalog = cat.load(directory, index)
    cited, unknown = collect(suite)
    descriptive = frozenset(e.id for e in catalog.entries.values() if e.scope == "descriptive")
    problems = unknown + cat.check(catalog, cited) + cat.check_quotes(index, cited, descriptive)
    expected, unreadable = _expectations(suite)
    problems += unreadable + verify_cited(index.library, expected)
    for problem in problems:
        print(f"error: {problem}")
    _, total = coverage.coverage(catalog, cat.tested_ids(cited))
    described = sum(1 for c in cited if c.described)
    print(f"catalog: {total.statements} statements of {len(catalog.titles)} RFCs, {total.in_scope} in scope for a "
          f"host, {total.tested} of them tested; {len({c.test for c in cited})} tests cite them "
          f"({described} cite a described behaviour); {len(problems)} problems")
    return 1 if problems else 0


def _expectations(suite: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(where, requirement) of every entry of the expectation files, whose quotes must verify
    too, and the files that do not load (one problem each)."""
    out: list[tuple[str, str]] = []
    problems: list[str] = []
    for path in sorted((suite / "expectations").glob("*.toml")):
        try:
            entries = deviations.load(path, suite)
        except ValueError as e:
            problems.append(str(e))
            continue
        out += [(f"{path.relative_to(suite.parent).as_posix()} {d.test}", d.rfc) for d in entries]
    return out, problems


def sync(suite: Path, directory: Path, prune: bool = False) -> int:
    index = StatementIndex.of(suite)
    catalog = cat.load(directory, index)
    rules = catalog_sync.load_rules(directory / "rules.toml")
    added, orphans = catalog_sync.sync(catalog, directory, rules, cat.tested_ids(citations(suite)),
                                       index.numbers(), catalog.titles, prune)
    for orphan in orphans:
        print(f"{'removed' if prune else 'no statement'}: {orphan}")
    print(f"stackcheck: {added} catalog entries added")
    return 0


def coverage_report(suite: Path, directory: Path, as_json: bool) -> int:
    catalog = cat.load(directory)
    tested = cat.tested_ids(citations(suite))
    if as_json:
        print(json.dumps(coverage.as_json(catalog, tested), indent=2))
        return 0
    per, total = coverage.coverage(catalog, tested)
    print(f"{'RFC':>6} {'statements':>10} {'in scope':>9} {'tested':>7}   MUST     SHOULD   MAY")
    for number, c in [*per.items(), (0, total)]:
        cells = [f"{c.by_level[g][1]:>3}/{c.by_level[g][0]:<4}" for g in coverage.LEVEL_GROUPS]
        print(f"{number or 'all':>6} {c.statements:>10} {c.in_scope:>9} {c.tested:>7}   {'  '.join(cells)}")
    return 0


def listing(suite: Path, directory: Path, rfc: int | None, status: str | None) -> int:
    catalog = cat.load(directory)
    for line in coverage.lines(catalog, cat.tested_ids(citations(suite))):
        s = line.statement
        if (rfc is not None and s.rfc != rfc) or (status is not None and line.status.kind != status):
            continue
        why = f" -- {line.status.reason}" if line.status.reason else ""
        needs = f" [needs: {line.status.needs}]" if line.status.needs else ""
        print(f"{s.id} {line.role} {s.level} {line.status.kind}{why}{needs}\n    {' '.join(s.text.split())}")
    return 0


def convert(suite: Path, dry_run: bool = False) -> int:
    catalog = cat.load(suite / "requirements")
    descriptive = frozenset(e.id for e in catalog.entries.values() if e.scope == "descriptive")
    changes = Converter(catalog.index, descriptive).plan(suite)
    for c in changes:
        where = f"{c.path.relative_to(suite)}:{c.line}"
        if c.new is None:
            print(f"{where}: convert by hand ({c.note}): {' '.join(c.old.split())[:120]}")
        elif c.note:
            print(f"{where}: review ({c.note}): {' '.join(c.new.split())[:120]}")
    if dry_run:
        print(f"stackcheck: {sum(c.new is not None for c in changes)} citations would be converted")
        return 0
    changed = apply(changes)
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if changed and ruff:  # imports of MUST/SHOULD/... that the converted citations no longer use
        subprocess.run([ruff, "check", "--fix", "--quiet", "--select", "F401,I001", *map(str, changed)], check=False)
    print(f"stackcheck: {sum(c.new is not None for c in changes)} citations converted in {len(changed)} files")
    return 0
